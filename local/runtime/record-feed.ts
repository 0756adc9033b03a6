/**
 * The records a live view shows, kept current cheaply: one full read at first, then only
 * what changed since the last look (the `byStatus` index by `updatedAt`), so a tick costs
 * what changed, not the whole table. Looks overlap by a few seconds: a write stamped just
 * before a look may become visible just after it.
 */
import type { IngestRecord } from '../../lambdas/shared/ingest/record.ts';

export interface RecordSource {
  all(): Promise<IngestRecord[]>;
  changedSince(since: string): Promise<IngestRecord[]>;
}

export const FEED_OVERLAP_MS = 5_000;

export class RecordFeed {
  readonly #records = new Map<string, IngestRecord>();
  #since: string | undefined;

  constructor(
    private readonly source: RecordSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every record, oldest first, as of now. */
  async refresh(): Promise<IngestRecord[]> {
    const lookedAt = this.now();
    const fresh =
      this.#since === undefined ? await this.source.all() : await this.source.changedSince(this.#since);
    for (const record of fresh) {
      const known = this.#records.get(record.pk);
      if (!known || known.version <= record.version) this.#records.set(record.pk, record);
    }
    this.#since = new Date(lookedAt - FEED_OVERLAP_MS).toISOString();
    return [...this.#records.values()].sort(
      (a, b) => a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key),
    );
  }
}

/**
 * Looks at the feed every `intervalMs` and hands each look to `report`, one look at a
 * time: a look still running when the next is due (a large table, a busy machine) is not
 * joined by another. `stop` ends the looks; one already running still reports.
 */
export function reportEvery(
  feed: RecordFeed,
  intervalMs: number,
  report: (records: IngestRecord[]) => void,
  onError: (error: unknown) => void,
): { stop(): void } {
  let looking = false;
  const timer = setInterval(() => {
    if (looking) return;
    looking = true;
    feed
      .refresh()
      .then(report, onError)
      .finally(() => (looking = false));
  }, intervalMs);
  return { stop: () => clearInterval(timer) };
}
