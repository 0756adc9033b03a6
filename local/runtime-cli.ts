/**
 * `videogen-ingest start` and `videogen-ingest run`: the local runtime from the command line.
 */
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { READINESS_LEVELS, type Readiness } from '#shared/config';
import { RETRYABLE_STATUSES, type IngestRecord } from '#shared/ingest/record';
import { UsageError, faultRules, parseCommandArgs, wholeNumber } from './cli-args.ts';
import { LOCAL_CREDENTIALS, LocalRuntime, type LocalRuntimeOptions } from './runtime/runtime.ts';
import { publicRecord } from './ops/ops.ts';
import { LOCAL_STATE_FILE, type LocalState } from './ops/target.ts';
import { untilStopped } from './signals.ts';

const SHARED_OPTIONS = `  --ready-on LEVEL       upload | playback | download | analysis       [default: download]
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

Runs the ingest locally, as \`cdk deploy\` would deploy it, and prints a line for every
status change of every file. Drop files into the drop folder, or copy them into the S3
endpoint it prints (aws s3 cp FILE s3://BUCKET/ --endpoint-url URL). Ctrl-C stops.

Options:
  --drop DIR             the folder to watch                            [default: ./drop]
  --s3-port N            the S3 endpoint's port                         [default: 4569]
${SHARED_OPTIONS}`;

export const RUN_USAGE = `Usage: videogen-ingest run [options] FILE...

Starts a throwaway local stack, drops the files, waits until every file's workflow has
ended, and prints the ingest records. Exit 0 when no file ended FAILED or TIMED_OUT
(a REJECTED bad input is an expected outcome), 1 otherwise, 2 on a usage error.

Options:
  --json                 print the records as a JSON array (the README's record contract) on stdout
  --temporary            send the files as temporary (kept 24 h, never analyzed)
${SHARED_OPTIONS}`;

