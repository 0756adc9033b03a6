/**
 * What the stream reads of a DynamoDB item: its size by DynamoDB's rules (what a stream
 * record's `SizeBytes` says) and whether two images are the same item (a write that changes
 * nothing yields no record).
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';

export type Item = Record<string, AttributeValue>;

/** An item's size by DynamoDB's rules: each attribute's name plus its value. */
function valueSize(value: AttributeValue): number {
  if (value.S !== undefined) return Buffer.byteLength(value.S);
  if (value.N !== undefined) return Math.ceil(value.N.replace(/^-|\.|^0+/g, '').length / 2) + 1;
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS) return value.SS.reduce((sum, item) => sum + Buffer.byteLength(item), 0);
  if (value.NS) return value.NS.reduce((sum, item) => sum + valueSize({ N: item }), 0);
  if (value.BS) return value.BS.reduce((sum, item) => sum + item.length, 0);
  if (value.L) return 3 + value.L.reduce((sum, item) => sum + 1 + valueSize(item), 0);
  if (value.M) return 3 + itemSize(value.M);
  return 0;
}

export function itemSize(item: Item | undefined): number {
  if (!item) return 0;
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + valueSize(value),
    0,
  );
}

/** An item as comparable text: attributes, and the members of sets, in a fixed order. */
function canonical(value: unknown, isSet = false): string {
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value).toString('base64'));
  if (Array.isArray(value)) {
    const members = (value as unknown[]).map((member) => canonical(member));
    return `[${(isSet ? members.sort() : members).join(',')}]`;
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item, ['SS', 'NS', 'BS'].includes(key))}`).join(',')}}`;
}

export function sameItem(a: Item | undefined, b: Item | undefined): boolean {
  if (!a || !b) return a === b;
  return canonical(a) === canonical(b);
}
