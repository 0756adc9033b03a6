import { describe, expect, it } from 'vitest';
import { LiveProgress, StatusReporter } from '#local/runtime/progress';
import type { IngestRecord } from '#shared/ingest/record';
import { receivedRecord } from '../fixtures/records.ts';

const ESC = '\u001b';

function recorded(key: string, overrides: Partial<IngestRecord>): IngestRecord {
  return { ...receivedRecord({}, key), size: 100_000_000, ...overrides };
}

describe('progress of start and run', () => {
  it('on a terminal, redraws one line per file in place, with bytes and rate while it transfers', () => {
    const written: string[] = [];
    const startedAt = 1_000_000;
    const view = new LiveProgress(
      { write: (text: string) => written.push(text), rows: 40 },
      (record) => (record.status === 'CREATED' ? { bytes: 25_000_000, startedAt } : undefined),
      () => startedAt + 500,
    );
    const uploading = recorded('big.mp4', { status: 'CREATED', fileId: 'vg_file_big' });
    const ready = recorded('small.png', { status: 'READY', fileId: 'vg_file_small' });
    view.report([uploading, ready]);
    expect(written[0]).toBe(
      [
        `${ESC}[2K2 files: 1 CREATED, 1 READY`,
        `${ESC}[2K  CREATED         big.mp4  25.0 MB of 100.0 MB 25%, 50.0 MB/s`,
        `${ESC}[2K  READY           small.png  vg_file_small`,
        '',
      ].join('\n'),
    );
    view.report([{ ...uploading, status: 'UPLOADED' }, ready]);
    // The second frame starts by moving up over the three lines of the first.
    expect(written[1]?.startsWith(`${ESC}[3A${ESC}[2K2 files: 1 UPLOADED, 1 READY`)).toBe(true);
    expect(written[1]).toContain('UPLOADED        big.mp4  vg_file_big');
  });

  it("shows each stream subscriber's deliveries under the count, and only what happened", () => {
    const written: string[] = [];
    const view = new LiveProgress({ write: (text: string) => written.push(text), rows: 40 }, () => undefined);
    view.report(
      [recorded('a.png', { status: 'READY', fileId: 'vg_file_a' })],
      [
        { label: 'Announcer', delivered: 20, failedInvocations: 0, sentToOnFailure: 0, backlog: 0 },
        { label: 'Auditor', delivered: 118, failedInvocations: 3, sentToOnFailure: 1, backlog: 4 },
      ],
    );
    expect(written[0]?.split('\n')[1]).toBe(
      `${ESC}[2Ksubscribers: Announcer 20 delivered · Auditor 118 delivered, 3 failed batches, 1 to its on-failure queue, 4 waiting`,
    );
  });

  it("writes the runtime's own lines above the progress, then the progress again", () => {
    const written: string[] = [];
    const view = new LiveProgress({ write: (text: string) => written.push(text) }, () => undefined);
    view.report([recorded('a.png', { status: 'READY', fileId: 'vg_file_a' })]);
    view.note('[runtime] execution a SUCCEEDED');
    expect(written.slice(1).join('')).toBe(
      `${ESC}[2A${ESC}[0J[runtime] execution a SUCCEEDED\n` +
        `${ESC}[2K1 file: 1 READY\n${ESC}[2K  READY           a.png  vg_file_a\n`,
    );
  });

  it('writes one line of its own for each file whose workflow ended, once, above the view', () => {
    const written: string[] = [];
    const view = new LiveProgress({ write: (text: string) => written.push(text), rows: 40 }, () => undefined);
    const moving = recorded('moving.mp4', { status: 'UPLOADED', fileId: 'vg_file_m' });
    const done = recorded('done.png', {
      status: 'READY',
      fileId: 'vg_file_d',
      readyAt: '2026-11-26T10:00:00.000Z',
    });
    const failed = recorded('bad.mp4', { status: 'FAILED', error: { code: 'X', message: 'broke' } });
    view.report([moving, done, failed]);
    view.report([moving, done, failed]);
    const permanent = written
      .join('')
      .split('\n')
      .filter((line) => !line.includes(`${ESC}[2K`));
    expect(permanent.filter((line) => line.endsWith('done.png: READY (vg_file_d)'))).toHaveLength(1);
    expect(permanent.filter((line) => line.endsWith('bad.mp4: FAILED (X: broke)'))).toHaveLength(1);
    expect(permanent.join('\n')).not.toContain('moving.mp4');
  });

  it('elsewhere, prints a plain line only when a status changes', () => {
    const lines: string[] = [];
    const reporter = new StatusReporter((line) => lines.push(line));
    const record = recorded('a.mp4', { status: 'CREATED', fileId: 'vg_file_a' });
    reporter.report([record]);
    reporter.report([record]);
    reporter.report([{ ...record, status: 'FAILED', error: { code: 'X', message: 'broke' } }]);
    expect(lines.map((line) => line.slice(9))).toEqual([
      'a.mp4: CREATED (vg_file_a)',
      'a.mp4: FAILED (X: broke)',
    ]);
    expect(lines.join('')).not.toContain(ESC);
  });
});
