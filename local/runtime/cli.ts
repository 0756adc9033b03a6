/**
 * `videogen-ingest-local start` and `videogen-ingest-local run`: the local runtime from the command line
 * (their flags and usage: `cli-options.ts`).
 */
import { mkdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { isUnfinished, RETRYABLE_STATUSES, type IngestRecord } from '../../lambdas/shared/ingest/record.ts';
import { operationBanners } from '../../ops/commands.ts';
import { UsageError, wholeNumber } from '../../cli/args.ts';
import { LOCAL_CREDENTIALS, LocalRuntime, type LocalRuntimeOptions } from './runtime.ts';
import { publicRecord } from '../../ops/ops.ts';
import { LOCAL_STATE_DIR, removeHandshake, writeHandshake } from '../../ops/handshake.ts';
import { untilStopped } from '../signals.ts';
import { METADATA } from '../../lambdas/prepare/prepare.ts';
import { watchDropFolder } from './drop-folder.ts';
import { describeRecord, describeSubscribers, progressReporter, type ProgressReporter } from './progress.ts';
import { RecordFeed, reportEvery } from './record-feed.ts';
import { openStateDir, StateDirInUseError, type StateDir } from './state-dir.ts';
import { loadApp, type AppStack } from './cloud-assembly.ts';
import {
  parse,
  RUN_USAGE,
  runtimeOptionsFromFlags,
  settleOf,
  START_USAGE,
  type Flags,
} from './cli-options.ts';

/** The app `--app` names, synthesized when it is an app folder. */
async function appOf(values: Flags): Promise<AppStack | undefined> {
  if (typeof values.app !== 'string') return undefined;
  return loadApp(values.app, {
    ...(typeof values.stack === 'string' ? { stackName: values.stack } : {}),
    log: (line) => console.error(`[runtime] ${line}`),
  });
}

/** The banner's lines for the stack's other ingests: what to drop into, where records land. */
function otherIngestsLines(runtime: LocalRuntime): string {
  return runtime.ingests
    .slice(1)
    .map(
      (ingest) =>
        `\n  Also ${ingest.id}:   bucket ${ingest.bucket} (aws s3 cp FILE s3://${ingest.bucket}/ --endpoint-url ${runtime.s3Endpoint})` +
        `\n                 table ${ingest.tableName}   workflow ${ingest.stateMachineArn}`,
    )
    .join('');
}

/** The ops commands as they reach this runtime: in this folder as they are, elsewhere with its state folder. */
function operationsLine(stateDir: string): string {
  const [first = '', ...others] = operationBanners();
  if (stateDir === path.resolve(LOCAL_STATE_DIR))
    return `npx videogen-ingest ${[first, ...others].join(' | ')}   (in this folder)`;
  const flag = `--state-dir ${/\s/.test(stateDir) ? JSON.stringify(stateDir) : stateDir}`;
  return `npx videogen-ingest ${first} ${flag}   (and ${others.join(', ')}, each with ${flag})`;
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
        `port ${port} is taken: another "videogen-ingest-local start" may be running (stop it), or pass --s3-port N`,
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
  Workflow:      ${runtime.ops.stateMachineArn}${otherIngestsLines(runtime)}
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
  const reports = [];
  for (const ingest of runtime.ingests)
    reports.push(await runtime.reconcile({ resumeUnfinished: true }, ingest));
  const report = {
    resumed: reports.flatMap((each) => each.resumed),
    unrecorded: reports.flatMap((each) => each.unrecorded),
  };
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
  const progress = showProgress(runtime, reporter, 500, (error) =>
    say(`[runtime] reading records: ${error instanceof Error ? error.message : String(error)}`),
  );
  await stopped;
  // Counted first, while every service still answers.
  const inFlight = await progress.feed.refresh().then(
    (records) => records.filter(isUnfinished).length,
    (error: unknown) => error as Error,
  );
  stopping = true;
  progress.stop();
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

/** `videogen-ingest-local run`: answers the exit code. */
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
    // Shown from the first drop: the first files move on while the last are still uploading.
    const progress = showProgress(runtime, reporter, 250, () => undefined);
    try {
      for (const [index, file] of files.entries()) {
        await runtime.dropFile(
          keys[index] ?? file,
          file,
          values.temporary ? { metadata: { [METADATA.temporary]: 'true' } } : {},
        );
      }
      await waitForRecords(runtime, keys, (options.maxWaitSeconds ?? 600) * 1000 + 120_000);
    } finally {
      progress.stop();
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

/**
 * What `start` and `run` show while files move: the table's records as a feed (what changed
 * since the last look, not a scan of the table, so a look costs what moved however many files
 * it holds), looked at every `intervalMs` and reported.
 */
function showProgress(
  runtime: LocalRuntime,
  reporter: ProgressReporter,
  intervalMs: number,
  onError: (error: unknown) => void,
): { feed: RecordFeed; stop(): void } {
  const feed = new RecordFeed({
    all: () => runtime.records(),
    changedSince: (since) => runtime.recordsChangedSince(since),
  });
  const looks = reportEvery(
    feed,
    intervalMs,
    (records) => reporter.report(records, runtime.subscriberFigures()),
    onError,
  );
  return { feed, stop: () => looks.stop() };
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
