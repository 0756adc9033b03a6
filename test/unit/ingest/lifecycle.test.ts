import { describe, expect, it } from 'vitest';
import { applyObservation, MAX_INLINE_TEXT, snapshotOf, type Observation } from '#shared/ingest/lifecycle';
import type { Readiness } from '#shared/config';
import { receivedRecord, videoGenFile } from '../../fixtures/records.ts';

const FILE = 'vg_file_1';
const created = receivedRecord({ status: 'UPLOADING', fileId: FILE, attempts: 1 });

function observe(
  eventType: string | undefined,
  stage: Parameters<typeof videoGenFile>[1],
  at = '2026-11-24T10:01:00.000Z',
): Observation {
  return { ...(eventType ? { eventType } : {}), file: videoGenFile(FILE, stage), at };
}

function replay(observations: Observation[], readiness: Readiness = 'download', record = created) {
  return observations.reduce(
    (current, observation) => applyObservation(current, observation, readiness).record,
    record,
  );
}

describe('applyObservation', () => {
  it('moves UPLOADING to UPLOADED on upload.completed, recording when the event was first seen', () => {
    const applied = applyObservation(created, observe('file.upload.completed', 'processing'), 'download');

    expect(applied).toMatchObject({ changed: true, ready: false, failed: false });
    expect(applied.record).toMatchObject({
      status: 'UPLOADED',
      events: { 'file.upload.completed': '2026-11-24T10:01:00.000Z' },
      updatedAt: '2026-11-24T10:01:00.000Z',
      readyAt: null,
    });
  });

  it('is READY at download_ready by default, and keeps enriching after it', () => {
    const ready = replay([
      observe('file.upload.completed', 'processing'),
      observe('file.playback_ready', 'playback'),
      observe('file.download_ready', 'ready', '2026-11-24T10:02:00.000Z'),
    ]);
    expect(ready).toMatchObject({ status: 'READY', readyAt: '2026-11-24T10:02:00.000Z' });

    const analyzed = applyObservation(
      ready,
      observe('file.analysis_completed', 'analyzed', '2026-11-24T10:03:00.000Z'),
      'download',
    );
    expect(analyzed.record).toMatchObject({ status: 'ANALYZED', readyAt: '2026-11-24T10:02:00.000Z' });
    expect(Object.keys(analyzed.record.events)).toHaveLength(4);
  });

  it.each<[Readiness, string]>([
    ['upload', 'file.upload.completed'],
    ['playback', 'file.playback_ready'],
    ['download', 'file.download_ready'],
    ['analysis', 'file.analysis_completed'],
  ])('with readiness %s, is ready first at %s', (readiness, eventType) => {
    const order: [string, Parameters<typeof videoGenFile>[1]][] = [
      ['file.upload.completed', 'processing'],
      ['file.playback_ready', 'playback'],
      ['file.download_ready', 'ready'],
      ['file.analysis_completed', 'analyzed'],
    ];
    let record = created;
    for (const [type, fileStage] of order) {
      const applied = applyObservation(record, observe(type, fileStage), readiness);
      expect(applied.ready, `${type} under ${readiness}`).toBe(
        order.findIndex(([t]) => t === type) >= order.findIndex(([t]) => t === eventType),
      );
      record = applied.record;
    }
  });

  it('falls back to download for an image under playback, and for a temporary file under analysis', () => {
    const image = { ...created, type: 'IMAGE' as const };
    expect(applyObservation(image, observe('file.download_ready', 'ready'), 'playback').ready).toBe(true);
    const temporary = { ...created, isTemporary: true };
    expect(applyObservation(temporary, observe('file.download_ready', 'ready'), 'analysis').ready).toBe(true);
    expect(applyObservation(created, observe('file.download_ready', 'ready'), 'analysis').ready).toBe(false);
  });

  it('ends the same whatever order the events arrive in, and duplicates change nothing', () => {
    const events = [
      observe('file.upload.completed', 'processing', '2026-11-24T10:01:00.000Z'),
      observe('file.playback_ready', 'playback', '2026-11-24T10:01:01.000Z'),
      observe('file.download_ready', 'ready', '2026-11-24T10:01:02.000Z'),
      observe('file.analysis_failed', 'ready', '2026-11-24T10:01:03.000Z'),
    ];
    const inOrder = replay(events);
    const reversed = replay([...events].reverse());
    expect(reversed.status).toBe(inOrder.status);
    expect(reversed.status).toBe('ANALYSIS_FAILED');
    expect(reversed.file).toEqual(inOrder.file);

    const again = applyObservation(inOrder, events[2] as Observation, 'download');
    expect(again.changed).toBe(false);
    expect(again.record).toBe(inOrder);
  });

  it('never lets an older file object replace a newer one', () => {
    const ready = replay([observe('file.download_ready', 'ready')]);
    const late = applyObservation(ready, observe('file.upload.completed', 'processing'), 'download');

    expect(late.record.file).toMatchObject({ status: 'READY' });
    expect(late.record.status).toBe('READY');
  });

  it('derives milestones from a polled file object with no event', () => {
    const polled = applyObservation(created, observe(undefined, 'ready'), 'download');
    expect(polled.record).toMatchObject({ status: 'READY', events: {} });
    expect(polled.ready).toBe(true);
  });

  it('records FAILED with a reason when VideoGen fails the file', () => {
    const failed = applyObservation(created, observe(undefined, 'failed'), 'download');
    expect(failed).toMatchObject({ failed: true, ready: false });
    expect(failed.record).toMatchObject({ status: 'FAILED', error: { code: 'VIDEOGEN_PROCESSING_FAILED' } });
  });

  it('never moves a terminal status, but still keeps what it learns', () => {
    const timedOut = { ...created, status: 'TIMED_OUT' as const };
    const late = applyObservation(timedOut, observe('file.download_ready', 'ready'), 'download');
    expect(late.record.status).toBe('TIMED_OUT');
    expect(late.record.events).toHaveProperty('file.download_ready');
    expect(late.ready).toBe(false);
  });

  it('ignores events of a file this source abandoned', () => {
    const stale = applyObservation(
      created,
      { eventType: 'file.download_ready', file: videoGenFile('vg_file_old', 'ready'), at: 'x' },
      'download',
    );
    expect(stale.changed).toBe(false);
  });

  it('keeps long text out of the stored file object, and says so', () => {
    const snapshot = snapshotOf(
      videoGenFile(FILE, 'analyzed', {
        analysis: { status: 'COMPLETED', description: 'd'.repeat(MAX_INLINE_TEXT + 1), transcript: 't' },
      }),
    );
    expect(snapshot.analysis).toEqual({ status: 'COMPLETED' });
    expect(snapshot.omitted).toEqual(['analysis.transcript', 'analysis.description']);
    expect(
      snapshotOf(
        videoGenFile(FILE, 'analyzed', {
          analysis: { status: 'COMPLETED', description: 'short', transcript: null },
        }),
      ).analysis,
    ).toEqual({
      status: 'COMPLETED',
      description: 'short',
      transcript: null,
    });
  });
});
