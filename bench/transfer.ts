/**
 * Transfer at wire speed in constant memory: 1 GiB and 4 GiB objects from the S3 emulator
 * to the simulator's presigned PUT, through the real Transfer handler (in a process of its
 * own, RSS sampled) against `curl` streaming the same object from the same S3 endpoint
 * into a PUT on the same simulator, alternating A/B in one run.
 */
import { exec, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Readable } from 'node:stream';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startDynamoDBProcess } from '../local/services/dynamodb/dynamodb-process.ts';
import { startS3 } from '../local/services/s3/s3.ts';
import { LOCAL_CREDENTIALS } from '../local/runtime/runtime.ts';
import { VideoGenSimulator } from '../local/simulator/simulator.ts';
import { synthesizeStack } from '../local/synth.ts';
import { tableSpecFromTemplate } from '../local/services/dynamodb/table-from-template.ts';
import { newIngestRecord } from '../lambdas/shared/ingest/new-record.ts';
import { recordCreatedFile } from '../lambdas/shared/ingest/store.ts';
import { claimSource } from '../lambdas/shared/ingest/claims.ts';
import { VideoGenClient } from '../lambdas/shared/videogen/client.ts';
import { median, round } from './stats.ts';

const run = promisify(exec);
const WARM_UP_KEY = 'warm-up.bin';
const WARM_UP_BYTES = 1024;
const GiB = 1024 ** 3;
const MB = 1_000_000;

export interface TransferRun {
  readonly label: string;
  readonly bytes: number;
  readonly handlerMBps: number;
  readonly curlMBps: number;
  readonly ratio: number;
  readonly handlerIdleRssMb: number;
  readonly handlerPeakRssMb: number;
  readonly memoryGrowthMb: number;
  readonly rounds: number;
  /** The handler process's CPU time over its wall time (1 = one core busy throughout). */
  readonly handlerCpuShare: number;
}

export interface TransferFigures {
  readonly sizes: TransferRun[];
  readonly note: string;
}

/** Deterministic bytes, generated as read: the object never sits in this process's memory. */
function generated(total: number): Readable {
  let sent = 0;
  const chunk = Buffer.alloc(1024 * 1024);
  for (let index = 0; index < chunk.length; index += 1) chunk[index] = (index * 31) % 251;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunk.length, total - sent);
      sent += size;
      this.push(size === chunk.length ? chunk : chunk.subarray(0, size));
    },
  });
}

