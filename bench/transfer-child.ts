/**
 * One Transfer invocation in a process of its own, so its memory is its own: loads the
 * real handler, notes the idle RSS, samples RSS every 10 ms while the handler streams the
 * object, and reports to the parent.
 */
import type { Context } from 'aws-lambda';

const input = JSON.parse(process.argv[2] ?? '{}') as { pk: string; fileId: string; uploadUrl: string };
const { handler } = (await import('../lambdas/transfer/handler.ts')) as {
  handler: (event: unknown, context: Context) => Promise<{ bytes: number }>;
};
globalThis.gc?.();
const idleRss = process.memoryUsage().rss;
let peakRss = idleRss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 10);
const deadline = Date.now() + 15 * 60_000;
const started = performance.now();
const cpuBefore = process.cpuUsage();
const output = await handler(input, {
  functionName: 'transfer',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => deadline - Date.now(),
} as unknown as Context);
const durationMs = performance.now() - started;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const cpu = process.cpuUsage(cpuBefore);
process.send?.({ bytes: output.bytes, durationMs, idleRss, peakRss, cpuMs: (cpu.user + cpu.system) / 1000 });
