/**
 * The operations of `videogen-ingest` (`commands.ts` lists them): their usage and what each
 * does, against a deployed stack (`--stack NAME`) or the local runtime `start` runs here.
 */
import { INGEST_STATUSES, type IngestStatus } from '../lambdas/shared/ingest/record.ts';
import { parseCommandArgs, UsageError, wholeNumber } from '../cli/args.ts';
import { parseDuration, replayDeadLetters, retry, retryInStatus, show, status, statusTable } from './ops.ts';
import { reconcile } from './reconcile.ts';
import type { OpsCommandName } from './commands.ts';
import { localTarget, stackTarget, type OpsTarget } from './target.ts';

const TARGET_OPTIONS = `  --stack NAME           a deployed stack, with your AWS credentials     [default: the local runtime]
  --region REGION        the stack's region                             [default: your AWS config]
  --state-dir DIR        the local runtime's state folder (start --state-dir) [default: ./.videogen-ingest]
  --json                 machine-readable output`;

export const OPS_USAGES: Record<OpsCommandName, string> = {
  status: `Usage: videogen-ingest status [--status S] [--since DURATION] [--limit N] [options]

Lists ingests, newest change first.

Options:
  --status S             only this status (${INGEST_STATUSES.join(', ')})
  --since DURATION       only changed within it: 90s, 15m, 2h, 7d
  --limit N              at most N records; says how many more match    [default: 100]
${TARGET_OPTIONS}`,
  show: `Usage: videogen-ingest show <key | s3://bucket/key | fileId> [options]

Prints one ingest record and its event history.

Options:
${TARGET_OPTIONS}`,
  retry: `Usage: videogen-ingest retry <key | s3://bucket/key | fileId> [options]
       videogen-ingest retry --status FAILED|TIMED_OUT [--dry-run] [options]

Restarts the workflow of a FAILED or TIMED_OUT ingest (a new execution; the record keeps
its abandoned VideoGen files and counts the retry); with --status, of every ingest in that
status (what a restart or an outage leaves), one line each.

Options:
  --status S             every ingest in S (FAILED or TIMED_OUT) instead of one
  --dry-run              with --status: list what would be retried, retry nothing
${TARGET_OPTIONS}`,
  'replay-dlq': `Usage: videogen-ingest replay-dlq [options]

Moves the S3 events in the dead-letter queue back to the ingest queue, after the cause
(a bug, a throttled account) is fixed.

Options:
${TARGET_OPTIONS}`,
  reconcile: `Usage: videogen-ingest reconcile [--prefix P] [--dry-run] [options]

Compares the bucket with the table. Every object with no ingest record (its S3 event lost,
or dead-lettered past the queue's retention) is ingested again through the ingest queue,
as its event would have been. Lists the records whose workflow has not ended (in progress,
or stranded: \`show\` one to see which). The local runtime reconciles by itself when it
starts, and resumes its unfinished records too.

Options:
  --prefix P             only keys that start with P
  --dry-run              report only: send nothing
${TARGET_OPTIONS}`,
};

async function targetFrom(values: {
  stack?: string | undefined;
  region?: string | undefined;
  'state-dir'?: string | undefined;
}): Promise<OpsTarget> {
  if (values.stack && values['state-dir']) {
    throw new UsageError('--stack names a deployed stack, --state-dir a local runtime: give one');
  }
  return values.stack ? stackTarget(values.stack, values.region) : localTarget(values['state-dir']);
}

