import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readiness } from '#shared/config';
import { fileTypeOfMime, SNIFF_BYTES, sniffMime } from '#shared/media-type';
import { type IngestStore } from '#shared/ingest/store';
import { claimSource } from '#shared/ingest/claims';
import { newIngestRecord } from '#shared/ingest/new-record';
import { sourcePk, type IngestError, type SourceRef } from '#shared/ingest/record';
import { classifySourceReadError, type SourceReadFailure } from '#shared/ingest/source-read';
import { httpStatusOf } from '#shared/aws-errors';
import { eventKeyCandidates } from '#shared/s3-event-key';

export const MAX_DISPLAY_NAME_LENGTH = 512;
/** Per-object options, as S3 user metadata (`x-amz-meta-videogen-display-name` and so on). */
export const METADATA = { displayName: 'videogen-display-name', temporary: 'videogen-temporary' } as const;

export interface PrepareInput {
  readonly source: {
    readonly bucket: string;
    readonly key: string;
    readonly versionId: string | null;
    readonly etag: string | null;
  };
  readonly executionArn: string;
}

export type PrepareOutput =
  | { readonly outcome: 'ACCEPTED'; readonly pk: string }
  | { readonly outcome: 'REJECTED'; readonly pk: string; readonly error: IngestError }
  | { readonly outcome: 'DUPLICATE'; readonly pk: string };

export interface PrepareDeps {
  readonly s3: S3Client;
  readonly store: IngestStore;
  readonly readiness: Readiness;
  readonly maxFileBytes: number;
  readonly now: () => string;
}

function reject(code: string, message: string): IngestError {
  return { code, message };
}

const SOURCE_READ_REJECTIONS: Record<SourceReadFailure, IngestError> = {
  GONE: reject('SOURCE_GONE', 'the object was deleted before it could be ingested'),
  CHANGED: reject(
    'SOURCE_CHANGED',
    'the object was overwritten before it could be ingested; the new content is ingested on its own',
  ),
};

