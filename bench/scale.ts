/**
 * `npm run bench:scale`: a library-sized drop through the local runtime, at a small cap,
 * with VideoGen rate-limiting creates and 5 % transient faults. Writes
 * `bench/results/scale.json` and `scale.md`: files FAILED, duplicate uploads, the most
 * transfers VideoGen saw at once, 429s, transitions and invocations per file, wall time
 * against the ideal (files × transfer time ÷ cap, or files ÷ the create rate when that is
 * slower), peak RSS, each process's memory as the files finish (flat after warm-up, or
 * growing per file), and the cost per 1,000 files of such a backlog beside the happy path's.
 * The runtime keeps its state in a folder, as `npm start` does.
 *
 *   npm run bench:scale -- --files 10000 --cap 4 --put-ms 200 --create-rate 16 --fault-rate 0.05
 *
 * `--webhook-rate N` lets N deliveries a second through the webhook stage (half as many at
 * once) instead of the deployed throttle, which otherwise bounds a run of small files.
 * `--out NAME` writes `bench/results/NAME.json` and `.md` (default `scale`).
 */
import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readOperationCounts } from '../local/services/dynamodb/dynamodb.ts';
import { png } from '../local/media.ts';
import { LocalRuntime } from '../local/runtime/runtime.ts';
import { cpuTimes, idleCoresBetween } from '../local/services/lambda/idle-cores.ts';
import { openStateDir } from '../local/runtime/state-dir.ts';
import { READY_STATUSES } from '../lambdas/shared/ingest/record.ts';
import { DEFAULT_WEBHOOK_THROTTLE } from '../lib/ingest-props.ts';
import { costPer1000, type CostPer1000 } from './cost.ts';
import { sampleRss } from './cpu-figures.ts';
import { countsPerFile } from './pipeline.ts';
import { round } from './stats.ts';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    cap: { type: 'string', default: '4' },
    'put-ms': { type: 'string', default: '200' },
    'create-rate': { type: 'string', default: '16' },
    'fault-rate': { type: 'string', default: '0.05' },
    'webhook-rate': { type: 'string' },
    out: { type: 'string', default: 'scale' },
  },
});
const FILES = Number(values.files);
const CAP = Number(values.cap);
const PUT_MS = Number(values['put-ms']);
const CREATE_RATE = Number(values['create-rate']);
const FAULT_RATE = Number(values['fault-rate']);
const WEBHOOK_RATE = values['webhook-rate'] === undefined ? undefined : Number(values['webhook-rate']);

const RESULTS_JSON = `bench/results/${values.out}.json`;
const RESULTS_MD = `bench/results/${values.out}.md`;

/** Each process's RSS when a share of the files had finished. */
interface MemoryMark {
  readonly filesDone: number;
  readonly runtimeMb: number;
  readonly dynamoDbMb: number;
}

