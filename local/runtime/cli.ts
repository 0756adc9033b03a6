/**
 * `videogen-ingest start` and `videogen-ingest run`: the local runtime from the command line.
 */
import { mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { READINESS_LEVELS, type Readiness } from '#shared/config';
import { isUnfinished, RETRYABLE_STATUSES, type IngestRecord } from '#shared/ingest/record';
import { UsageError, asUsage, parseCommandArgs, wholeNumber } from '../cli-args.ts';
import { LOCAL_CREDENTIALS, LocalRuntime, type LocalRuntimeOptions } from './runtime.ts';
import { publicRecord } from '../ops/ops.ts';
import { LOCAL_STATE_DIR, removeHandshake, writeHandshake } from '../handshake.ts';
import { untilStopped } from '../signals.ts';
import { METADATA } from '../../lambdas/prepare/prepare.ts';
import { parseFaultSpec } from '../simulator/faults.ts';
import { DEFAULT_SETTLE_MS, watchDropFolder } from './drop-folder.ts';
import { describeRecord, describeSubscribers, progressReporter } from './progress.ts';
import { RecordFeed } from './record-feed.ts';
import { openStateDir, StateDirInUseError, type StateDir } from './state-dir.ts';
import { loadApp, type AppStack } from './cloud-assembly.ts';

const SHARED_OPTIONS = `  --app DIR              run your own CDK app's stack: DIR is its folder (with cdk.json) or a
                         cloud assembly (cdk.out); its settings replace the four below
  --stack NAME           the stack of --app to run, when several hold a VideoGenIngest
  --ready-on LEVEL       upload | playback | download | analysis       [default: download]
  --poll-after SECONDS   wait for a webhook this long before polling    [default: 5]
  --max-wait SECONDS     record TIMED_OUT after this long               [default: 600]
  --max-concurrent-transfers N
                         transfers at once; the rest wait in the queue  [default: 10, as deployed]
  --create-rate N        simulator: accept N creates a second, 429 above [default: no limit]
  --retry-ms MS          pause before every workflow retry              [default: as deployed]
  --processing-ms MS     simulator: bytes received -> READY             [default: 1500]
  --analysis-ms MS       simulator: READY -> analysis done              [default: 1000]
  --fault SPEC           simulator: inject a fault (repeatable; see \`videogen-ingest sim --help\`)
  --verbose              the handlers' logs (Powertools, INFO) on stderr

Environment:
  VIDEOGEN_API_URL, VIDEOGEN_API_KEY   use this VideoGen-compatible API instead of the simulator`;

export const START_USAGE = `Usage: videogen-ingest start [options]

Runs the ingest locally, as \`cdk deploy\` would deploy it, and shows every file's status.
Drop files into the drop folder, or copy them into the S3 endpoint it prints (aws s3 cp
FILE s3://BUCKET/ --endpoint-url URL). Ctrl-C stops; the next start continues where this
one stopped (the state folder keeps the bucket, the records and what was dropped).

Options:
  --drop DIR             the folder to watch                            [default: ./drop]
  --state-dir DIR        the state folder                               [default: ./.videogen-ingest]
  --fresh                start with an empty state folder (bucket, records, drop ledger)
  --s3-port N            the S3 endpoint's port                         [default: 4569]
  --settle SECONDS       a file is taken once its size has not changed for this long
                         (longer than a slow writer's pauses; decimals allowed) [default: 5]
${SHARED_OPTIONS}`;

export const RUN_USAGE = `Usage: videogen-ingest run [options] FILE...

Starts a throwaway local stack, drops the files, waits until every file's workflow has
ended, and prints the ingest records. Exit 0 when no file ended FAILED or TIMED_OUT
(a REJECTED bad input is an expected outcome), 1 otherwise, 2 on a usage error.

Options:
  --json                 print the records as a JSON array (the README's record contract) on stdout
  --deliveries           with --json: each record also lists what each stream subscriber
                         got of it (\`deliveries\`: subscriber, status, outcome)
  --temporary            send the files as temporary (kept 24 h, never analyzed)
${SHARED_OPTIONS}`;

const sharedOptions: ParseArgsOptionsConfig = {
  app: { type: 'string' },
  stack: { type: 'string' },
  'ready-on': { type: 'string' },
  'poll-after': { type: 'string' },
  'max-wait': { type: 'string' },
  'retry-ms': { type: 'string' },
  'max-concurrent-transfers': { type: 'string' },
  'create-rate': { type: 'string' },
  'processing-ms': { type: 'string' },
  'analysis-ms': { type: 'string' },
  fault: { type: 'string', multiple: true },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

type Flags = Record<string, string | boolean | string[] | undefined>;

function parse(
  args: readonly string[],
  extra: ParseArgsOptionsConfig,
  positionals: boolean,
): { values: Flags; positionals: string[] } {
  const parsed = parseCommandArgs({
    args: [...args],
    options: { ...sharedOptions, ...extra },
    allowPositionals: positionals,
  });
  return { values: parsed.values as Flags, positionals: parsed.positionals };
}

/** `VIDEOGEN_API_URL`, refused before anything starts unless it is an http(s) URL (empty: the simulator). */
function apiUrlFromEnvironment(value: string | undefined): string | undefined {
  if (!value) return undefined;
  let protocol: string;
  try {
    protocol = new URL(value).protocol;
  } catch {
    protocol = '';
  }
  if (protocol !== 'http:' && protocol !== 'https:') {
    throw new UsageError(
      `VIDEOGEN_API_URL takes an http:// or https:// URL (or nothing, for the simulator), got "${value}"`,
    );
  }
  return value;
}

/** The flags that set this repository's stack: an app (`--app`) brings its own. */
const STACK_SETTING_FLAGS = ['ready-on', 'poll-after', 'max-wait', 'max-concurrent-transfers'];

/** Runtime options from the flags both commands share. */
export function runtimeOptionsFromFlags(values: Flags): LocalRuntimeOptions {
  if (values.app !== undefined) {
    const set = STACK_SETTING_FLAGS.filter((flag) => values[flag] !== undefined);
    if (set.length > 0) {
      throw new UsageError(
        `--${set.join(', --')} set this repository's stack; with --app, your app's VideoGenIngest props set them`,
      );
    }
  } else if (values.stack !== undefined) throw new UsageError('--stack names a stack of --app DIR');
  const readyOn = values['ready-on'];
  if (readyOn !== undefined && !READINESS_LEVELS.includes(readyOn as Readiness)) {
    throw new UsageError(`--ready-on takes one of ${READINESS_LEVELS.join(', ')}, got "${String(readyOn)}"`);
  }
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const pollAfter = wholeNumber('poll-after', text('poll-after'), { min: 1, max: 86_400 });
  const maxWait = wholeNumber('max-wait', text('max-wait'));
  if (pollAfter !== undefined && maxWait !== undefined && maxWait < pollAfter) {
    throw new UsageError(`--max-wait (${maxWait}) must be at least --poll-after (${pollAfter})`);
  }
  const retryMs = wholeNumber('retry-ms', text('retry-ms'));
  // As deployed: an event source mapping's maximum concurrency is 2 to 1,000.
  const maxTransfers = wholeNumber('max-concurrent-transfers', text('max-concurrent-transfers'), {
    min: 2,
    max: 1000,
  });
  const createRate = wholeNumber('create-rate', text('create-rate'), { min: 1, max: 1_000_000 });
  const processingMs = wholeNumber('processing-ms', text('processing-ms'));
  const analysisMs = wholeNumber('analysis-ms', text('analysis-ms'));
  const faults = asUsage(() => (Array.isArray(values.fault) ? values.fault : []).map(parseFaultSpec));
  const external = apiUrlFromEnvironment(process.env.VIDEOGEN_API_URL);
  return {
    ...(readyOn ? { readiness: readyOn as Readiness } : {}),
    ...(pollAfter === undefined ? {} : { pollAfterSeconds: pollAfter }),
    ...(maxWait === undefined ? {} : { maxWaitSeconds: maxWait }),
    ...(retryMs === undefined ? {} : { retryPauseMs: retryMs }),
    ...(maxTransfers === undefined ? {} : { maxConcurrentTransfers: maxTransfers }),
    ...(external ? { videoGenApiUrl: external } : {}),
    ...(process.env.VIDEOGEN_API_KEY ? { videoGenApiKey: process.env.VIDEOGEN_API_KEY } : {}),
    simulator: {
      ...(processingMs === undefined ? {} : { processingMs }),
      ...(analysisMs === undefined ? {} : { analysisMs }),
      ...(createRate === undefined ? {} : { createRateLimit: { perSecond: createRate } }),
      faults,
    },
    handlerLogLevel: values.verbose ? 'INFO' : 'WARN',
  };
}

/** `--settle SECONDS`: 0.1 s to an hour, decimals allowed. */
function settleOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SETTLE_MS;
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!(seconds >= 0.1 && seconds <= 3600)) {
    throw new UsageError(`--settle takes seconds from 0.1 to 3600 (decimals allowed), got "${value}"`);
  }
  return Math.round(seconds * 1000);
}

