/**
 * Versioning for the local drop bucket, as the deployed bucket has it (s3rver keeps one
 * object per key). The S3 front gives every write a version id and keeps what it replaces
 * or deletes: before an overwrite or a delete, the current object is copied into a hidden
 * bucket under `key/versionId`. A read of an older version is served from there, a read
 * with `If-Match` is refused 412 when the version's ETag differs, and `ListObjectVersions`
 * is answered from the index. So an ingest of an overwritten or deleted object reads the
 * version its event named, as it does on AWS, every time.
 *
 * Hand-written: s3rver has no versioning and no maintained emulator that runs in-process
 * has it either. The index is a JSON-lines log beside the objects, so it survives a restart.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import { xmlEscape } from '../../http/xml.ts';

export interface ObjectVersion {
  readonly versionId: string;
  readonly etag: string;
  readonly size: number;
  readonly lastModified: string;
}

interface KeyVersions {
  current: ObjectVersion | undefined;
  noncurrent: ObjectVersion[];
}

type LogEntry = { op: 'put'; key: string; version: ObjectVersion } | { op: 'delete'; key: string };

/** S3's version ids are opaque 32-character strings. */
export function newVersionId(): string {
  return randomBytes(24).toString('base64url').slice(0, 32);
}

export class VersionIndex {
  readonly #keys = new Map<string, KeyVersions>();
  readonly #locks = new Map<string, Promise<unknown>>();

  private constructor(private readonly log: string | undefined) {}

  static async open(log?: string): Promise<VersionIndex> {
    const index = new VersionIndex(log);
    const text = log ? await readFile(log, 'utf8').catch(() => '') : '';
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        index.#apply(JSON.parse(line) as LogEntry);
      } catch {
        // A line cut short by a crash: the write it described never answered 200.
      }
    }
    return index;
  }

  current(key: string): ObjectVersion | undefined {
    return this.#keys.get(key)?.current;
  }

  /** The version `versionId` of `key`, and whether it is the current one. */
  find(key: string, versionId: string): { version: ObjectVersion; isCurrent: boolean } | undefined {
    const versions = this.#keys.get(key);
    if (versions?.current?.versionId === versionId) return { version: versions.current, isCurrent: true };
    const version = versions?.noncurrent.find((entry) => entry.versionId === versionId);
    return version && { version, isCurrent: false };
  }

  /** Every version under `prefix`, newest first per key, as ListObjectVersions lists them. */
  list(prefix: string): { key: string; version: ObjectVersion; isLatest: boolean }[] {
    return [...this.#keys.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .flatMap(([key, versions]) => [
        ...(versions.current ? [{ key, version: versions.current, isLatest: true }] : []),
        ...[...versions.noncurrent].reverse().map((version) => ({ key, version, isLatest: false })),
      ]);
  }

  async created(key: string, version: ObjectVersion): Promise<void> {
    await this.#record({ op: 'put', key, version });
  }

  /** A delete without a version id: the current version becomes noncurrent (a delete marker on top). */
  async deleted(key: string): Promise<void> {
    await this.#record({ op: 'delete', key });
  }

  /** Runs `work` alone for `key`: a write and the copy of what it replaces never interleave. */
  exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.#locks.set(key, next);
    void next.finally(() => {
      if (this.#locks.get(key) === next) this.#locks.delete(key);
    });
    return next;
  }

  async #record(entry: LogEntry): Promise<void> {
    this.#apply(entry);
    if (this.log) await appendFile(this.log, `${JSON.stringify(entry)}\n`);
  }

  #apply(entry: LogEntry): void {
    const versions = this.#keys.get(entry.key) ?? { current: undefined, noncurrent: [] };
    if (versions.current) versions.noncurrent.push(versions.current);
    versions.current = entry.op === 'put' ? entry.version : undefined;
    this.#keys.set(entry.key, versions);
  }
}

/** The `ListObjectVersions` answer (one page: the local bucket is a laptop's). */
export function listVersionsXml(bucket: string, prefix: string, index: VersionIndex): string {
  const versions = index
    .list(prefix)
    .map(
      ({ key, version, isLatest }) =>
        `<Version><Key>${xmlEscape(key)}</Key><VersionId>${version.versionId}</VersionId><IsLatest>${isLatest}</IsLatest><LastModified>${version.lastModified}</LastModified><ETag>"${version.etag}"</ETag><Size>${version.size}</Size><StorageClass>STANDARD</StorageClass></Version>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${versions}</ListVersionsResult>`;
}
