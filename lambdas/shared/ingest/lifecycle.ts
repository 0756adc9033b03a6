/**
 * Pure lifecycle logic: what an observed file state (a webhook event, or a poll) does to
 * an ingest record. Order-independent and idempotent: the status is derived from
 * everything seen so far, never from the latest event alone, so duplicates and
 * out-of-order deliveries converge on the same record.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Readiness } from '../config.ts';
import { isKnownEventType, type VideoGenFile, type WebhookEventType } from '../videogen/contract.ts';
import {
  FAILURE_STATUSES,
  READY_STATUSES,
  STATUS_RANK,
  type FileSnapshot,
  type IngestRecord,
  type IngestStatus,
} from './record.ts';

/** Free-text fields longer than this stay out of the item (DynamoDB items cap at 400 KB). */
export const MAX_INLINE_TEXT = 1024;

export interface Observation {
  /** The webhook's event type; absent for a poll. */
  readonly eventType?: string;
  readonly file: VideoGenFile;
  /** When it was observed (ISO 8601). */
  readonly at: string;
}

interface Milestones {
  upload: boolean;
  playback: boolean;
  download: boolean;
  analysisCompleted: boolean;
  analysisFailed: boolean;
  processingFailed: boolean;
}

/** What the events seen and the newest file object, together, say has happened. */
function milestonesOf(events: Readonly<Record<string, string>>, file: FileSnapshot | null): Milestones {
  const has = (type: WebhookEventType): boolean => type in events;
  const status = file?.status;
  const download = has('file.download_ready') || status === 'READY' || Boolean(file?.sources?.downloadUrl);
  return {
    upload: has('file.upload.completed') || status === 'PROCESSING' || download,
    playback: has('file.playback_ready') || Boolean(file?.sources?.hlsSource),
    download,
    analysisCompleted: has('file.analysis_completed') || file?.analysis?.status === 'COMPLETED',
    analysisFailed: has('file.analysis_failed') || file?.analysis?.status === 'FAILED',
    processingFailed: status === 'FAILED',
  };
}

/**
 * Whether `readiness` is reached. Falls back where an event never comes: an image has no
 * HLS rendition (playback -> download), a temporary file is never analyzed (analysis -> download).
 */
export function isReadinessReached(
  readiness: Readiness,
  milestones: Milestones,
  record: Pick<IngestRecord, 'type' | 'isTemporary'>,
): boolean {
  switch (readiness) {
    case 'upload':
      return milestones.upload;
    case 'playback':
      return record.type === 'IMAGE' ? milestones.download : milestones.playback;
    case 'download':
      return milestones.download;
    case 'analysis':
      return record.isTemporary
        ? milestones.download
        : milestones.analysisCompleted || milestones.analysisFailed;
  }
}

/** Keeps the file object small: long free text is dropped and named in `omitted`. */
export function snapshotOf(file: VideoGenFile): FileSnapshot {
  const omitted: string[] = [];
  const analysis = file.analysis ? { ...file.analysis } : file.analysis;
  if (analysis) {
    if (typeof analysis.transcript === 'string') {
      delete analysis.transcript;
      omitted.push('analysis.transcript');
    }
    if (typeof analysis.description === 'string' && analysis.description.length > MAX_INLINE_TEXT) {
      delete analysis.description;
      omitted.push('analysis.description');
    }
  }
  const { analysis: _analysis, ...rest } = file;
  return {
    ...rest,
    ...(analysis === undefined ? {} : { analysis }),
    ...(omitted.length ? { omitted } : {}),
  };
}

/** The newer of two file objects: by `updatedAt`, then by how far along its status is. */
function newer(current: FileSnapshot | null, candidate: FileSnapshot): FileSnapshot {
  if (!current || current.fileId !== candidate.fileId) return candidate;
  const currentAt = current.updatedAt ?? '';
  const candidateAt = candidate.updatedAt ?? '';
  if (candidateAt !== currentAt) return candidateAt > currentAt ? candidate : current;
  const order = ['PENDING_UPLOAD', 'PROCESSING', 'READY', 'FAILED'];
  return order.indexOf(candidate.status) >= order.indexOf(current.status) ? candidate : current;
}

export interface Applied {
  readonly record: IngestRecord;
  /** Anything to write at all. */
  readonly changed: boolean;
  /** The readiness is reached (now or before): a waiting workflow may resume. */
  readonly ready: boolean;
  /** VideoGen says the file failed processing. */
  readonly failed: boolean;
}

/**
 * Applies one observation of a VideoGen file to its ingest record. Never moves a status
 * backwards; after a terminal failure it only enriches `events` and `file`.
 */
export function applyObservation(
  record: IngestRecord,
  observation: Observation,
  readiness: Readiness,
): Applied {
  if (record.fileId !== null && observation.file.fileId !== record.fileId) {
    // An event for a file this source abandoned (its URL expired): nothing to apply.
    return { record, changed: false, ready: READY_STATUSES.includes(record.status), failed: false };
  }
  const events = { ...record.events };
  if (
    observation.eventType &&
    isKnownEventType(observation.eventType) &&
    !(observation.eventType in events)
  ) {
    events[observation.eventType] = observation.at;
  }
  const file = newer(record.file, snapshotOf(observation.file));
  const milestones = milestonesOf(events, file);
  const ready = isReadinessReached(readiness, milestones, record);

  let derived: IngestStatus = record.status;
  if (milestones.processingFailed && !ready) derived = 'FAILED';
  else if (ready)
    derived = milestones.analysisCompleted
      ? 'ANALYZED'
      : milestones.analysisFailed
        ? 'ANALYSIS_FAILED'
        : 'READY';
  else if (milestones.upload) derived = 'UPLOADED';

  const terminal = FAILURE_STATUSES.includes(record.status);
  const status = !terminal && STATUS_RANK[derived] > STATUS_RANK[record.status] ? derived : record.status;
  const becameFailed = status === 'FAILED' && record.status !== 'FAILED';
  const next: IngestRecord = {
    ...record,
    status,
    events,
    file,
    readyAt: record.readyAt ?? (READY_STATUSES.includes(status) ? observation.at : null),
    error: becameFailed
      ? { code: 'VIDEOGEN_PROCESSING_FAILED', message: 'VideoGen reported the file as FAILED' }
      : record.error,
  };
  const changed =
    status !== record.status ||
    Object.keys(events).length !== Object.keys(record.events).length ||
    // Key order differs after a DynamoDB round trip: compare structurally.
    !isDeepStrictEqual(file, record.file);
  return {
    record: changed ? { ...next, updatedAt: observation.at } : record,
    changed,
    ready: READY_STATUSES.includes(status),
    failed: status === 'FAILED',
  };
}
