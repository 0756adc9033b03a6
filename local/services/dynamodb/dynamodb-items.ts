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

const SET_TYPES = new Set(['SS', 'NS', 'BS']);

/** A set's member, or a binary value, as comparable text: binary as its base64. */
function memberText(value: unknown): string {
  return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : String(value);
}

/**
 * Whether two attribute values are the same: maps whatever their key order, sets whatever
 * their members' order, lists in order. Compared in place, stopping at the first difference:
 * every streamed write is compared with the item it replaced, most of them differing early.
 */
function sameValue(a: unknown, b: unknown, isSet: boolean): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) return memberText(a) === memberText(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    if (isSet) {
      const sortedB = b.map(memberText).sort();
      return a
        .map(memberText)
        .sort()
        .every((member, index) => member === sortedB[index]);
    }
    return a.every((member, index) => sameValue(member, b[index], false));
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  const bRecord = b as Record<string, unknown>;
  return aKeys.every(
    (key) =>
      Object.hasOwn(bRecord, key) &&
      sameValue((a as Record<string, unknown>)[key], bRecord[key], SET_TYPES.has(key)),
  );
}

export function sameItem(a: Item | undefined, b: Item | undefined): boolean {
  if (!a || !b) return a === b;
  return sameValue(a, b, false);
}
