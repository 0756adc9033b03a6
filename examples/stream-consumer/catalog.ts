/**
 * An example downstream consumer: every file that becomes READY is announced to a catalog
 * service (here any HTTP endpoint taking JSON), once per transition. Pure logic; the
 * handler next to it wires the stream and the HTTP call.
 */
import { becameReady, type IngestChange } from '../../lambdas/shared/ingest/stream.ts';

export interface CatalogEntry {
  readonly fileId: string;
  readonly source: string;
  readonly displayName: string | null;
  readonly type: string | null;
  readonly downloadUrl: string | null;
  readonly readyAt: string;
}

export interface CatalogDeps {
  readonly publish: (entry: CatalogEntry) => Promise<void>;
}

/** What a change means for the catalog: an entry to publish, or nothing. */
export function catalogEntryOf(change: IngestChange): CatalogEntry | undefined {
  const record = change.current;
  if (!record || !becameReady(change) || !record.fileId) return undefined;
  return {
    fileId: record.fileId,
    source: `s3://${record.bucket}/${record.key}`,
    displayName: record.displayName,
    type: record.type,
    downloadUrl: record.file?.sources?.downloadUrl ?? null,
    readyAt: record.readyAt ?? record.updatedAt,
  };
}

export async function announce(deps: CatalogDeps, change: IngestChange): Promise<boolean> {
  const entry = catalogEntryOf(change);
  if (!entry) return false;
  await deps.publish(entry);
  return true;
}
