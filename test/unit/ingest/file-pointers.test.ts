import type { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createSourceFinder } from '#shared/ingest/file-pointers';

/** A table of pointers whose eventually consistent reads miss those in `fresh` (written a moment ago). */
function pointerTable(pointers: Record<string, string>, fresh: readonly string[] = []) {
  const reads: { fileId: string; consistent: boolean }[] = [];
  const client = {
    send: (command: GetCommand) => {
      const fileId = String(command.input.Key?.pk).replace(/^FILE#/, '');
      const consistent = command.input.ConsistentRead === true;
      reads.push({ fileId, consistent });
      const sourcePk = !consistent && fresh.includes(fileId) ? undefined : pointers[fileId];
      return Promise.resolve({
        Item: sourcePk
          ? { pk: `FILE#${fileId}`, kind: 'file-pointer', sourcePk, createdAt: '2026-01-01T00:00:00Z' }
          : undefined,
      });
    },
  } as unknown as DynamoDBDocumentClient;
  return { store: { client, tableName: 'ingest' }, reads };
}

describe('the webhook’s source finder', () => {
  it('reads a file’s pointer once (eventually consistent), then answers from what it kept', async () => {
    const { store, reads } = pointerTable({ vg_a: 'SRC#a' });
    const find = createSourceFinder(store);
    expect(await find('vg_a')).toBe('SRC#a');
    expect(await find('vg_a')).toBe('SRC#a');
    expect(reads).toEqual([{ fileId: 'vg_a', consistent: false }]);
  });

  it('reads a pointer the cheap read missed again consistently, and never keeps a file of no source', async () => {
    const { store, reads } = pointerTable({ vg_new: 'SRC#new' }, ['vg_new']);
    const find = createSourceFinder(store);
    expect(await find('vg_new')).toBe('SRC#new');
    expect(await find('vg_other')).toBeUndefined();
    expect(await find('vg_other')).toBeUndefined();
    expect(reads.filter((read) => read.fileId === 'vg_new')).toEqual([
      { fileId: 'vg_new', consistent: false },
      { fileId: 'vg_new', consistent: true },
    ]);
    expect(reads.filter((read) => read.fileId === 'vg_other')).toHaveLength(4);
  });

  it('keeps at most its capacity, dropping the least recently used', async () => {
    const { store, reads } = pointerTable({ vg_1: 'SRC#1', vg_2: 'SRC#2', vg_3: 'SRC#3' });
    const find = createSourceFinder(store, 2);
    await find('vg_1');
    await find('vg_2');
    await find('vg_1'); // vg_2 is now the least recently used
    await find('vg_3');
    reads.length = 0;
    await find('vg_1');
    await find('vg_2');
    expect(reads.map((read) => read.fileId)).toEqual(['vg_2']);
  });
});