/** The app `--app` names, synthesized when it is an app folder. */
async function appOf(values: Flags): Promise<AppStack | undefined> {
  if (typeof values.app !== 'string') return undefined;
  return loadApp(values.app, {
    ...(typeof values.stack === 'string' ? { stackName: values.stack } : {}),
    log: (line) => console.error(`[runtime] ${line}`),
  });
}

/** The ops commands as they reach this runtime: in this folder as they are, elsewhere with its state folder. */
function operationsLine(stateDir: string): string {
  const commands = 'status | show KEY | retry KEY | replay-dlq | reconcile';
  if (stateDir === path.resolve(LOCAL_STATE_DIR)) return `npx videogen-ingest ${commands}   (in this folder)`;
  const flag = `--state-dir ${/\s/.test(stateDir) ? JSON.stringify(stateDir) : stateDir}`;
  return `npx videogen-ingest status ${flag}   (and show KEY, retry KEY, replay-dlq, reconcile, each with ${flag})`;
}

/** Fails at once, before anything starts, when the S3 port is taken (another `start`, most likely). */
async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => resolve());
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new UsageError(
        `port ${port} is taken: another "videogen-ingest start" may be running (stop it), or pass --s3-port N`,
      );
    }
    throw error;
  } finally {
    probe.close();
  }
}