async function main(): Promise<void> {
  const stateFolder = mkdtempSync(path.join(os.tmpdir(), 'bench-scale-'));
  const state = await openStateDir(stateFolder, { fresh: true });
  const runtime = await LocalRuntime.start({
    state,
    maxConcurrentTransfers: CAP,
    pollAfterSeconds: 60,
    maxWaitSeconds: 3600,
    handlerLogLevel: 'SILENT',
    // Workflow retries as deployed would take seconds to minutes each; the cap and the
    // rate limit, not the retry backoff, are what this measures.
    retryPauseMs: 200,
    ...(WEBHOOK_RATE
      ? {
          webhookThrottle: { rateLimit: WEBHOOK_RATE, burstLimit: Math.max(1, Math.floor(WEBHOOK_RATE / 2)) },
        }
      : {}),
    simulator: {
      processingMs: 200,
      playbackMs: 100,
      analysisMs: 200,
      seed: 7,
      createRateLimit: { perSecond: CREATE_RATE, retryAfterSeconds: 1 },
      faults: [
        { fault: 'slow', on: 'put', delayMs: PUT_MS },
        { fault: 'server_error', on: 'create', rate: FAULT_RATE },
        { fault: 'server_error', on: 'put', rate: FAULT_RATE, status: 503 },
        { fault: 'server_error', on: 'get', rate: FAULT_RATE },
      ],
    },
  });
  const { dynamoPid } = runtime;
  let peakRss = sampleRss([process.pid, dynamoPid]);
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, sampleRss([process.pid, dynamoPid]));
  }, 500);
  const marks: MemoryMark[] = [];
  const markMemory = (filesDone: number) =>
    marks.push({
      filesDone,
      runtimeMb: Math.round(sampleRss([process.pid]) / 1_000_000),
      dynamoDbMb: Math.round(sampleRss([dynamoPid]) / 1_000_000),
    });
  try {
    const before = await readOperationCounts(runtime.dynamoEndpoint);
    const started = Date.now();
    for (let index = 0; index < FILES; index += 1) {
      await runtime.drop(`library/${index}.png`, png((index % 64) + 1, 2));
    }
    const droppedMs = Date.now() - started;
    // The machine's CPU while the backlog drains: whether cores, or waits, bound the run.
    const cpuAfterDrop = cpuTimes();
    let lastReport = 0;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const waiting = runtime.queues.transfer.depth + runtime.queues.ingest.depth;
      const running = runtime.stepFunctions
        .executions()
        .filter((execution) => execution.status === 'RUNNING');
      const done = runtime.stepFunctions.executions().length - running.length;
      // At each quarter of the files: memory that grows with them shows between the marks.
      if (done >= ((marks.length + 1) * FILES) / 4) markMemory(done);
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        process.stderr.write(
          `[scale] ${Math.round((Date.now() - started) / 1000)} s: ${running.length} running, ${waiting} queued\n`,
        );
      }
      if (waiting === 0 && running.length === 0 && runtime.stepFunctions.executions().length >= FILES) break;
    }
    const wallMs = Date.now() - started;
    const idleCoresWhileDraining = idleCoresBetween(cpuAfterDrop, cpuTimes(), os.cpus().length);
    const records = await runtime.records();
    const sim = runtime.simulator;
    const stored = sim?.uploads().filter((upload) => upload.outcome === 'stored') ?? [];
    const sourcesWithBytes = new Set(
      records
        .filter((record) => record.fileId && sim?.file(record.fileId)?.received)
        .map((record) => record.pk),
    );
    const perFile = await countsPerFile(runtime, FILES, before);
    const rateLimited = sim?.requests().filter((request) => request.status === 429).length ?? 0;
    const deliveries = sim?.deliveries() ?? [];
    const readyByPoll = runtime.stepFunctions
      .executions()
      .filter((execution) => (execution.statesEntered.Poll ?? 0) > 0).length;
    // The cap's bound, or the create rate's when that is lower: no run can beat either.
    const idealSeconds = Math.max((FILES * (PUT_MS / 1000)) / CAP, FILES / CREATE_RATE);
    const happyPath = existsSync('bench/results/latest.json')
      ? (
          JSON.parse(readFileSync('bench/results/latest.json', 'utf8')) as {
            pipeline?: { costPer1000Files: CostPer1000 };
          }
        ).pipeline?.costPer1000Files
      : undefined;
    const figures = {
      machine: {
        cpus: os.availableParallelism(),
        node: process.version,
        measuredAt: new Date().toISOString(),
      },
      settings: {
        files: FILES,
        cap: CAP,
        putMs: PUT_MS,
        createsPerSecond: CREATE_RATE,
        faultRate: FAULT_RATE,
        webhookThrottle: WEBHOOK_RATE ?? 'as deployed',
      },
      failed: records.filter((record) => !READY_STATUSES.includes(record.status)).length,
      failedByCode: Object.fromEntries(
        Object.entries(
          records
            .filter((record) => !READY_STATUSES.includes(record.status))
            .reduce<Record<string, number>>((counts, record) => {
              const code = record.error?.code ?? record.status;
              counts[code] = (counts[code] ?? 0) + 1;
              return counts;
            }, {}),
        ),
      ),
      duplicateUploads: stored.length - sourcesWithBytes.size,
      mostTransfersInFlight: sim?.peakConcurrentUploads ?? 0,
      rateLimitedPerFile: round(rateLimited / FILES, 3),
      webhookDeliveriesPerFile: {
        delivered: round(deliveries.filter((delivery) => delivery.outcome === 'delivered').length / FILES, 2),
        throttled: round(runtime.webhooksThrottled / FILES, 2),
        // Every webhook environment busy for longer than a delivery may wait (`WEBHOOK_MAX_WAIT_MS`).
        refusedBusy: round((runtime.lambdas.figures().webhook?.shed ?? 0) / FILES, 2),
        givenUp: round(deliveries.filter((delivery) => delivery.exhausted).length / FILES, 3),
      },
      filesThatPolled: readyByPoll,
      transitionsPerFile: perFile.transitions,
      lambdaInvocationsPerFile: perFile.lambdaInvocations,
      invocationsByFunction: perFile.invocationsByFunction,
      throttles: runtime.lambdas.throttles,
      // Each environment is an isolate of its own (~25 MB): what the peak RSS is made of.
      environmentsByFunction: Object.fromEntries(
        Object.entries(runtime.lambdas.figures()).map(([name, { environments }]) => [name, environments]),
      ),
      drain: drainFigures(runtime, idleCoresWhileDraining),
      wallSeconds: round(wallMs / 1000, 1),
      dropSeconds: round(droppedMs / 1000, 1),
      idealSeconds: round(idealSeconds, 1),
      wallOverIdeal: round(wallMs / 1000 / idealSeconds, 2),
      peakRssMb: Math.round(peakRss / 1_000_000),
      memoryAsFilesFinish: marks,
      growthPer1000FilesAfterWarmUpMb: growthAfterWarmUp(marks),
      costPer1000Files: {
        backlog: costPer1000(perFile),
        happyPath,
        note: 'Waiting in the transfer queue costs no transition and no invocation: a 100,000-file backlog costs per file what this run measured (plus the mapping’s idle polling, a few cents a day). The previous design retried a throttled Transfer up to 50 times (~40 transitions per file for such a backlog).',
      },
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(RESULTS_JSON, `${JSON.stringify(figures, null, 2)}\n`);
    writeFileSync(RESULTS_MD, markdown(figures));
    console.log(JSON.stringify(figures, null, 2));
  } finally {
    clearInterval(sampler);
    await runtime.stop();
    await state.release();
    rmSync(stateFolder, { recursive: true, force: true });
  }
}