/** Runs one ops command; answers the exit code. `print` is stdout. */
export async function runOps(
  command: OpsCommandName,
  args: readonly string[],
  print: (text: string) => void = (text) => console.log(text),
  connect: typeof targetFrom = targetFrom,
  warn: (text: string) => void = (text) => console.error(text),
): Promise<number> {
  const { values, positionals } = parseCommandArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      stack: { type: 'string' },
      region: { type: 'string' },
      'state-dir': { type: 'string' },
      json: { type: 'boolean' },
      status: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
      prefix: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    print(OPS_USAGES[command]);
    return 0;
  }
  const bulkRetry = command === 'retry' && values.status !== undefined;
  if (bulkRetry && positionals.length > 0) {
    throw new UsageError('retry takes one key or file id, or --status S for every ingest in S: not both');
  }
  const needsReference = command === 'show' || (command === 'retry' && !bulkRetry);
  if (needsReference && positionals.length !== 1) throw new UsageError(`${command} needs one key or file id`);
  if (!needsReference && positionals.length > 0) throw new UsageError(`${command} takes no arguments`);
  if (values.status !== undefined && !INGEST_STATUSES.includes(values.status as IngestStatus)) {
    throw new UsageError(`--status must be one of ${INGEST_STATUSES.join(', ')}, got "${values.status}"`);
  }
  const sinceMs = values.since === undefined ? undefined : parseDuration(values.since);
  if (values.since !== undefined && sinceMs === undefined) {
    throw new UsageError(`--since takes a duration such as 90s, 15m, 2h or 7d, got "${values.since}"`);
  }
  const limit = wholeNumber('limit', values.limit);
  const reference = positionals[0] ?? '';

  const target = await connect(values);
  try {
    switch (command) {
      case 'status': {
        const { records, more } = await status(target, {
          ...(values.status ? { status: values.status as IngestStatus } : {}),
          ...(sinceMs === undefined ? {} : { sinceMs }),
          ...(limit === undefined ? {} : { limit }),
        });
        const moreNote = `… and ${more} more (use --limit ${records.length + more} to see them all)`;
        if (values.json) {
          print(JSON.stringify(records, null, 2));
          // The JSON on stdout stays the records' array; what it leaves out is said on stderr.
          if (more > 0) warn(moreNote);
        } else {
          print(records.length > 0 ? statusTable(records) : `no ingests in ${target.description}`);
          if (more > 0) print(moreNote);
        }
        return 0;
      }
      case 'show': {
        const shown = await show(target, reference);
        if (values.json) print(JSON.stringify(shown, null, 2));
        else {
          print(JSON.stringify(shown.record, null, 2));
          print(
            ['', 'History:', ...shown.history.map((entry) => `  ${entry.at}  ${entry.event}`)].join('\n'),
          );
          if (shown.deliveries && shown.deliveries.length > 0) {
            print(
              [
                '',
                'Deliveries (stream subscribers):',
                ...shown.deliveries.map(
                  (delivery) =>
                    `  ${delivery.at}  ${delivery.subscriber}  ${delivery.status ?? '-'}  ${delivery.outcome}${delivery.reason ? `: ${delivery.reason.split('\n')[0]}` : ''}`,
                ),
              ].join('\n'),
            );
          }
        }
        return 0;
      }
      case 'retry': {
        if (bulkRetry) {
          const done = await retryInStatus(target, values.status as IngestStatus, {
            dryRun: values['dry-run'] === true,
          });
          if (values.json) print(JSON.stringify(done, null, 2));
          else {
            for (const entry of done) {
              print(
                entry.skipped
                  ? `${entry.source}: skipped (${entry.skipped})`
                  : entry.executionArn
                    ? `${entry.source} was ${entry.previousStatus}; retrying in ${entry.executionArn}`
                    : `${entry.source} is ${entry.previousStatus}${entry.error ? ` (${entry.error})` : ''}: would be retried`,
              );
            }
            const retried = done.filter((entry) => entry.executionArn).length;
            print(
              values['dry-run']
                ? `${done.length} ${values.status} ingest${done.length === 1 ? '' : 's'} in ${target.description}; --dry-run: none retried`
                : `${retried} of ${done.length} ${values.status} ingest${done.length === 1 ? '' : 's'} retried in ${target.description}`,
            );
          }
          return 0;
        }
        const retried = await retry(target, reference);
        const source = `s3://${retried.record.bucket}/${retried.record.key}`;
        print(
          values.json
            ? JSON.stringify({
                source,
                previousStatus: retried.record.status,
                executionArn: retried.executionArn,
              })
            : `${source} was ${retried.record.status}; retrying in ${retried.executionArn}`,
        );
        return 0;
      }
      case 'replay-dlq': {
        const moved = await replayDeadLetters(target);
        print(
          values.json
            ? JSON.stringify({ moved })
            : `moved ${moved} message(s) from the dead-letter queue to the ingest queue`,
        );
        return 0;
      }
      case 'reconcile': {
        const report = await reconcile(target, {
          ...(values.prefix ? { prefix: values.prefix } : {}),
          dryRun: values['dry-run'] === true,
        });
        const keys = (objects: readonly { key: string }[]) => objects.map((object) => object.key);
        if (values.json) {
          print(
            JSON.stringify(
              {
                objects: report.objects,
                unrecorded: keys(report.unrecorded),
                unfinished: report.unfinished.map((record) => ({ key: record.key, status: record.status })),
                dryRun: values['dry-run'] === true,
              },
              null,
              2,
            ),
          );
          return 0;
        }
        const verb = values['dry-run'] ? 'would be ingested again (dry run)' : 'sent to the ingest queue';
        print(
          [
            `${report.objects} object(s) in s3://${target.bucket}/${values.prefix ?? ''} (${target.description})`,
            `${report.unrecorded.length} without an ingest record: ${verb}`,
            ...keys(report.unrecorded).map((key) => `  ${key}`),
            `${report.unfinished.length} record(s) whose workflow has not ended`,
            ...report.unfinished.map((record) => `  ${record.status.padEnd(10)} ${record.key}`),
          ].join('\n'),
        );
        return 0;
      }
      default: {
        // Every operation of the table has its case: a new one fails to compile here until it does.
        const unhandled: never = command;
        throw new UsageError(`unknown command "${String(unhandled)}"`);
      }
    }
  } finally {
    target.close();
  }
}
