import { describe, expect, it } from 'vitest';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { sameItem, type Item } from '#local/services/dynamodb/dynamodb-items';

/** Binary as it arrives on the wire (base64 text), where the SDK's type has bytes. */
const wireBinary = (base64: string) => ({ B: base64 }) as unknown as AttributeValue;

const record: Item = {
  pk: { S: 'SRC#drop/a.mp4#v1' },
  version: { N: '3' },
  events: {
    M: {
      'file.upload.completed': { S: '2026-12-07T10:00:00Z' },
      'file.download_ready': { S: '2026-12-07T10:00:01Z' },
    },
  },
  tags: { SS: ['b', 'a', 'c'] },
  sizes: { NS: ['1', '2'] },
  history: { L: [{ S: 'RECEIVED' }, { S: 'CREATED' }] },
  digest: wireBinary('AAEC'),
  file: { NULL: true },
};

describe('sameItem (a write that changes nothing makes no stream record)', () => {
  it('finds an item the same whatever the order of its attributes, map members and set members', () => {
    const reordered: Item = {
      file: { NULL: true },
      digest: { B: new Uint8Array([0, 1, 2]) },
      history: { L: [{ S: 'RECEIVED' }, { S: 'CREATED' }] },
      sizes: { NS: ['2', '1'] },
      tags: { SS: ['c', 'a', 'b'] },
      events: {
        M: {
          'file.download_ready': { S: '2026-12-07T10:00:01Z' },
          'file.upload.completed': { S: '2026-12-07T10:00:00Z' },
        },
      },
      version: { N: '3' },
      pk: { S: 'SRC#drop/a.mp4#v1' },
    };
    expect(sameItem(record, reordered)).toBe(true);
    expect(sameItem(record, structuredClone(record))).toBe(true);
  });

  it('tells apart any change: a value, a member, a list order, an attribute added or removed', () => {
    const changed: Item[] = [
      { ...record, version: { N: '4' } },
      { ...record, events: { M: { 'file.upload.completed': { S: '2026-12-07T10:00:00Z' } } } },
      { ...record, tags: { SS: ['a', 'b', 'd'] } },
      { ...record, tags: { SS: ['a', 'b'] } },
      { ...record, history: { L: [{ S: 'CREATED' }, { S: 'RECEIVED' }] } },
      { ...record, digest: { B: new Uint8Array([0, 1, 3]) } },
      { ...record, file: { M: {} } },
      { ...record, taskToken: { S: 'token' } },
      Object.fromEntries(Object.entries(record).filter(([name]) => name !== 'file')),
      // The same text under another type is another value.
      { ...record, version: { S: '3' } },
    ];
    for (const item of changed) {
      expect(sameItem(record, item)).toBe(false);
      expect(sameItem(item, record)).toBe(false);
    }
  });

  it('an item is never the same as none; none is the same as none', () => {
    expect(sameItem(record, undefined)).toBe(false);
    expect(sameItem(undefined, record)).toBe(false);
    expect(sameItem(undefined, undefined)).toBe(true);
  });
});
