import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { DYNALITE_PARSE, rememberExpressionParses } from '#local/services/dynamodb/expression-parses';

const require = createRequire(import.meta.url);
type Parse = (input: string, options?: unknown) => unknown;
type ParserModule = { parse: Parse; [DYNALITE_PARSE]?: Parse };
const parsers = ['conditionParser', 'updateParser', 'projectionParser'].map(
  (name) => require(`dynalite/db/${name}`) as ParserModule,
);
const { validateExpressions } = require('dynalite/validations') as {
  validateExpressions: (data: Record<string, unknown>) => string | undefined;
};

type Request = Record<string, unknown>;
const EXPRESSION_RESULTS = ['_updates', '_condition', '_keyCondition', '_filter', '_projection'];

/** What dynalite's validation makes of a request's expressions: its error, or the parsed trees. */
function validate(request: Request): unknown {
  const data = structuredClone(request);
  const error = validateExpressions(data);
  return error ?? Object.fromEntries(EXPRESSION_RESULTS.map((name) => [name, data[name]]));
}

/** The same, through dynalite's own parsers. */
function validateAsDynalite(request: Request): unknown {
  const installed = parsers.map((parser) => parser.parse);
  for (const parser of parsers) parser.parse = parser[DYNALITE_PARSE] ?? parser.parse;
  try {
    return validate(request);
  } finally {
    parsers.forEach((parser, index) => (parser.parse = installed[index] as Parse));
  }
}

const S = (text: string) => ({ S: text });
const N = (number: number) => ({ N: String(number) });

/** Requests as the ingest sends them, each twice with other values, and the rest of the grammar. */
const requests: Request[] = [1, 2].flatMap((round) => [
  {
    UpdateExpression:
      'SET #status = :to, updatedAt = :at, statusChanged = :true, #version = #version + :one, #error = :error',
    ConditionExpression: '#status IN (:from0, :from1) AND fileId = :fileId',
    ExpressionAttributeNames: { '#status': 'status', '#version': 'version', '#error': 'error' },
    ExpressionAttributeValues: {
      ':to': S(`UPLOADED${round}`),
      ':at': S(`2026-12-07T00:00:0${round}Z`),
      ':true': { BOOL: round === 1 },
      ':one': N(round),
      ':error': { M: { code: S(`E${round}`) } },
      ':from0': S('CREATED'),
      ':from1': S('UPLOADING'),
      ':fileId': S(`vg_file_${round}`),
    },
  },
  {
    ConditionExpression: '#version = :expected',
    ExpressionAttributeNames: { '#version': 'version' },
    ExpressionAttributeValues: { ':expected': N(round * 7) },
  },
  { ConditionExpression: 'attribute_not_exists(pk)' },
  {
    UpdateExpression: 'REMOVE taskToken SET statusChanged = :false, #version = #version + :one',
    ConditionExpression: 'taskToken = :token',
    ExpressionAttributeNames: { '#version': 'version' },
    ExpressionAttributeValues: { ':false': { BOOL: false }, ':one': N(1), ':token': S(`token-${round}`) },
  },
  {
    UpdateExpression:
      'SET abandoned = list_append(abandoned, :ids), tags.#t = if_not_exists(tags.#t, :at), items[2] = :n ADD counts :set DELETE seen :set',
    ConditionExpression:
      'NOT (size(events) > :n) OR (begins_with(#k, :prefix) AND contains(tags, :at)) OR attribute_exists(a.b[1].c)',
    ExpressionAttributeNames: { '#t': `tag${round}`, '#k': 'key' },
    ExpressionAttributeValues: {
      ':ids': { L: [S(`old${round}`)] },
      ':at': S(`t${round}`),
      ':n': N(round),
      ':set': { SS: [`x${round}`] },
      ':prefix': S(`p${round}`),
    },
  },
  {
    KeyConditionExpression: '#status = :status AND updatedAt > :since',
    FilterExpression: 'attempts >= :attempts',
    ProjectionExpression: 'pk, #status, events.#e, abandoned[0]',
    ExpressionAttributeNames: { '#status': 'status', '#e': `file.ready${round}` },
    ExpressionAttributeValues: {
      ':status': S('READY'),
      ':since': S(`2026-0${round}`),
      ':attempts': N(round),
    },
  },
]);

describe('remembered expression parses', () => {
  beforeAll(() => rememberExpressionParses());

  it('give dynalite’s own trees, the request’s values in them, whatever a request parsed before', () => {
    for (const request of requests) expect(validate(request)).toEqual(validateAsDynalite(request));
    // Parsed again after all of them (every one remembered now), still the same.
    for (const request of requests) expect(validate(request)).toEqual(validateAsDynalite(request));
  });

  it('give each request a tree of its own, with its own value objects', () => {
    const data: Request = structuredClone(requests[1] as Request);
    validateExpressions(data);
    const again: Request = structuredClone(requests[1] as Request);
    validateExpressions(again);
    expect(again._condition).not.toBe(data._condition);
    const values = again.ExpressionAttributeValues as Record<string, unknown>;
    expect(JSON.stringify(again._condition)).toContain(JSON.stringify(values[':expected']));
    expect(
      (again._condition as { expression: { args: unknown[] } }).expression.args.includes(values[':expected']),
    ).toBe(true);
  });

  it('refuse what dynalite refuses, after the same expression parsed cleanly', () => {
    const add = (value: unknown) => ({
      UpdateExpression: 'ADD tally :v',
      ExpressionAttributeValues: { ':v': value },
    });
    const refusals: Request[] = [
      add(N(1)),
      // Another type for the same expression: not the remembered parse.
      add(S('one')),
      // A value the expression does not use.
      { ...add(N(1)), ExpressionAttributeValues: { ':v': N(1), ':unused': N(2) } },
      // A name it uses but the request does not define.
      { UpdateExpression: 'SET #a = :v', ExpressionAttributeValues: { ':v': N(1) } },
      {
        ConditionExpression: 'amount BETWEEN :low AND :high',
        ExpressionAttributeValues: { ':low': N(1), ':high': N(5) },
      },
      {
        ConditionExpression: 'amount BETWEEN :low AND :high',
        ExpressionAttributeValues: { ':low': N(5), ':high': N(1) },
      },
      { ConditionExpression: 'attribute_type(a, :t)', ExpressionAttributeValues: { ':t': S('S') } },
      { ConditionExpression: 'attribute_type(a, :t)', ExpressionAttributeValues: { ':t': S('STRING') } },
      { ConditionExpression: 'a = = :v', ExpressionAttributeValues: { ':v': N(1) } },
    ];
    const answers = refusals.map((request) => [validate(request), validateAsDynalite(request)]);
    for (const [remembered, dynalites] of answers) expect(remembered).toEqual(dynalites);
    expect(answers.filter(([answer]) => typeof answer === 'string')).toHaveLength(6);
  });
});
