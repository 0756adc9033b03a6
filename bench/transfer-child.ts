/**
 * One transfer in a process of its own, so its memory is its own: the transfer worker's
 * streaming step (`transfer`, with the clients its handler makes), warmed with a 1 KiB transfer (as a reused Lambda environment is warm:
 * the SDK loads parts of itself on its first call), notes the idle RSS, samples RSS every
 * 10 ms while the handler streams the measured object, and reports to the parent.
 */
import { createDocumentClient } from '../lambdas/shared/clients/dynamodb.ts';
import { createS3Client } from '../lambdas/shared/clients/s3.ts';
import { uploadToPresignedUrl } from '../lambdas/shared/videogen/upload.ts';
import { transfer } from '../lambdas/transfer/transfer.ts';

interface TransferInput {
  readonly pk: string;
  readonly fileId: string;
  readonly uploadUrl: string;
}
const inputs = JSON.parse(process.argv[2] ?? '{}') as { warmUp: TransferInput; measured: TransferInput };
const deps = {
  s3: createS3Client(),
  store: { client: createDocumentClient(), tableName: process.env.TABLE_NAME ?? '' },
  upload: uploadToPresignedUrl,
  now: () => new Date().toISOString(),
};
await transfer(deps, inputs.warmUp);
globalThis.gc?.();
const idleRss = process.memoryUsage.rss();
let peakRss = idleRss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 10);
const started = performance.now();
const cpuBefore = process.cpuUsage();
const output = await transfer(deps, inputs.measured);
const durationMs = performance.now() - started;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
const cpu = process.cpuUsage(cpuBefore);
process.send?.({ bytes: output.bytes, durationMs, idleRss, peakRss, cpuMs: (cpu.user + cpu.system) / 1000 });
