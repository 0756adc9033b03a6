/**
 * What the simulator keeps and shows: the state of each file and webhook endpoint, and the
 * records of every API call, upload and delivery that tests and the CLI inspect.
 */
import { randomUUID } from 'node:crypto';
import type { VideoGenFile } from '../../lambdas/shared/videogen/contract.ts';
import type { ApiOperation, FaultKind } from './faults.ts';

/** Every PUT that reached the simulator, complete or not. */
export interface UploadRecord {
  readonly fileId: string;
  readonly at: string;
  readonly status: number;
  /** The bytes that arrived, and their SHA-256 (hex) when the body arrived whole. */
  readonly bytes: number;
  readonly sha256: string | undefined;
  readonly contentLength: number | undefined;
  readonly transferEncoding: string | undefined;
  readonly outcome: 'stored' | 'rejected' | 'incomplete';
  readonly reason?: string;
}

export interface ApiRequestRecord {
  readonly op: ApiOperation;
  readonly at: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly fileId?: string;
  readonly fault?: FaultKind;
}

export interface DeliveryRecord {
  readonly eventId: string;
  readonly type: string;
  readonly fileId: string;
  readonly endpointId: string;
  readonly attempt: number;
  readonly at: string;
  /** `delivered` (2xx), `failed` (will be retried or gave up), or `dropped` (fault: never sent). */
  readonly outcome: 'delivered' | 'failed' | 'dropped';
  /** The receiver's HTTP status, when it answered in time. */
  readonly status?: number;
  readonly error?: string;
  readonly durationMs: number;
  /** Set on the last failed attempt: VideoGen gave up on this event for this endpoint. */
  readonly exhausted?: boolean;
  /** Set when a fault made this an extra copy of a delivery. */
  readonly duplicate?: boolean;
}

export interface SimulatedFile {
  /** The file object exactly as `GET /v1/files/{id}` answers it. */
  readonly file: VideoGenFile;
  /** What the last complete PUT stored. */
  readonly received?: { readonly bytes: number; readonly sha256: string; readonly at: string };
  /** An upload in progress: bytes so far, since when (epoch ms). */
  readonly receiving?: { readonly bytes: number; readonly startedAt: number };
  /** Completed PUTs (an overwrite is a second one). */
  readonly puts: number;
  /** Event types emitted, in order (before delivery faults). */
  readonly events: readonly string[];
}

export interface SimulatedEndpoint {
  readonly id: string;
  readonly url: string;
  readonly events: readonly string[];
  /** Newest last; deliveries are signed with each (key rotation). */
  readonly secrets: readonly string[];
  readonly deleted: boolean;
}

/** A file as the simulator holds it (mutable; `SimulatedFile` is its snapshot). */
export interface FileState {
  file: VideoGenFile;
  uploadUrlExpiresAt: number;
  received?: { bytes: number; sha256: string; at: string };
  /** An upload in progress: bytes so far, since when (epoch ms). */
  receiving?: { bytes: number; startedAt: number };
  /** The first bytes of the last stored body, for the type the bytes show. */
  head?: Buffer;
  puts: number;
  events: string[];
  processing: boolean;
  /** Deliveries held back by `reorder_delivery`, released after the file's next event. */
  held: (() => void)[];
}

export interface EndpointState {
  id: string;
  url: string;
  events: string[];
  secrets: string[];
  deleted: boolean;
}

export function snapshotOf(state: FileState): SimulatedFile {
  return {
    file: structuredClone(state.file),
    ...(state.received ? { received: { ...state.received } } : {}),
    ...(state.receiving ? { receiving: { ...state.receiving } } : {}),
    puts: state.puts,
    events: [...state.events],
  };
}

export function now(): string {
  return new Date().toISOString();
}

/** A VideoGen-style id: the prefix, then 24 hex characters. */
export function newId(prefix: string): string {
  return `${prefix}${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}
