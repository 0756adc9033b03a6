import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  entered,
  ingestChangeOf,
  INGEST_SCHEMA_VERSION,
  type IngestChange,
  type IngestRecord,
} from 'videogen-ingest/record';
import { announce, catalogEntryOf } from '../../../examples/stream-consumer/catalog.ts';
import { receivedRecord } from '../../fixtures/records.ts';
import { streamEvent, streamRecord } from '../../fixtures/stream-events.ts';
import { lambdaContext } from '../../helpers/webhook-handler.ts';

function changeOf(record: Parameters<typeof ingestChangeOf>[0]): IngestChange {
  const change = ingestChangeOf(record);
  if (!change) throw new Error('not an ingest change');
  return change;
}

function readyRecord(base: IngestRecord): IngestRecord {
  return {
    ...base,
    status: 'READY',
    fileId: 'vg_file_1',
    readyAt: '2026-11-24T10:01:30.000Z',
    file: {
      fileId: 'vg_file_1',
      status: 'READY',
      sources: { hlsSource: null, downloadUrl: 'https://cdn.videogen.io/f/1.mp4' },
    },
  };
}

describe('reading the stream with the published schema', () => {
  const uploaded: IngestRecord = { ...receivedRecord(), status: 'UPLOADED', fileId: 'vg_file_1' };

  it('gives the record before and after a change', () => {
    const change = ingestChangeOf(streamRecord('MODIFY', uploaded, readyRecord(uploaded)));
    expect(change?.previous?.status).toBe('UPLOADED');
    expect(change?.current?.status).toBe('READY');
    expect(change && entered(change, 'READY')).toBe(true);
  });

  it('skips items that are not ingest records (file pointers, webhook dedupe entries)', () => {
    const pointer = { pk: 'FILE#vg_file_1', kind: 'file-pointer', sourcePk: uploaded.pk, createdAt: 'x' };
    expect(ingestChangeOf(streamRecord('INSERT', undefined, pointer))).toBeUndefined();
    const dedupe = { pk: 'webhook#w1', deliveryStatus: 'COMPLETED', expiresAt: 1 };
    expect(ingestChangeOf(streamRecord('INSERT', undefined, dedupe))).toBeUndefined();
  });

  it('names the schema version it cannot read, instead of guessing', () => {
    const future = { ...readyRecord(uploaded), schemaVersion: INGEST_SCHEMA_VERSION + 1 };
    expect(() => ingestChangeOf(streamRecord('MODIFY', uploaded, future))).toThrow(
      /ingest record schemaVersion 2, this consumer reads 1/,
    );
  });
});

describe('the example catalog consumer', () => {
  const uploaded: IngestRecord = {
    ...receivedRecord({}, 'clips/b.mp4'),
    status: 'UPLOADED',
    fileId: 'vg_file_1',
  };

  it('announces a file once, when it enters READY', async () => {
    const published: unknown[] = [];
    const deps = {
      publish: (entry: unknown) => {
        published.push(entry);
        return Promise.resolve();
      },
    };
    const ready = readyRecord(uploaded);
    expect(await announce(deps, changeOf(streamRecord('MODIFY', uploaded, ready)))).toBe(true);
    // A later change while READY (a new event recorded) is not a new announcement.
    const again = { ...ready, events: { ...ready.events, 'file.playback_ready': 'later' } };
    expect(await announce(deps, changeOf(streamRecord('MODIFY', ready, again)))).toBe(false);
    expect(published).toEqual([
      {
        fileId: 'vg_file_1',
        source: `s3://${uploaded.bucket}/clips/b.mp4`,
        displayName: uploaded.displayName,
        type: uploaded.type,
        downloadUrl: 'https://cdn.videogen.io/f/1.mp4',
        readyAt: '2026-11-24T10:01:30.000Z',
      },
    ]);
  });

  it('announces a file that went from UPLOADED straight to ANALYZED once, and not again when READY moves to ANALYZED', () => {
    const ready = readyRecord(uploaded);
    const analyzed = { ...ready, status: 'ANALYZED' as const };
    expect(catalogEntryOf(changeOf(streamRecord('MODIFY', uploaded, analyzed)))?.fileId).toBe('vg_file_1');
    expect(catalogEntryOf(changeOf(streamRecord('MODIFY', ready, analyzed)))).toBeUndefined();
  });

  it('ignores failures and removals', () => {
    const failed = { ...uploaded, status: 'FAILED' as const, error: { code: 'X', message: 'y' } };
    expect(catalogEntryOf(changeOf(streamRecord('MODIFY', uploaded, failed)))).toBeUndefined();
    expect(catalogEntryOf(changeOf(streamRecord('REMOVE', uploaded, undefined)))).toBeUndefined();
  });
});

describe('the example consumer handler on a stream batch', () => {
  let server: http.Server;
  const received: unknown[] = [];
  beforeAll(async () => {
    server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        if (body.includes('refused')) {
          response.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body));
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    vi.stubEnv('CATALOG_URL', `http://127.0.0.1:${String((server.address() as AddressInfo).port)}/entries`);
  });
  afterAll(() => {
    server.close();
    vi.unstubAllEnvs();
  });

  it('reports only the records that failed, so the rest are not retried', async () => {
    const { handler } = await import('../../../examples/stream-consumer/handler.ts');
    const a = {
      ...receivedRecord({}, 'clips/refused.mp4'),
      status: 'UPLOADED' as const,
      fileId: 'vg_file_1',
    };
    const b = { ...receivedRecord({}, 'clips/d.mp4'), status: 'UPLOADED' as const, fileId: 'vg_file_1' };
    const first = streamRecord('MODIFY', a, readyRecord(a));
    const second = streamRecord('MODIFY', b, readyRecord(b));
    const broken = streamRecord('MODIFY', a, { ...readyRecord(a), schemaVersion: 99 });
    // The catalog refuses the first entry (503); the third is not a record this consumer can read.
    const result = await handler(streamEvent(first, second, broken), lambdaContext());
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      [first.dynamodb?.SequenceNumber, broken.dynamodb?.SequenceNumber].sort(),
    );
    expect(received).toEqual([expect.objectContaining({ source: `s3://${b.bucket}/clips/d.mp4` })]);
  });
});
