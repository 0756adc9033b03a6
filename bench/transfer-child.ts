/**
 * One Transfer invocation in a process of its own, so its memory is its own: loads the
 * real handler, warms it with a 1 KiB transfer (as a reused Lambda environment is warm:
 * the SDK loads parts of itself on its first call), notes the idle RSS, samples RSS every
 * 10 ms while the handler streams the measured object, and reports to the parent.
 */
import type { Context } from 'aws-lambda';

interface TransferInput {
  readonly pk: string;
  readonly fileId: string;
  readonly uploadUrl: string;
}
const inputs = JSON.parse(process.argv[2] ?? '{}') as { warmUp: TransferInput; measured: TransferInput };
const { handler } = (await import('../lambdas/transfer/handler.ts')) as {
  handler: (event: unknown, context: Context) => Promise<{ bytes: number }>;
};
const context = (): Context => {
  const deadline = Date.now() + 15 * 60_000;
  return {
    functionName: 'transfer',
    awsRequestId: 'bench',
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as unknown as Context;
};
await handler(inputs.warmUp, context());
globalThis.gc?.();
const idleRss = process.memoryUsage.rss();
let peakRss = idleRss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
}, 10);
const started = performance.now();
const cpuBefore = process.cpuUsage();
const output = await handler(inputs.measured, context());
const durationMs = performance.now() - started;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage.rss());
const cpu = process.cpuUsage(cpuBefore);
process.send?.({ bytes: output.bytes, durationMs, idleRss, peakRss, cpuMs: (cpu.user + cpu.system) / 1000 });
