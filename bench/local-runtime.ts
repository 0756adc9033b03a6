/**
 * What Lambda fidelity costs on this machine: `LocalRuntime.start` with the bundles built
 * and from the cache, an execution environment's cold start, a warm invocation's round
 * trip through its worker, and an IAM decision (the first, and a cached one).
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/handlers.ts';
import { LocalRuntime } from '../local/runtime/runtime.ts';
import { median, percentile, round } from './stats.ts';

const execFileAsync = promisify(execFile);

export interface LocalRuntimeFigures {
  /** Start to ready, bundling the functions first (a fresh clone, or code changed). */
  readonly startWithBundlingMs: number;
  /** Start to ready with the bundles cached (every later start), in a process that started one before. */
  readonly startCachedMs: number;
  /**
   * A new process to a ready runtime, bundles and template cached (what `npm start` waits
   * after `npm ci`): Node, the runtime's modules, then the start.
   */
  readonly startNewProcessMs: number;
  /** An environment's start: the worker, the bundle's module init (every function, first invocation). */
  readonly environmentStartMs: { readonly p50: number; readonly max: number };
  /** A warm invocation's round trip (the starter with an empty batch), overhead over Lambda's own. */
  readonly warmInvokeMs: { readonly p50: number; readonly p95: number };
  /** One IAM decision by the evaluator, and the same decision again (cached). */
  readonly iamDecisionMs: { readonly first: number; readonly cached: number };
}

/** A new Node process (as `npm start` runs one) that starts a runtime, stops it, and says when it was ready. */
async function timedNewProcessStart(): Promise<number> {
  const script = `const { LocalRuntime } = await import(${JSON.stringify(path.join(PROJECT_ROOT, 'local/runtime/runtime.ts'))});
const runtime = await LocalRuntime.start({ handlerLogLevel: 'SILENT' });
const ready = performance.now();
await runtime.stop();
console.log(Math.round(ready));`;
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: PROJECT_ROOT,
    },
  );
  return Number(stdout.trim().split('\n').pop());
}

async function timedStart(): Promise<{ runtime: LocalRuntime; ms: number }> {
  const started = performance.now();
  const runtime = await LocalRuntime.start({ handlerLogLevel: 'SILENT' });
  return { runtime, ms: Math.round(performance.now() - started) };
}

export async function measureLocalRuntime(): Promise<LocalRuntimeFigures> {
  await rm(path.join(PROJECT_ROOT, 'node_modules/.cache/videogen-ingest/bundles'), {
    recursive: true,
    force: true,
  });
  const bundling = await timedStart();
  await bundling.runtime.stop();
  // The template is cached by now too: a new process's start is the one `npm start` makes.
  const newProcess = [];
  for (let round = 0; round < 3; round += 1) newProcess.push(await timedNewProcessStart());
  const { runtime, ms: startCachedMs } = await timedStart();
  try {
    // Every function once (register-webhook ran at start): their cold starts.
    await runtime.drop('bench/one.png', Buffer.from('89504e470d0a1a0a', 'hex'));
    await runtime.idle();
    const starter = runtime.lambdas.byHandler('starter').functionArn;
    const rounds: number[] = [];
    for (let index = 0; index < 200; index += 1) {
      const started = performance.now();
      await runtime.lambdas.invoke(starter, { Records: [] });
      rounds.push(performance.now() - started);
    }
    const coldStarts = Object.values(runtime.lambdas.figures()).flatMap((figures) => figures.coldStartMs);
    const iam = runtime.iam;
    if (!iam) throw new Error('the runtime runs without IAM');
    // A resource no call named yet, so the first decision is the evaluator's, not the cache's.
    const call = {
      principal: iam.policies.roleOf(runtime.lambdas.byHandler('prepare').logicalId),
      action: 'dynamodb:GetItem',
      resource: `arn:aws:dynamodb:us-east-1:000000000000:table/${runtime.tableName}`,
    };
    await iam.check({ ...call, resource: `${call.resource}-warm-up` }).catch(() => undefined);
    let started = performance.now();
    await iam.check(call);
    const first = performance.now() - started;
    started = performance.now();
    await iam.check(call);
    const cached = performance.now() - started;
    return {
      startWithBundlingMs: bundling.ms,
      startCachedMs,
      startNewProcessMs: median(newProcess),
      environmentStartMs: { p50: median(coldStarts), max: Math.max(...coldStarts) },
      warmInvokeMs: { p50: round(median(rounds)), p95: round(percentile(rounds, 95)) },
      iamDecisionMs: { first: round(first), cached: round(cached, 3) },
    };
  } finally {
    await runtime.stop();
  }
}
