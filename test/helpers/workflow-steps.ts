import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { sdkStreamMixin } from '@smithy/util-stream';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { claimSource } from '#shared/ingest/claims';
import type { IngestRecord } from '#shared/ingest/record';
import type { VideoGenClient } from '#shared/videogen/index';
import type { VideoGenSimulator } from '#local/simulator/simulator';
import { AT, receivedRecord } from '../fixtures/records.ts';
import { mockAwsClient } from './aws-mocks.ts';
import type { TestTable } from './ingest-table.ts';
import { s3Error } from '../fixtures/s3-errors.ts';
import { startStepBackends, type StepBackends } from './step-backends.ts';

/**
 * A test file of the workflow's steps (one per handler): the emulated table and a fast
 * simulator for the file, S3 and Step Functions mocked and reset before each test, and
 * what the steps' tests share: sources, claimed records, each step's dependencies.
 */
export function useWorkflowSteps() {
  const s3 = mockAwsClient(S3Client);
  const sfn = mockAwsClient(SFNClient);
  let backends: StepBackends | undefined;
  beforeAll(async () => {
    backends = await startStepBackends();
  });
  afterAll(() => backends?.close());
  beforeEach(() => {
    s3.reset();
    sfn.reset();
    backends?.sim.faults.clear();
  });
  const started = (): StepBackends => {
    if (!backends) throw new Error('the step backends start in beforeAll');
    return backends;
  };
  let keys = 0;
  const now = () => AT;
  const noWait = { sleep: () => Promise.resolve(), random: () => 0 };

  const steps = {
    s3,
    sfn,
    now,
    noWait,
    get table(): TestTable {
      return started().table;
    },
    get sim(): VideoGenSimulator {
      return started().sim;
    },
    /** A client of `sim`. */
    get client(): VideoGenClient {
      return started().client;
    },
    /** A key no other test of the file uses. */
    nextKey: (): string => `steps/${(keys += 1)}.mp4`,
    objectBody: (bytes: Buffer) => sdkStreamMixin(Readable.from([bytes])),
    /**
     * The source object S3 answers: its head, and its bytes, a range of them as S3 answers one
     * (416 for any range of an empty object).
     */
    s3Object: (bytes: Buffer, metadata: Record<string, string> = {}, versionId = 'v1'): void => {
      const head = { ETag: '"etag1"', VersionId: versionId, Metadata: metadata };
      s3.on(HeadObjectCommand).resolves({ ...head, ContentLength: bytes.length });
      s3.on(GetObjectCommand).callsFake((input: { Range?: string }) => {
        const range = /^bytes=(\d+)-(\d+)$/.exec(input.Range ?? '');
        if (!range) return { ...head, ContentLength: bytes.length, Body: steps.objectBody(bytes) };
        if (bytes.length === 0) throw s3Error(416, 'InvalidRange');
        const end = Math.min(Number(range[2]), bytes.length - 1);
        return {
          ...head,
          ContentLength: end + 1 - Number(range[1]),
          ContentRange: `bytes ${range[1]}-${end}/${bytes.length}`,
          Body: steps.objectBody(bytes.subarray(Number(range[1]), end + 1)),
        };
      });
    },
    /** Prepare's input for a dropped key. */
    source: (key = `drop/${(keys += 1)}.bin`) => ({
      source: { bucket: 'drop', key, versionId: 'v1', etag: 'etag1' },
      executionArn: 'arn:exec',
    }),
    /** A record claimed RECEIVED, as Prepare leaves it. */
    acceptedRecord: async (key?: string, overrides: Partial<IngestRecord> = {}): Promise<IngestRecord> => {
      const record = receivedRecord(overrides, key ?? steps.nextKey());
      await claimSource(started().table.store, record);
      return record;
    },
    prepareDeps: () => ({
      s3: new S3Client({}),
      store: started().table.store,
      readiness: 'download' as const,
      maxFileBytes: 1_000_000,
      now,
    }),
    createDeps: (maxAttempts = 3) => ({
      store: started().table.store,
      videoGen: () => Promise.resolve(started().client),
      maxAttempts,
      now,
      retry: noWait,
    }),
  };
  return steps;
}
