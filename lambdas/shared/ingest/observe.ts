import type { Readiness } from '../config.ts';
import { applyObservation, type Applied, type Observation } from './lifecycle.ts';
import { IngestRecordMissingError } from './errors.ts';
import { READY_STATUSES, type IngestRecord } from './record.ts';
import { ConcurrentUpdateError, getRecord, saveRecord, type IngestStore } from './store.ts';

/** Optimistic writes lose to concurrent ones at most this many times before giving up (and being retried from outside). */
const MAX_CONFLICTS = 8;

/**
 * Reads a record, applies an observation of its VideoGen file, and writes it back if
 * nobody wrote in between; on a conflict, applies it again to the record that won (which
 * the refusal carries, else read again). The answer carries the
 * record as stored, with its task token, and how long the file took from its drop to
 * readiness when this very write made it ready (for the latency metric, counted once).
 */
export interface Observed extends Applied {
  readonly dropToReadyMs?: number;
}

function isReady(record: IngestRecord): boolean {
  return READY_STATUSES.includes(record.status);
}

export async function recordObservation(
  store: IngestStore,
  pk: string,
  observation: Observation,
  readinessOverride?: Readiness,
): Promise<Observed> {
  let current: IngestRecord | undefined;
  for (let conflict = 0; ; conflict += 1) {
    const record = current ?? (await getRecord(store, pk));
    if (!record) throw new IngestRecordMissingError(`no ingest record ${pk}`);
    const applied = applyObservation(record, observation, readinessOverride ?? record.readiness);
    if (!applied.changed) return applied;
    try {
      await saveRecord(store, record, applied.record);
      const stored = { ...applied, record: { ...applied.record, version: record.version + 1 } };
      if (isReady(record) || !isReady(applied.record)) return stored;
      const readyAt = Date.parse(applied.record.readyAt ?? observation.at);
      return { ...stored, dropToReadyMs: Math.max(0, readyAt - Date.parse(record.createdAt)) };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || conflict + 1 >= MAX_CONFLICTS) throw error;
      current = error.current;
    }
  }
}