export async function runStart(args: readonly string[]): Promise<void> {
  const { values } = parse(
    args,
    {
      drop: { type: 'string' },
      's3-port': { type: 'string' },
      settle: { type: 'string' },
      'state-dir': { type: 'string' },
      fresh: { type: 'boolean' },
    },
    false,
  );
  if (values.help) {
    console.log(START_USAGE);
    return;
  }
  const options = runtimeOptionsFromFlags(values);
  const dropDir = path.resolve(typeof values.drop === 'string' ? values.drop : 'drop');
  const stateDir = path.resolve(
    typeof values['state-dir'] === 'string' ? values['state-dir'] : LOCAL_STATE_DIR,
  );
  const s3Port =
    wholeNumber('s3-port', typeof values['s3-port'] === 'string' ? values['s3-port'] : undefined, {
      min: 1,
      max: 65_535,
    }) ?? 4569;
  const settleMs = settleOf(typeof values.settle === 'string' ? values.settle : undefined);
  await assertPortFree(s3Port);
  const state = await openStateDir(stateDir, { fresh: values.fresh === true }).catch((error: unknown) => {
    throw error instanceof StateDirInUseError ? new UsageError(error.message) : error;
  });
  let app: AppStack | undefined;
  try {
    app = await appOf(values);
    await serve(state, { dropDir, settleMs }, s3Port, { ...options, ...(app ? { app } : {}) });
  } finally {
    await app?.dispose();
    await state.release();
  }
}