export async function measureTransfer(sizesGiB: readonly number[], rounds: number): Promise<TransferFigures> {
  const bucket = 'bench-transfer';
  const tableName = 'bench-transfer';
  const s3 = await startS3({ bucket, onObjectCreated: () => undefined });
  const dynamo = await startDynamoDBProcess();
  const sim = await VideoGenSimulator.start({ processingMs: 3_600_000, maxUploadBytes: 5 * GiB });
  // Plain bodies: the object is generated once, and decoding aws-chunked framing is not what is measured.
  const s3Client = new S3Client({
    endpoint: s3.directEndpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const store = { client: DynamoDBDocumentClient.from(raw), tableName };
  await raw.send(new CreateTableCommand(tableSpecFromTemplate(synthesizeStack().template, tableName).create));
  const videoGen = new VideoGenClient({ baseUrl: sim.url, apiKey: 'bench' });
  const results: TransferRun[] = [];
  /** A record and a VideoGen file for one transfer of `key`, as Create leaves them. */
  const ingestFor = async (key: string, uniqueKey: string, bytes: number, etag: string) => {
    const record = newIngestRecord({
      source: { bucket, key: uniqueKey, versionId: null, etag },
      size: bytes,
      contentType: 'video/mp4',
      displayName: key,
      type: 'VIDEO',
      isTemporary: false,
      readiness: 'upload',
      executionArn: null,
      at: new Date().toISOString(),
    });
    await claimSource(store, { ...record, key });
    const created = await videoGen.createFile({ displayName: key, type: 'VIDEO' });
    await recordCreatedFile(store, record, {
      fileId: created.fileId,
      displayName: key,
      at: new Date().toISOString(),
    });
    return { pk: record.pk, ...created };
  };
  try {
    const warmUpPut = await s3Client.send(
      new PutObjectCommand({ Bucket: bucket, Key: WARM_UP_KEY, Body: Buffer.alloc(WARM_UP_BYTES, 1) }),
    );
    const warmUpEtag = (warmUpPut.ETag ?? '').replaceAll('"', '');
    for (const gib of sizesGiB) {
      const bytes = Math.round(gib * GiB);
      const key = `object-${gib}GiB.bin`;
      const put = await s3Client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: generated(bytes), ContentLength: bytes }),
      );
      const etag = (put.ETag ?? '').replaceAll('"', '');
      // One untimed read first, so neither side pays for the write-back of the object just made.
      await run(`curl -sS --fail -o /dev/null '${s3.directEndpoint}/${bucket}/${key}'`, {
        shell: '/bin/bash',
      });
      const handlerSeconds: number[] = [];
      const curlSeconds: number[] = [];
      const idle: number[] = [];
      const peak: number[] = [];
      const handlerCpuShare: number[] = [];
      for (let pass = 0; pass < rounds; pass += 1) {
        // A: the Transfer handler.
        const measured = await ingestFor(key, `${key}#${pass}`, bytes, etag);
        const warmUp = await ingestFor(
          WARM_UP_KEY,
          `${WARM_UP_KEY}#${gib}#${pass}`,
          WARM_UP_BYTES,
          warmUpEtag,
        );
        const child = fork(
          fileURLToPath(new URL('transfer-child.ts', import.meta.url)),
          [JSON.stringify({ warmUp, measured })],
          {
            execArgv: ['--import', import.meta.resolve('tsx'), '--expose-gc'],
            env: {
              ...process.env,
              TABLE_NAME: tableName,
              AWS_REGION: 'us-east-1',
              AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
              AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
              AWS_ENDPOINT_URL_S3: s3.directEndpoint,
              AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
              POWERTOOLS_LOG_LEVEL: 'ERROR',
              POWERTOOLS_METRICS_DISABLED: 'true',
            },
          },
        );
        const report = await new Promise<{
          bytes: number;
          durationMs: number;
          idleRss: number;
          peakRss: number;
          cpuMs: number;
        }>((resolve, reject) => {
          child.once('message', (message) => resolve(message as never));
          child.once('exit', (code) => reject(new Error(`the transfer child exited with ${code}`)));
        });
        child.kill();
        if (report.bytes !== bytes || sim.file(measured.fileId)?.received?.bytes !== bytes)
          throw new Error('the handler did not deliver every byte');
        handlerSeconds.push(report.durationMs / 1000);
        handlerCpuShare.push(report.cpuMs / report.durationMs);
        idle.push(report.idleRss);
        peak.push(report.peakRss);

        // B: curl streaming the same object from the same endpoint into a PUT on the same simulator.
        const target = await videoGen.createFile({ displayName: `${key}-curl`, type: 'VIDEO' });
        const started = performance.now();
        await run(
          `set -o pipefail; curl -sS --fail '${s3.directEndpoint}/${bucket}/${key}' | curl -sS --fail -X PUT -T - -H 'Content-Length: ${bytes}' -H 'Transfer-Encoding:' '${target.uploadUrl}' -o /dev/null`,
          { shell: '/bin/bash', maxBuffer: 1024 * 1024 },
        );
        curlSeconds.push((performance.now() - started) / 1000);
        if (sim.file(target.fileId)?.received?.bytes !== bytes)
          throw new Error('curl did not deliver every byte');
        console.error(
          `  ${gib} GiB round ${pass + 1}: handler ${round(bytes / MB / (handlerSeconds.at(-1) ?? 1), 0)} MB/s, curl ${round(bytes / MB / (curlSeconds.at(-1) ?? 1), 0)} MB/s`,
        );
      }
      const handlerMBps = round(bytes / MB / median(handlerSeconds), 1);
      const curlMBps = round(bytes / MB / median(curlSeconds), 1);
      results.push({
        label: `${gib} GiB`,
        bytes,
        handlerMBps,
        curlMBps,
        ratio: round(handlerMBps / curlMBps, 2),
        handlerIdleRssMb: round(median(idle) / MB, 1),
        handlerPeakRssMb: round(Math.max(...peak) / MB, 1),
        memoryGrowthMb: round((Math.max(...peak) - median(idle)) / MB, 1),
        rounds,
        handlerCpuShare: round(median(handlerCpuShare), 2),
      });
    }
  } finally {
    s3Client.destroy();
    raw.destroy();
    await sim.close();
    await dynamo.close();
    await s3.close();
  }
  return {
    sizes: results,
    note: 'Both sides read the same object from the same s3rver endpoint (without the local runtime’s aws-chunked front) and PUT to the same simulator (which hashes every byte) on loopback, alternating, after one untimed read of the object; the handler runs in a process of its own, warmed by a 1 KiB transfer as a reused Lambda environment is, with its RSS sampled every 10 ms. Medians of the rounds.',
  };
}