const sharedOptions: ParseArgsOptionsConfig = {
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

/** Runtime options from the flags both commands share. */
export function runtimeOptionsFromFlags(values: Flags): LocalRuntimeOptions {
  const readyOn = values['ready-on'];
  if (readyOn !== undefined && !READINESS_LEVELS.includes(readyOn as Readiness)) {
    throw new UsageError(`--ready-on takes one of ${READINESS_LEVELS.join(', ')}, got "${String(readyOn)}"`);
  }
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const pollAfter = wholeNumber('poll-after', text('poll-after'));
  const maxWait = wholeNumber('max-wait', text('max-wait'));
  if (pollAfter === 0) throw new UsageError('--poll-after must be at least 1 second');
  if (pollAfter !== undefined && maxWait !== undefined && maxWait < pollAfter) {
    throw new UsageError(`--max-wait (${maxWait}) must be at least --poll-after (${pollAfter})`);
  }
  const retryMs = wholeNumber('retry-ms', text('retry-ms'));
  const maxTransfers = wholeNumber('max-concurrent-transfers', text('max-concurrent-transfers'));
  if (maxTransfers !== undefined && (maxTransfers < 2 || maxTransfers > 1000)) {
    // As deployed: an event source mapping's maximum concurrency is 2 to 1,000.
    throw new UsageError(`--max-concurrent-transfers takes 2 to 1000, got ${maxTransfers}`);
  }
  const createRate = wholeNumber('create-rate', text('create-rate'));
  if (createRate === 0) throw new UsageError('--create-rate must be at least 1 a second');
  const processingMs = wholeNumber('processing-ms', text('processing-ms'));
  const analysisMs = wholeNumber('analysis-ms', text('analysis-ms'));
  const faults = faultRules(Array.isArray(values.fault) ? values.fault : []);
  const external = process.env.VIDEOGEN_API_URL;
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

/** What a person reads about one record. */
export function describeRecord(record: IngestRecord): string {
  const detail = record.error ? `${record.error.code}: ${record.error.message}` : (record.fileId ?? '');
  return `${record.key}: ${record.status}${detail ? ` (${detail})` : ''}`;
}

export interface ProgressReporter {
  report(records: readonly IngestRecord[]): void;
  /** A line of its own (what the runtime says), kept out of the way of the progress. */
  note(line: string): void;
}

/** Bytes a file's upload has moved so far, and since when (epoch ms), while it runs. */
export type TransferProgress = (record: IngestRecord) => { bytes: number; startedAt: number } | undefined;

function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/**
 * On a terminal: one line per file, redrawn in place (status, and bytes and rate while it
 * transfers), under a count by status. The newest files when there are more than fit.
 */
export class LiveProgress implements ProgressReporter {
  #drawn = 0;
  #frame: string[] = [];
  constructor(
    private readonly out: { write(text: string): unknown; rows?: number },
    private readonly transferOf: TransferProgress,
    private readonly now: () => number = Date.now,
  ) {}

  report(records: readonly IngestRecord[]): void {
    const counts = new Map<string, number>();
    for (const record of records) counts.set(record.status, (counts.get(record.status) ?? 0) + 1);
    const summary = `${records.length} file${records.length === 1 ? '' : 's'}: ${[...counts].map(([status, count]) => `${count} ${status}`).join(', ')}`;
    const room = Math.max(3, (this.out.rows ?? 24) - 4);
    const shown = [...records].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).slice(-room);
    const lines = [
      summary,
      ...shown.map((record) => {
        const transfer = this.transferOf(record);
        let detail = record.error ? `${record.error.code}: ${record.error.message}` : (record.fileId ?? '');
        if (transfer && record.status !== 'UPLOADED' && !record.error) {
          const seconds = Math.max(0.001, (this.now() - transfer.startedAt) / 1000);
          const percent = record.size > 0 ? ` ${Math.floor((transfer.bytes / record.size) * 100)}%` : '';
          detail = `${megabytes(transfer.bytes)} of ${megabytes(record.size)}${percent}, ${megabytes(transfer.bytes / seconds)}/s`;
        }
        return `  ${record.status.padEnd(15)} ${record.key}${detail ? `  ${detail}` : ''}`;
      }),
    ];
    this.#frame = lines;
    this.#draw();
  }

  /** Writes the line where the progress was, and the progress again below it. */
  note(line: string): void {
    this.out.write(`${this.#up()}\u001b[0J${line}\n`);
    this.#drawn = 0;
    this.#draw();
  }

  /** Up to the first line drawn last time, then each line cleared and written again. */
  #draw(): void {
    this.out.write(`${this.#up()}${this.#frame.map((line) => `\u001b[2K${line}\n`).join('')}`);
    this.#drawn = this.#frame.length;
  }

  #up(): string {
    return this.#drawn > 0 ? `\u001b[${this.#drawn}A` : '';
  }
}

/** Not a terminal (a pipe, a log file): a plain line whenever a record's status changes. */
export class StatusReporter implements ProgressReporter {
  readonly #seen = new Map<string, string>();
  constructor(private readonly write: (line: string) => void) {}

  note(line: string): void {
    this.write(line);
  }

