import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IngestRecord } from '#shared/ingest/record';
import { FEED_OVERLAP_MS, RecordFeed, reportEvery } from '#local/runtime/record-feed';
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

describe('reportEvery', () => {
  afterEach(() => vi.useRealTimers());

  it('reports each look, and never starts a look while the last one still runs', async () => {
    vi.useFakeTimers();
    const a = record('a.mp4', { version: 1 });
    let looks = 0;
    let finishLook: (() => void) | undefined;
    const feed = new RecordFeed({
      all: () => {
        looks += 1;
        // The first look outlasts several intervals, as a read of a large table can.
        return new Promise((resolve) => (finishLook = () => resolve([a])));
      },
      changedSince: () => {
        looks += 1;
        return Promise.resolve([]);
      },
    });
    const reported: string[][] = [];
    const reporting = reportEvery(
      feed,
      250,
      (records) => reported.push(records.map((entry) => entry.key)),
      (error) => {
        throw error;
      },
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(looks).toBe(1);
    expect(reported).toEqual([]);

    finishLook?.();
    await vi.advanceTimersByTimeAsync(250);
    expect(reported).toEqual([['a.mp4'], ['a.mp4']]);
    expect(looks).toBe(2);

    reporting.stop();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(looks).toBe(2);
  });

  it('hands a failed look to onError and keeps looking', async () => {
    vi.useFakeTimers();
    let fail = true;
    const errors: unknown[] = [];
    const reported: number[] = [];
    const feed = new RecordFeed({
      all: () => (fail ? Promise.reject(new Error('table gone')) : Promise.resolve([])),
      changedSince: () => Promise.resolve([]),
    });
    const reporting = reportEvery(
      feed,
      100,
      (records) => reported.push(records.length),
      (error) => errors.push(error),
    );
    await vi.advanceTimersByTimeAsync(100);
    fail = false;
    await vi.advanceTimersByTimeAsync(100);
    reporting.stop();
    expect(errors.map((error) => (error as Error).message)).toEqual(['table gone']);
    expect(reported).toEqual([0]);
  });
});