async function serve(
  state: StateDir,
  { dropDir, settleMs }: { dropDir: string; settleMs: number },
  s3Port: number,
  options: LocalRuntimeOptions,
): Promise<void> {
  await mkdir(dropDir, { recursive: true });
  // Until the progress view takes them over, the runtime's lines and the handlers' go to stderr.
  let say = (line: string): void => {
    console.error(line);
  };
  let stopping = false;
  const runtime = await LocalRuntime.start({
    ...options,
    s3Port,
    state,
    bucketName: 'videogen-drop',
    log: (line) => say(`[runtime] ${line}`),
    // What the handlers write once stopping began (their calls cut off) is noise, not news.
    onFunctionOutput: (label, line) => {
      if (!stopping) say(`[${label}] ${line}`);
    },
  });
  console.log(`videogen-ingest is running locally (the workflow \`cdk deploy\` deploys, on emulators).

  Drop folder:   ${dropDir}
  State folder:  ${state.directory}
  S3 endpoint:   ${runtime.s3Endpoint}   bucket: ${runtime.bucket}
                 AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey} \\
                   aws s3 cp FILE s3://${runtime.bucket}/ --endpoint-url ${runtime.s3Endpoint}
  VideoGen API:  ${runtime.apiUrl}${runtime.simulator ? ' (simulator)' : ''}
  Webhook URL:   ${runtime.webhookUrl}${runtime.webhooksRegistered ? ' (registered)' : ' (not reachable by the API: polling)'}
  Table:         ${runtime.tableName}
  Workflow:      ${runtime.ops.stateMachineArn}
  Endpoints:     dynamodb ${runtime.ops.endpoints.dynamodb}  stepfunctions ${runtime.ops.endpoints.sfn}  sqs ${runtime.ops.endpoints.sqs}
                 (aws … --endpoint-url URL, with the keys above)
  Operations:    ${operationsLine(state.directory)}

Copy files into the drop folder; each file's status follows. Ctrl-C stops.`);
  // Ctrl-C from here on stops cleanly, even while the last run is still being reconciled.
  const stopped = untilStopped();
  // Where the ops commands find this runtime while it runs.
  await writeHandshake(state.directory, runtime.ops);

  // Restarted: the executions of before are gone; their records continue, and objects that
  // never got a record (the last run stopped before their event was handled) are ingested.
  const report = await runtime.reconcile({ resumeUnfinished: true });
  if (report.resumed.length > 0 || report.unrecorded.length > 0) {
    say(
      `[runtime] continuing the last run: ${report.resumed.length} unfinished file${report.resumed.length === 1 ? '' : 's'} resumed, ${report.unrecorded.length} object${report.unrecorded.length === 1 ? '' : 's'} without a record ingested`,
    );
    for (const record of report.resumed) say(`[runtime]   resumed ${record.key} (${record.status})`);
  }

  const reporter = progressReporter(process.stdout, runtime);
  if (process.stdout.isTTY) say = (line) => reporter.note(line);
  const folder = await watchDropFolder({
    directory: dropDir,
    ledger: state.dropLedger,
    put: (key, file) => runtime.dropFile(key, file),
    settleMs,
    onError: (message) => say(`[drop] ${message}`),
  });
  const feed = new RecordFeed({
    all: () => runtime.records(),
    changedSince: (since) => runtime.recordsChangedSince(since),
  });
  let reporting = false;
  const timer = setInterval(() => {
    if (reporting) return;
    reporting = true;
    feed
      .refresh()
      .then((records) => reporter.report(records, runtime.subscriberFigures()))
      .catch((error: unknown) =>
        say(`[runtime] reading records: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => (reporting = false));
  }, 500);
  await stopped;
  // Counted first, while every service still answers.
  const inFlight = await feed.refresh().then(
    (records) => records.filter(isUnfinished).length,
    (error: unknown) => error as Error,
  );
  stopping = true;
  clearInterval(timer);
  await folder.close();
  process.stdout.write('\n');
  console.error(
    inFlight instanceof Error
      ? `stopping: could not count the files in flight (${inFlight.message}); the next start resumes any`
      : inFlight > 0
        ? `stopping: ${inFlight} file${inFlight === 1 ? '' : 's'} in flight, resumed on the next start`
        : 'stopping: nothing in flight',
  );
  await removeHandshake(state.directory);
  await runtime.stop();
  console.error('stopped');
}

/** `videogen-ingest run`: answers the exit code. */
export async function runOnce(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, deliveries: { type: 'boolean' }, temporary: { type: 'boolean' } },
    true,
  );
  if (values.help) {
    console.log(RUN_USAGE);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('run needs at least one FILE');
  const files = positionals.map((file) => path.resolve(file));
  for (const file of files) {
    const info = await stat(file).catch(() => undefined);
    if (info?.isDirectory()) {
      throw new UsageError(
        `${file} is a folder: run takes files (run ${path.relative(process.cwd(), file) || '.'}/*), and start --drop DIR watches a folder`,
      );
    }
    if (!info?.isFile()) throw new UsageError(`no such file: ${file}`);
  }
  const options = runtimeOptionsFromFlags(values);
  let say = (line: string): void => {
    console.error(line);
  };
  const app = await appOf(values);
  const runtime = await LocalRuntime.start({
    retryPauseMs: 200,
    ...options,
    ...(app ? { app } : {}),
    log: (line) => say(`[runtime] ${line}`),
    onFunctionOutput: (label, line) => say(`[${label}] ${line}`),
  }).catch(async (error: unknown) => {
    await app?.dispose();
    throw error;
  });
  try {
    // Keys: the file names; a name given twice gets its position as a folder.
    const names = files.map((file) => path.basename(file));
    const keys = files.map((file, index) =>
      names.indexOf(path.basename(file)) === index
        ? (names[index] ?? file)
        : `${index + 1}/${path.basename(file)}`,
    );
    const reporter = progressReporter(process.stderr, runtime);
    if (process.stderr.isTTY) say = (line) => reporter.note(line);
    for (const [index, file] of files.entries()) {
      await runtime.dropFile(
        keys[index] ?? file,
        file,
        values.temporary ? { metadata: { [METADATA.temporary]: 'true' } } : {},
      );
    }
    const progress = setInterval(() => {
      void runtime.records().then(
        (records) => reporter.report(records, runtime.subscriberFigures()),
        () => undefined,
      );
    }, 250);
    try {
      await waitForRecords(runtime, keys, (options.maxWaitSeconds ?? 600) * 1000 + 120_000);
    } finally {
      clearInterval(progress);
    }
    const records = (await runtime.records()).filter((record) => keys.includes(record.key));
    reporter.report(records, runtime.subscriberFigures());
    if (values.json) {
      const withDeliveries = (record: IngestRecord) => ({
        ...publicRecord(record),
        deliveries: runtime.deliveries
          .filter((delivery) => delivery.key === record.key)
          .map(({ key: _key, ...delivery }) => delivery),
      });
      console.log(JSON.stringify(records.map(values.deliveries ? withDeliveries : publicRecord), null, 2));
    } else for (const record of records) console.log(describeRecord(record));
    if (runtime.subscribers.length > 0) console.error(describeSubscribers(runtime.subscriberFigures()));
    const missing = keys.filter((key) => !records.some((record) => record.key === key));
    for (const key of missing) console.error(`${key}: no ingest record (the workflow never claimed it)`);
    const failed = records.some((record) => RETRYABLE_STATUSES.includes(record.status));
    return failed || missing.length > 0 ? 1 : 0;
  } finally {
    await runtime.stop();
    await app?.dispose();
  }
}

/** Waits until every key's workflow has ended (or the deadline passes). */
async function waitForRecords(
  runtime: LocalRuntime,
  keys: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await runtime.idle(Math.max(1, deadline - Date.now()));
    const records = await runtime.records();
    if (keys.every((key) => records.some((record) => record.key === key))) return;
    if (Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