  report(records: readonly IngestRecord[]): void {
    for (const record of records) {
      if (this.#seen.get(record.pk) === record.status) continue;
      this.#seen.set(record.pk, record.status);
      this.write(`${new Date().toISOString().slice(11, 19)} ${describeRecord(record)}`);
    }
  }
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
  const { values } = parse(args, { drop: { type: 'string' }, 's3-port': { type: 'string' } }, false);
  if (values.help) {
    console.log(START_USAGE);
    return;
  }
  const options = runtimeOptionsFromFlags(values);
  const dropDir = path.resolve(typeof values.drop === 'string' ? values.drop : 'drop');
  const s3Port =
    wholeNumber('s3-port', typeof values['s3-port'] === 'string' ? values['s3-port'] : undefined) ?? 4569;
  await assertPortFree(s3Port);
  await mkdir(dropDir, { recursive: true });
  // The runtime's own lines go to stderr until the progress view takes them over.
  let say = (line: string): void => {
    console.error(line);
  };
  const runtime = await LocalRuntime.start({
    ...options,
    s3Port,
    bucketName: 'videogen-drop',
    log: (line) => say(`[runtime] ${line}`),
  });
  console.log(`videogen-ingest is running locally (the workflow \`cdk deploy\` deploys, on emulators).

  Drop folder:   ${dropDir}
  S3 endpoint:   ${runtime.s3Endpoint}   bucket: ${runtime.bucket}
                 AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey} \\
                   aws s3 cp FILE s3://${runtime.bucket}/ --endpoint-url ${runtime.s3Endpoint}
  VideoGen API:  ${runtime.apiUrl}${runtime.simulator ? ' (simulator)' : ''}
  Webhook URL:   ${runtime.webhookUrl}${runtime.webhooksRegistered ? ' (registered)' : ' (not reachable by the API: polling)'}
  Table:         ${runtime.tableName}
  Operations:    npx videogen-ingest status | show KEY | retry KEY | replay-dlq   (in this folder)

Copy files into the drop folder; a line per status change follows. Ctrl-C stops.`);
  // Where the ops commands find this runtime while it runs.
  const state: LocalState = { ...runtime.ops, pid: process.pid };
  await mkdir(path.dirname(LOCAL_STATE_FILE), { recursive: true });
  await writeFile(LOCAL_STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);

  const reporter = progressReporter(process.stdout, runtime);
  if (process.stdout.isTTY) say = (line) => reporter.note(line);
  const dropped = new Map<string, string>();
  const scan = async (): Promise<void> => {
    for (const file of await listFiles(dropDir)) {
      const info = await stat(file);
      const signature = `${info.size}:${info.mtimeMs}`;
      if (dropped.get(file) === signature) continue;
      // A file still being copied grows between two looks; take it on the next scan.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await stat(file).catch(() => undefined);
      if (!again || `${again.size}:${again.mtimeMs}` !== signature) continue;
      dropped.set(file, signature);
      await runtime.drop(path.relative(dropDir, file).split(path.sep).join('/'), await readFile(file));
    }
    reporter.report(await runtime.records());
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    scan()
      .catch((error: unknown) =>
        console.error(`scan failed: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => (busy = false));
  }, 500);
  await untilStopped();
  clearInterval(timer);
  console.error('stopping…');
  await rm(LOCAL_STATE_FILE, { force: true });
  await runtime.stop();
  console.error('stopped');
}

/** The live view on a terminal, plain lines otherwise. */
function progressReporter(stream: NodeJS.WriteStream, runtime: LocalRuntime): ProgressReporter {
  if (!stream.isTTY) return new StatusReporter((line) => stream.write(`${line}\n`));
  return new LiveProgress(stream, (record) =>
    record.fileId ? runtime.simulator?.file(record.fileId)?.receiving : undefined,
  );
}

async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(full)));
    else if (entry.isFile()) files.push(full);
  }
  return files.sort();
}

/** `videogen-ingest run`: answers the exit code. */
export async function runOnce(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, temporary: { type: 'boolean' } },
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
    if (!info?.isFile()) throw new UsageError(`no such file: ${file}`);
  }
  const options = runtimeOptionsFromFlags(values);
  let say = (line: string): void => {
    console.error(line);
  };
  const runtime = await LocalRuntime.start({
    retryPauseMs: 200,
    ...options,
    log: (line) => say(`[runtime] ${line}`),
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
      await runtime.drop(
        keys[index] ?? file,
        await readFile(file),
        values.temporary ? { metadata: { 'videogen-temporary': 'true' } } : {},
      );
    }
    const progress = setInterval(() => {
      void runtime.records().then(
        (records) => reporter.report(records),
        () => undefined,
      );
    }, 250);
    try {
      await waitForRecords(runtime, keys, (options.maxWaitSeconds ?? 600) * 1000 + 120_000);
    } finally {
      clearInterval(progress);
    }
    const records = (await runtime.records()).filter((record) => keys.includes(record.key));
    reporter.report(records);
    if (values.json) console.log(JSON.stringify(records.map(publicRecord), null, 2));
    else for (const record of records) console.log(describeRecord(record));
    const missing = keys.filter((key) => !records.some((record) => record.key === key));
    for (const key of missing) console.error(`${key}: no ingest record (the workflow never claimed it)`);
    const failed = records.some((record) => RETRYABLE_STATUSES.includes(record.status));
    return failed || missing.length > 0 ? 1 : 0;
  } finally {
    await runtime.stop();
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
