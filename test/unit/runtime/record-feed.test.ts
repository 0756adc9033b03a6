import { describe, expect, it } from 'vitest';
import type { IngestRecord } from '#shared/ingest/record';
import { FEED_OVERLAP_MS, RecordFeed } from '#local/runtime/record-feed';
import { receivedRecord } from '../../fixtures/records.ts';

function record(key: string, overrides: Partial<IngestRecord> = {}): IngestRecord {
  return { ...receivedRecord({}, key), ...overrides };
}

describe('RecordFeed', () => {
  it('reads everything once, then only what changed since the last look less the overlap, newest version kept', async () => {
    let clock = Date.parse('2026-11-26T12:00:00.000Z');
    const asked: string[] = [];
    const a = record('a.mp4', { version: 1 });
    const b = record('b.mp4', { version: 1 });
    let changes: IngestRecord[] = [];
    const feed = new RecordFeed(
      {
        all: () => Promise.resolve([a, b]),
        changedSince: (since) => {
          asked.push(since);
          return Promise.resolve(changes);
        },
      },
      () => clock,
    );
    expect((await feed.refresh()).map((entry) => entry.key)).toEqual(['a.mp4', 'b.mp4']);

    clock += 500;
    changes = [{ ...a, status: 'UPLOADED', version: 3 }, record('c.mp4', { version: 1 })];
    const second = await feed.refresh();
    expect(asked).toEqual([new Date(clock - 500 - FEED_OVERLAP_MS).toISOString()]);
    expect(second.map((entry) => `${entry.key} ${entry.status}`)).toEqual([
      'a.mp4 UPLOADED',
      'b.mp4 RECEIVED',
      'c.mp4 RECEIVED',
    ]);

    // An older write seen again in the overlap does not undo a newer one.
    clock += 500;
    changes = [{ ...a, status: 'CREATED', version: 2 }];
    expect((await feed.refresh()).find((entry) => entry.key === 'a.mp4')?.status).toBe('UPLOADED');
  });
});