/** Decodes an RFC 2047 `=?UTF-8?B?…?=` word, the form S3 metadata takes for non-ASCII text. */
export function decodeMetadataText(value: string): string {
  const match = /^=\?utf-8\?([bq])\?(.*)\?=$/i.exec(value.trim());
  if (!match?.[1] || match[2] === undefined) return value;
  if (match[1].toLowerCase() === 'b') return Buffer.from(match[2], 'base64').toString('utf8');
  const bytes = match[2]
    .replace(/_/g, ' ')
    .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/** Reads the per-object options, or says which one is malformed. */
export function readOptions(
  key: string,
  metadata: Record<string, string> | undefined,
): { displayName: string; isTemporary: boolean } | IngestError {
  const rawName = metadata?.[METADATA.displayName];
  const displayName =
    rawName === undefined ? (key.split('/').pop() ?? key) : decodeMetadataText(rawName).trim();
  if (displayName === '' || displayName.length > MAX_DISPLAY_NAME_LENGTH) {
    return reject(
      'INVALID_OPTIONS',
      `${METADATA.displayName} must be 1 to ${MAX_DISPLAY_NAME_LENGTH} characters`,
    );
  }
  const rawTemporary = metadata?.[METADATA.temporary]?.trim().toLowerCase();
  if (rawTemporary !== undefined && rawTemporary !== 'true' && rawTemporary !== 'false') {
    return reject(
      'INVALID_OPTIONS',
      `${METADATA.temporary} must be "true" or "false", got "${rawTemporary}"`,
    );
  }
  return { displayName, isTemporary: rawTemporary === 'true' };
}

/** What one read of a source object told: its version, ETag, size and metadata, and its first bytes. */
interface SourceRead {
  readonly versionId: string | undefined;
  readonly etag: string | undefined;
  readonly size: number;
  readonly metadata: Record<string, string> | undefined;
  readonly firstBytes: Uint8Array;
}

/** The whole object's size from a ranged answer (`bytes 0-4099/123456`), else its length. */
function objectSize(contentRange: string | undefined, contentLength: number | undefined): number {
  const total = contentRange ? /\/(\d+)$/.exec(contentRange)?.[1] : undefined;
  return total === undefined ? (contentLength ?? 0) : Number(total);
}

/**
 * One ranged GET of the object's first bytes, which also answers what a HEAD would (one
 * request a file instead of two). S3 answers any range of an empty object 416: only then
 * is the object headed, for its version and ETag.
 */
async function readSource(
  s3: S3Client,
  bucket: string,
  key: string,
  pinned: { VersionId: string } | { IfMatch: string } | Record<string, never>,
): Promise<SourceRead> {
  try {
    const got = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${SNIFF_BYTES - 1}`, ...pinned }),
    );
    return {
      versionId: got.VersionId,
      etag: got.ETag,
      size: objectSize(got.ContentRange, got.ContentLength),
      metadata: got.Metadata,
      firstBytes: got.Body ? await got.Body.transformToByteArray() : new Uint8Array(),
    };
  } catch (error) {
    if (httpStatusOf(error) !== 416) throw error;
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...pinned }));
    return {
      versionId: head.VersionId,
      etag: head.ETag,
      size: head.ContentLength ?? 0,
      metadata: head.Metadata,
      firstBytes: new Uint8Array(),
    };
  }
}

/**
 * Reads the object the event names (its version, or its ETag): under the key decoded from
 * the event first, then the key as the event sent it (`eventKeyCandidates`). When both name
 * an object of that version or ETag, the decoded one wins: the same bytes either way. When
 * neither does, the failure to classify is the decoded key's if it answered 412 (it holds
 * another ETag: overwritten), else the raw key's.
 */
async function findSource(
  s3: S3Client,
  source: PrepareInput['source'],
): Promise<{ key: string; read: SourceRead } | { key: string; error: unknown }> {
  const pinned = source.versionId
    ? { VersionId: source.versionId }
    : source.etag
      ? { IfMatch: `"${source.etag}"` }
      : {};
  const failures: { key: string; error: unknown }[] = [];
  for (const key of eventKeyCandidates(source.key)) {
    try {
      return { key, read: await readSource(s3, source.bucket, key, pinned) };
    } catch (error) {
      failures.push({ key, error });
    }
  }
  const [first, ...rest] = failures;
  const raw = rest.at(-1);
  if (!first || !raw) return first ?? { key: source.key, error: new Error('no key to read') };
  // 412: the decoded key holds another ETag now, so it is the object, overwritten.
  return httpStatusOf(first.error) === 412 ? first : raw;
}

/**
 * Reads the object (its first bytes and metadata) and its options, validates it, and claims
 * it in the table with a conditional write. What must not be sent is recorded `REJECTED`
 * with its reason; a source claimed before (a duplicate event that got past the execution
 * name) stops.
 */
export async function prepare(deps: PrepareDeps, input: PrepareInput): Promise<PrepareOutput> {
  const { bucket } = input.source;
  const at = deps.now();
  const found = await findSource(deps.s3, input.source);
  if ('error' in found) {
    const { key, error } = found;
    const failure = await classifySourceReadError(deps.s3, { bucket, key }, error);
    if (!failure) throw error;
    const ref: SourceRef = {
      bucket,
      key,
      versionId: input.source.versionId,
      etag: input.source.etag ?? 'unknown',
    };
    return claimRejected(deps, ref, 0, null, SOURCE_READ_REJECTIONS[failure], input.executionArn, at);
  }

  const { key, read } = found;
  const versionId = read.versionId && read.versionId !== 'null' ? read.versionId : null;
  const ref: SourceRef = {
    bucket,
    key,
    versionId,
    etag: (read.etag ?? input.source.etag ?? '').replaceAll('"', ''),
  };
  const size = read.size;
  if (size === 0)
    return claimRejected(
      deps,
      ref,
      size,
      null,
      reject('EMPTY', 'the object is empty (0 bytes)'),
      input.executionArn,
      at,
    );
  if (size > deps.maxFileBytes) {
    const rejection = reject(
      'TOO_LARGE',
      `the object is ${size} bytes, over the ${deps.maxFileBytes}-byte limit`,
    );
    return claimRejected(deps, ref, size, null, rejection, input.executionArn, at);
  }
  const options = readOptions(key, read.metadata);
  if ('code' in options) return claimRejected(deps, ref, size, null, options, input.executionArn, at);
  const mime = await sniffMime(read.firstBytes);
  const type = fileTypeOfMime(mime);
  if (!type) {
    const rejection = reject(
      'NOT_MEDIA',
      `the bytes are ${mime ? `${mime}, not` : 'not'} an image, video or audio file`,
    );
    return claimRejected(deps, ref, size, mime ?? null, rejection, input.executionArn, at, options);
  }

  const record = newIngestRecord({
    source: ref,
    size,
    contentType: mime ?? null,
    displayName: options.displayName,
    type,
    isTemporary: options.isTemporary,
    readiness: deps.readiness,
    executionArn: input.executionArn,
    at,
  });
  const claimed = await claimSource(deps.store, record);
  return claimed ? { outcome: 'ACCEPTED', pk: record.pk } : { outcome: 'DUPLICATE', pk: record.pk };
}

async function claimRejected(
  deps: PrepareDeps,
  source: SourceRef,
  size: number,
  contentType: string | null,
  rejection: IngestError,
  executionArn: string,
  at: string,
  options?: { displayName: string; isTemporary: boolean },
): Promise<PrepareOutput> {
  const record = newIngestRecord({
    source,
    size,
    contentType,
    displayName: options?.displayName ?? null,
    type: null,
    isTemporary: options?.isTemporary ?? false,
    readiness: deps.readiness,
    executionArn,
    at,
    rejection,
  });
  const claimed = await claimSource(deps.store, record);
  return claimed
    ? { outcome: 'REJECTED', pk: sourcePk(source), error: rejection }
    : { outcome: 'DUPLICATE', pk: record.pk };
}
