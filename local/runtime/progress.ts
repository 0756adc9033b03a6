/**
 * What `start` and `run` show while files move: a live view redrawn in place on a terminal,
 * plain lines elsewhere (a pipe, a log file).
 */
import { isUnfinished, type IngestRecord } from '../../lambdas/shared/ingest/record.ts';
import type { LocalRuntime } from './runtime.ts';
import type { SubscriberFigures } from '../services/dynamodb/stream-mappings.ts';

/** What a person reads about one record. */
export function describeRecord(record: IngestRecord): string {
  const detail = record.error ? `${record.error.code}: ${record.error.message}` : (record.fileId ?? '');
  return `${record.key}: ${record.status}${detail ? ` (${detail})` : ''}`;
}

/** One line for every subscriber: `subscribers: Announcer 20 delivered · Auditor 118 delivered, 1 failed batch, 1 to its on-failure queue`. */
export function describeSubscribers(subscribers: readonly SubscriberFigures[]): string {
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 'es'}`;
  return `subscribers: ${subscribers
    .map((figures) =>
      [
        `${figures.label} ${figures.delivered} delivered`,
        ...(figures.failedInvocations > 0 ? [plural(figures.failedInvocations, 'failed batch')] : []),
        ...(figures.sentToOnFailure > 0 ? [`${figures.sentToOnFailure} to its on-failure queue`] : []),
        ...(figures.backlog > 0 ? [`${figures.backlog} waiting`] : []),
      ].join(', '),
    )
    .join(' · ')}`;
}

export interface ProgressReporter {
  report(records: readonly IngestRecord[], subscribers?: readonly SubscriberFigures[]): void;
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
  /** Files whose workflow ended: each gets one line of its own above the view, once. */
  readonly #ended = new Set<string>();
  constructor(
    private readonly out: { write(text: string): unknown; rows?: number },
    private readonly transferOf: TransferProgress,
    private readonly now: () => number = Date.now,
  ) {}

  report(records: readonly IngestRecord[], subscribers: readonly SubscriberFigures[] = []): void {
    for (const record of records) {
      if (isUnfinished(record) || this.#ended.has(record.pk)) continue;
      this.#ended.add(record.pk);
      this.#frame = [];
      this.note(describeRecord(record));
    }
    const counts = new Map<string, number>();
    for (const record of records) counts.set(record.status, (counts.get(record.status) ?? 0) + 1);
    const summary = `${records.length} file${records.length === 1 ? '' : 's'}: ${[...counts].map(([status, count]) => `${count} ${status}`).join(', ')}`;
    const room = Math.max(3, (this.out.rows ?? 24) - 5);
    const shown = [...records].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).slice(-room);
    const lines = [
      summary,
      ...(subscribers.length > 0 ? [describeSubscribers(subscribers)] : []),
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

/** The live view on a terminal, plain lines otherwise. */
export function progressReporter(stream: NodeJS.WriteStream, runtime: LocalRuntime): ProgressReporter {
  if (!stream.isTTY) return new StatusReporter((line) => stream.write(`${line}\n`));
  return new LiveProgress(stream, (record) =>
    record.fileId ? runtime.simulator?.file(record.fileId)?.receiving : undefined,
  );
}
