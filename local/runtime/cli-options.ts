/**
 * What `start` and `run` take: their usage, their flags, and the flags read into runtime
 * options, each refused before anything starts with its name and what it takes.
 */
import type { ParseArgsOptionsConfig } from 'node:util';
import { READINESS_LEVELS, type Readiness } from '../../lambdas/shared/config.ts';
import { UsageError, asUsage, parseCommandArgs, wholeNumber } from '../../cli/args.ts';
import { IN_REPOSITORY } from '../repository.ts';
import { parseFaultSpec } from '../simulator/faults.ts';
import { DEFAULT_SETTLE_MS } from './drop-folder.ts';
import type { LocalRuntimeOptions } from './options.ts';

const SHARED_OPTIONS = `  --app DIR              run your own CDK app's stack: DIR is its folder (with cdk.json) or a
                         cloud assembly (cdk.out); its settings replace the four below
                         [default: the app in this folder; in a checkout of videogen-ingest,
                         the repository's own stack]
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
  --fault SPEC           simulator: inject a fault (repeatable; see \`videogen-ingest-local sim --help\`)
  --verbose              the handlers' logs (Powertools, INFO) on stderr

Environment:
  VIDEOGEN_API_URL, VIDEOGEN_API_KEY   use this VideoGen-compatible API instead of the simulator`;

export const START_USAGE = `Usage: videogen-ingest-local start [options]

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

export const RUN_USAGE = `Usage: videogen-ingest-local run [options] FILE...

Starts a throwaway local stack, drops the files, waits until every file's workflow has
ended, and prints the ingest records. Exit 0 when no file ended FAILED or TIMED_OUT
(a REJECTED bad input is an expected outcome), 1 otherwise, 2 on a usage error.

Options:
  --json                 print the records as a JSON array (their contract: docs/stream-contract.md) on stdout
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

export type Flags = Record<string, string | boolean | string[] | undefined>;

export function parse(
  args: readonly string[],
  extra: ParseArgsOptionsConfig,
  positionals: boolean,
): { values: Flags; positionals: string[] } {
  const parsed = parseCommandArgs({
    args: [...args],
    options: { ...sharedOptions, ...extra },
    allowPositionals: positionals,
  });
  const values = parsed.values as Flags;
  // Outside this repository there is no stack of its own to run: the app here is the one.
  if (values.app === undefined && !IN_REPOSITORY) values.app = '.';
  return { values, positionals: parsed.positionals };
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
export function settleOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_SETTLE_MS;
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!(seconds >= 0.1 && seconds <= 3600)) {
    throw new UsageError(`--settle takes seconds from 0.1 to 3600 (decimals allowed), got "${value}"`);
  }
  return Math.round(seconds * 1000);
}
