/**
 * Where the local runtime's CPU goes, per file, so a regression names its component: each
 * function's environments (their invocations and their starts, measured by their own
 * threads), the DynamoDB emulator's process, and the runtime's main thread, split among the
 * emulators on it by a V8 CPU profile of that thread (its samples' shares of the thread's
 * measured CPU), and the rest of the runtime's process: the threads none of those measure
 * (V8's compilers and GC helpers, libuv's pool for the file system, the environments'
 * threads between invocations). Also the peak RSS of the runtime's processes. Process
 * figures come from `/proc` (Linux); elsewhere they read 0.
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import type { EnvironmentFigures } from '../local/services/lambda/environments.ts';

/** Main-thread code by where it lives: the first frame of a sample that is not Node's own. */
const COMPONENTS: readonly (readonly [string, RegExp])[] = [
  ['IAM (policy evaluation)', /@cloud-copilot\/|\/local\/iam\//],
  ['Step Functions (interpreter)', /aws-local-stepfunctions|\/local\/services\/step-functions\//],
  ['S3 (s3rver and its front)', /\/s3rver\/|\/koa|\/local\/services\/s3\//],
  ['SQS and event source mappings', /\/local\/services\/sqs\//],
  ['Lambda (invocations, environments)', /\/local\/services\/lambda\//],
  ['DynamoDB streams and mappings', /\/local\/services\/dynamodb\//],
  ['API Gateway (webhook route)', /\/local\/services\/api-gateway\//],
  ['HTTP fronts (SigV4, IAM gate)', /\/local\/http\//],
  ['VideoGen simulator', /\/local\/simulator\/|undici/],
  ['AWS SDK (the runtime’s own clients)', /@aws-sdk\/|@smithy\//],
];
const OTHER = 'other (Node, garbage collection, the benchmark)';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly url: string };
  readonly children?: readonly number[];
}

export interface CpuFigures {
  /** Milliseconds of CPU per file, by component. */
  readonly perFileMs: {
    readonly functions: Record<string, number>;
    readonly functionStarts: number;
    readonly dynamoDbEmulator: number;
    readonly mainThread: Record<string, number>;
    /** The runtime process's CPU that no figure above measures (its other threads). */
    readonly otherThreads: number;
    readonly total: number;
  };
  readonly peakRssMb: number;
}

/** CPU time (ms) a process has used, from `/proc/PID/stat`: 0 where there is none. */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime, fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Resident memory of `pids` together: this process's from Node, the others' from `/proc` (0 elsewhere). */
export function sampleRss(pids: readonly (number | undefined)[]): number {
  let rss = 0;
  for (const pid of pids) {
    if (pid === undefined) continue;
    if (pid === process.pid) {
      rss += process.memoryUsage.rss();
      continue;
    }
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // not on Linux, or the process is gone
    }
  }
  return rss;
}

function threadCpuMs(): number {
  const usage = process.threadCpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Starts measuring: call `stop` with the files processed since and the functions' figures then. */
export async function measureCpu(
  dynamoPid: number | undefined,
  functionsBefore: Record<string, EnvironmentFigures>,
): Promise<{
  stop(files: number, functionsAfter: Record<string, EnvironmentFigures>): Promise<CpuFigures>;
}> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  const mainBefore = threadCpuMs();
  const dynamoBefore = processCpuMs(dynamoPid);
  const processBefore = processCpuMs(process.pid);
  let peakRss = sampleRss([process.pid, dynamoPid]);
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, sampleRss([process.pid, dynamoPid]))), 250);
  return {
    async stop(files, functionsAfter) {
      clearInterval(sampler);
      const mainMs = threadCpuMs() - mainBefore;
      const dynamoMs = processCpuMs(dynamoPid) - dynamoBefore;
      const processMs = processCpuMs(process.pid) - processBefore;
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      const shares = mainThreadShares(profile as { nodes: ProfileNode[]; samples: number[] });
      const perFile = (ms: number) => Math.round((ms / files) * 10) / 10;
      const functions: Record<string, number> = {};
      let starts = 0;
      let invocationsMs = 0;
      for (const [name, after] of Object.entries(functionsAfter)) {
        const before = functionsBefore[name];
        const ms = after.cpuMs - (before?.cpuMs ?? 0);
        functions[name] = perFile(ms);
        invocationsMs += ms;
        starts += after.startCpuMs - (before?.startCpuMs ?? 0);
      }
      const mainThread = Object.fromEntries(
        Object.entries(shares).map(([component, share]) => [component, perFile(mainMs * share)]),
      );
      // /proc counts in 10 ms ticks: a difference below zero is rounding, not CPU.
      const otherThreadsMs = Math.max(0, processMs - mainMs - invocationsMs - starts);
      const total =
        Object.values(functions).reduce((sum, ms) => sum + ms, 0) +
        perFile(starts) +
        perFile(dynamoMs) +
        perFile(mainMs) +
        perFile(otherThreadsMs);
      return {
        perFileMs: {
          functions,
          functionStarts: perFile(starts),
          dynamoDbEmulator: perFile(dynamoMs),
          mainThread,
          otherThreads: perFile(otherThreadsMs),
          total: Math.round(total * 10) / 10,
        },
        peakRssMb: Math.round(peakRss / 1_000_000),
      };
    },
  };
}

/** Each component's share of the main thread's busy samples (idle ones left out). */
function mainThreadShares(profile: { nodes: ProfileNode[]; samples: number[] }): Record<string, number> {
  const parentOf = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }
  const componentOf = new Map<number, string | undefined>();
  const classify = (id: number): string | undefined => {
    if (componentOf.has(id)) return componentOf.get(id);
    const url = byId.get(id)?.callFrame.url ?? '';
    const own =
      url && !url.startsWith('node:') ? COMPONENTS.find(([, pattern]) => pattern.test(url))?.[0] : undefined;
    const parent = parentOf.get(id);
    const component = own ?? (parent === undefined ? undefined : classify(parent));
    componentOf.set(id, component);
    return component;
  };
  const counts: Record<string, number> = {};
  let busy = 0;
  for (const id of profile.samples) {
    const node = byId.get(id);
    const name = (node?.callFrame as { functionName?: string } | undefined)?.functionName;
    if (name === '(idle)' || name === '(program)') continue;
    const component = classify(id) ?? OTHER;
    counts[component] = (counts[component] ?? 0) + 1;
    busy += 1;
  }
  return Object.fromEntries(
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([component, count]) => [component, busy ? count / busy : 0]),
  );
}
