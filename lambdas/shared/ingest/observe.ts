import type { Readiness } from '../config.ts';
import { applyObservation, type Applied, type Observation } from './lifecycle.ts';
import { IngestRecordMissingError } from './errors.ts';
import { ConcurrentUpdateError, getRecord, saveRecord, type IngestStore } from './store.ts';

/** Optimistic writes lose to concurrent ones at most this many times before giving up (and being retried from outside). */
const MAX_CONFLICTS = 8;

/**
 * Reads a record, applies an observation of its VideoGen file, and writes it back if
 * nobody wrote in between; on a conflict, reads and applies again. The answer carries the
 * record as stored, with its task token.
 */
export async function recordObservation(
  store: IngestStore,
  pk: string,
  observation: Observation,
  readinessOverride?: Readiness,
): Promise<Applied> {
  for (let conflict = 0; ; conflict += 1) {
    const record = await getRecord(store, pk);
    if (!record) throw new IngestRecordMissingError(`no ingest record ${pk}`);
    const applied = applyObservation(record, observation, readinessOverride ?? record.readiness);
    if (!applied.changed) return applied;
    try {
      await saveRecord(store, record, applied.record);
      return { ...applied, record: { ...applied.record, version: record.version + 1 } };
    } catch (error) {
      if (!(error instanceof ConcurrentUpdateError) || conflict + 1 >= MAX_CONFLICTS) throw error;
    }
  }
}