/** What bounded the drain after the drop: the transfer's time at the cap, or the machine's cores. */
interface DrainFigures {
  /** A transfer invocation's mean time: its calls, the PUT, in-invocation retries and pauses for a 429. */
  readonly transferInvocationMs: number;
  /** Files a second the cap allows at that time: `cap ÷ transferInvocationMs`. */
  readonly filesPerSecondAtCap: number;
  /** Share of the machine's cores busy between the drop's end and the run's (0..1). */
  readonly coresBusyShare: number | undefined;
}

function drainFigures(runtime: LocalRuntime, idleCores: number | undefined): DrainFigures {
  const transfers = runtime.lambdas.invocations.transfer ?? 0;
  const transferInvocationMs = transfers
    ? (runtime.lambdas.figures().transfer?.billedMs ?? 0) / transfers
    : 0;
  return {
    transferInvocationMs: Math.round(transferInvocationMs),
    filesPerSecondAtCap: transferInvocationMs ? round((CAP * 1000) / transferInvocationMs, 1) : 0,
    coresBusyShare: idleCores === undefined ? undefined : round(1 - idleCores / os.cpus().length, 2),
  };
}

/** MB each process grew per 1,000 files from the first quarter's mark to the last. */
function growthAfterWarmUp(marks: readonly MemoryMark[]): { runtime: number; dynamoDb: number } | undefined {
  const first = marks[0];
  const last = marks.at(-1);
  if (!first || !last || last.filesDone === first.filesDone) return undefined;
  const per1000 = (from: number, to: number) =>
    round(((to - from) * 1000) / (last.filesDone - first.filesDone), 1);
  return {
    runtime: per1000(first.runtimeMb, last.runtimeMb),
    dynamoDb: per1000(first.dynamoDbMb, last.dynamoDbMb),
  };
}

