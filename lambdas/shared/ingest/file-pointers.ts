/**
 * Which source a VideoGen file belongs to, as the webhook asks for every event: its `FILE#`
 * pointer, written once with the file and never changed, so a warm environment keeps what
 * it found (the later events of a file then cost no read). An eventually consistent read
 * first, at half the cost; a miss is read again consistently, as the pointer may be only
 * just written; a file of no source here is never kept, in case its pointer is on its way.
 */
import { findSourceOfFile, type IngestStore } from './store.ts';

/** Pointers one environment keeps: ~200 bytes each, so at most ~2 MB. */
export const KEPT_POINTERS = 10_000;

export function createSourceFinder(
  store: IngestStore,
  capacity = KEPT_POINTERS,
): (fileId: string) => Promise<string | undefined> {
  // A Map iterates in insertion order: the first key is the least recently used one.
  const kept = new Map<string, string>();
  return async (fileId) => {
    const known = kept.get(fileId);
    if (known !== undefined) {
      kept.delete(fileId);
      kept.set(fileId, known);
      return known;
    }
    const pk =
      (await findSourceOfFile(store, fileId, { consistent: false })) ??
      (await findSourceOfFile(store, fileId));
    if (pk === undefined) return undefined;
    kept.set(fileId, pk);
    if (kept.size > capacity) kept.delete(kept.keys().next().value as string);
    return pk;
  };
}
