/**
 * SQS's query protocol (form-encoded `Action=…` in, XML out): what the AWS CLI v2 before
 * 2.13 and older SDKs speak to SQS, where current SDKs speak JSON. The local SQS API takes
 * both, translating a query request into the JSON operation's input and its result back
 * into the XML SQS answers. Hand-written: the translation is SQS's naming rules (flattened
 * lists as `Name.N`, `Attribute` name/value pairs, singular member names), which no XML
 * library knows; the XML itself is a handful of elements.
 */
import { randomUUID } from 'node:crypto';
import type { QueryProtocol } from '../../http/json-api.ts';
import { xmlEscape } from '../../http/xml.ts';

const NAMESPACE = 'http://queue.amazonaws.com/doc/2012-11-05/';

/** `AttributeName.1=All&AttributeName.2=…` -> `{ AttributeNames: ['All', …] }`, the JSON shape. */
function bodyOf(params: URLSearchParams): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const lists = new Map<string, string[]>();
  for (const [name, value] of params) {
    if (name === 'Action' || name === 'Version') continue;
    const member = /^([A-Za-z]+)\.(\d+)$/.exec(name);
    if (member?.[1]) {
      const list = lists.get(member[1]) ?? [];
      list[Number(member[2]) - 1] = value;
      lists.set(member[1], list);
    } else body[name] = value;
  }
  // The JSON protocol names lists in the plural (AttributeNames, MessageAttributeNames).
  // (Object.values drops the holes a skipped number leaves.)
  for (const [name, list] of lists) body[`${name}s`] = Object.values(list);
  return body;
}

/** A JSON result as SQS's XML: maps as Attribute name/value pairs, lists by their singular member. */
function toXml(name: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) {
    const member = name.endsWith('s') ? name.slice(0, -1) : name;
    return value.map((entry) => toXml(member, entry)).join('');
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (name === 'Attributes') {
      return entries
        .map(
          ([key, entry]) =>
            `<Attribute><Name>${xmlEscape(key)}</Name><Value>${xmlEscape(String(entry))}</Value></Attribute>`,
        )
        .join('');
    }
    return `<${name}>${entries.map(([key, entry]) => toXml(key, entry)).join('')}</${name}>`;
  }
  const scalar = value as string | number | boolean;
  return `<${name}>${xmlEscape(`${scalar}`)}</${name}>`;
}

export const SQS_QUERY_PROTOCOL: QueryProtocol = {
  request: (params) => ({ operation: params.get('Action') ?? '', body: bodyOf(params) }),
  response: (operation, result) => {
    const fields = Object.entries((result ?? {}) as Record<string, unknown>)
      .map(([key, value]) => toXml(key, value))
      .join('');
    return `<?xml version="1.0"?><${operation}Response xmlns="${NAMESPACE}"><${operation}Result>${fields}</${operation}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${operation}Response>`;
  },
  error: (type, message) =>
    `<?xml version="1.0"?><ErrorResponse xmlns="${NAMESPACE}"><Error><Type>Sender</Type><Code>${xmlEscape(type)}</Code><Message>${xmlEscape(message)}</Message><Detail/></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
};