function markdown(figures: {
  settings: {
    files: number;
    cap: number;
    putMs: number;
    createsPerSecond: number;
    faultRate: number;
    webhookThrottle: number | string;
  };
  webhookDeliveriesPerFile: { delivered: number; throttled: number; refusedBusy: number; givenUp: number };
  filesThatPolled: number;
  failed: number;
  duplicateUploads: number;
  mostTransfersInFlight: number;
  rateLimitedPerFile: number;
  transitionsPerFile: number;
  lambdaInvocationsPerFile: number;
  environmentsByFunction: Readonly<Record<string, number>>;
  drain: DrainFigures;
  wallSeconds: number;
  idealSeconds: number;
  wallOverIdeal: number;
  peakRssMb: number;
  memoryAsFilesFinish: readonly MemoryMark[];
  growthPer1000FilesAfterWarmUpMb: { runtime: number; dynamoDb: number } | undefined;
  costPer1000Files: { backlog: CostPer1000; happyPath: CostPer1000 | undefined };
}): string {
  const { settings } = figures;
  return `# Scale: ${settings.files} files at cap ${settings.cap}

Simulator: each PUT takes ${settings.putMs} ms, creates above ${settings.createsPerSecond}/s are answered 429 (Retry-After 1 s), ${settings.faultRate * 100} % of creates, PUTs and GETs fail 5xx. Webhook stage throttle: ${settings.webhookThrottle === 'as deployed' ? `as deployed (${DEFAULT_WEBHOOK_THROTTLE.rateLimit} a second, ${DEFAULT_WEBHOOK_THROTTLE.burstLimit} at once)` : `${settings.webhookThrottle} a second`}. The ideal is the slower of files × PUT time ÷ cap and files ÷ create rate; the faults' retries come on top of it. The runtime keeps its state in a folder, as \`npm start\` does.

| figure | measured | goal |
|---|---|---|
| files FAILED | ${figures.failed} | 0 |
| duplicate uploads | ${figures.duplicateUploads} | 0 |
| most transfers in flight (as VideoGen saw them) | ${figures.mostTransfersInFlight} | ≤ ${settings.cap} |
| 429s per file | ${figures.rateLimitedPerFile} | < 1 |
| webhook deliveries per file: delivered / throttled by the stage / refused, every environment busy / given up | ${figures.webhookDeliveriesPerFile.delivered} / ${figures.webhookDeliveriesPerFile.throttled} / ${figures.webhookDeliveriesPerFile.refusedBusy} / ${figures.webhookDeliveriesPerFile.givenUp} | |
| files whose workflow polled VideoGen (no webhook came in time) | ${figures.filesThatPolled} | |
| state transitions per file | ${figures.transitionsPerFile} | |
| Lambda invocations per file | ${figures.lambdaInvocationsPerFile} | |
| wall time | ${figures.wallSeconds} s (ideal ${figures.idealSeconds} s: ×${figures.wallOverIdeal}) | |
| what bounded the drain: a transfer invocation's mean time, the files a second the cap allows at it; the machine's cores busy after the drop | ${figures.drain.transferInvocationMs} ms, ${figures.drain.filesPerSecondAtCap} files/s; ${figures.drain.coresBusyShare === undefined ? 'n/a' : `${Math.round(figures.drain.coresBusyShare * 100)} %`} | |
| peak RSS (runtime + DynamoDB emulator) | ${figures.peakRssMb} MB | |
| function environments at the end (an isolate each) | ${Object.entries(figures.environmentsByFunction)
    .map(([name, count]) => `${name} ${count}`)
    .join(', ')} | |
| RSS as files finish (runtime / DynamoDB emulator) | ${figures.memoryAsFilesFinish.map((mark) => `${mark.filesDone}: ${mark.runtimeMb} / ${mark.dynamoDbMb} MB`).join('; ')} | |
| growth per 1,000 files after the first quarter (runtime / DynamoDB emulator) | ${figures.growthPer1000FilesAfterWarmUpMb ? `${figures.growthPer1000FilesAfterWarmUpMb.runtime} / ${figures.growthPer1000FilesAfterWarmUpMb.dynamoDb} MB` : 'n/a'} | 0 |
| cost per 1,000 files, backlog | $${figures.costPer1000Files.backlog.total} | |
| cost per 1,000 files, happy path | ${figures.costPer1000Files.happyPath ? `$${figures.costPer1000Files.happyPath.total}` : 'run `npm run bench -- --only pipeline`'} | |
`;
}

await main();
