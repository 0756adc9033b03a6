/**
 * The presigned PUT, answered the way S3 answers one: the signature and expiry first, then
 * upload faults, `Content-Length` required (never chunked), the size limit, and the body
 * hashed as it streams; a body cut short stores nothing. Every PUT is recorded.
 */
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { SNIFF_BYTES } from '../../lambdas/shared/media-type.ts';
import type { VideoGenApi } from './api.ts';
import type { FaultInjector } from './faults.ts';
import { now, type FileState, type UploadRecord } from './records.ts';
import type { BackgroundWork } from './work.ts';

export interface UploadSettings {
  /** Largest accepted PUT. */
  readonly maxUploadBytes: number;
}

export class UploadReceiver {
  readonly uploads: UploadRecord[] = [];
  #receiving = 0;
  #peakReceiving = 0;

  constructor(
    private readonly settings: UploadSettings,
    private readonly api: VideoGenApi,
    private readonly faults: FaultInjector,
    private readonly work: BackgroundWork,
    private readonly events: EventEmitter,
    private readonly log: (line: string) => void,
    /** A body stored whole: the file's processing begins. */
    private readonly onStored: (state: FileState) => void,
  ) {}

  /** The most upload bodies received at once: transfers in flight, as VideoGen sees them. */
  get peakConcurrent(): number {
    return this.#peakReceiving;
  }

  async handle(
    fileId: string,
    url: URL,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    // In flight from the request's arrival to its answer or its connection's end (a sender
    // that died): what a cap on transfers bounds.
    this.#receiving += 1;
    this.#peakReceiving = Math.max(this.#peakReceiving, this.#receiving);
    let counted = true;
    const done = () => {
      if (counted) this.#receiving -= 1;
      counted = false;
    };
    request.socket.once('close', done);
    try {
      await this.#receive(fileId, url, request, response);
    } finally {
      done();
      request.socket.off('close', done);
    }
  }

  async #receive(
    fileId: string,
    url: URL,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    const contentLengthHeader = request.headers['content-length'];
    const contentLength = contentLengthHeader === undefined ? undefined : Number(contentLengthHeader);
    const transferEncoding = request.headers['transfer-encoding'];
    const record = (
      status: number,
      outcome: UploadRecord['outcome'],
      extra: Partial<UploadRecord> = {},
    ): void => {
      const entry: UploadRecord = {
        fileId,
        at: now(),
        status,
        bytes: 0,
        sha256: undefined,
        contentLength,
        transferEncoding,
        outcome,
        ...extra,
      };
      this.uploads.push(entry);
      this.events.emit('upload', entry);
      this.log(`PUT /upload/${fileId} -> ${status} ${outcome}${entry.reason ? ` (${entry.reason})` : ''}`);
    };
    // Answer before reading the body, as S3 does, then drain it so the client sees the answer.
    const reject = (
      status: number,
      code: string,
      message: string,
      headers: Record<string, string> = {},
    ): void => {
      record(status, 'rejected', { reason: code });
      response.writeHead(status, { 'content-type': 'application/xml', connection: 'close', ...headers });
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`,
      );
      request.resume();
    };

    const signed = this.api.signedUpload(fileId, url);
    if (!signed) {
      return reject(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
    }
    const { state, expires } = signed;
    const displayName = state.file.displayName ?? undefined;
    const context = { on: 'put', fileId, ...(displayName ? { displayName } : {}) };
    const fired = [...this.faults.fire('api', context), ...this.faults.fire('upload', context)];
    for (const rule of fired) if (rule.fault === 'slow') await sleep(rule.delayMs ?? 1000);
    if (Date.now() > expires || fired.some((rule) => rule.fault === 'expire_url')) {
      return reject(403, 'AccessDenied', 'Request has expired');
    }
    const failing = fired.find((rule) => rule.fault === 'rate_limit' || rule.fault === 'server_error');
    if (failing?.fault === 'rate_limit') {
      return reject(503, 'SlowDown', 'Please reduce your request rate.', {
        'retry-after': String(failing.retryAfterSeconds ?? 1),
      });
    }
    if (failing)
      return reject(
        failing.status ?? 500,
        'InternalError',
        'We encountered an internal error. Please try again.',
      );
    if (transferEncoding !== undefined || contentLength === undefined) {
      return reject(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
    }
    if (!Number.isSafeInteger(contentLength) || contentLength > this.settings.maxUploadBytes) {
      return reject(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
    }

    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;
    let bytes = 0;
    const receiving = { bytes: 0, startedAt: Date.now() };
    state.receiving = receiving;
    const end = this.work.begin();
    try {
      await new Promise<void>((resolve, reject) => {
        request.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          receiving.bytes = bytes;
          hash.update(chunk);
          if (headBytes < SNIFF_BYTES) {
            head.push(chunk.subarray(0, SNIFF_BYTES - headBytes));
            headBytes += Math.min(chunk.length, SNIFF_BYTES - headBytes);
          }
        });
        request.once('end', resolve);
        request.once('error', reject);
        request.once('close', () => {
          if (!request.complete) reject(new Error('connection closed before the body was complete'));
        });
      });
    } catch {
      delete state.receiving;
      record(400, 'incomplete', {
        bytes,
        reason: `connection closed after ${bytes} of ${contentLength} bytes`,
      });
      return;
    } finally {
      end();
    }
    if (bytes !== contentLength) {
      delete state.receiving;
      record(400, 'incomplete', { bytes, reason: `received ${bytes} of ${contentLength} bytes` });
      response
        .writeHead(400, { 'content-type': 'application/xml' })
        .end('<Error><Code>IncompleteBody</Code></Error>');
      return;
    }
    const sha256 = hash.digest('hex');
    delete state.receiving;
    state.received = { bytes, sha256, at: now() };
    // Copied into memory of its own: a small Buffer.concat is a slice of Node's shared 8 KB
    // pool, and a head kept for every file would keep a pool slab alive each.
    state.head = Buffer.alloc(headBytes);
    Buffer.concat(head).copy(state.head);
    state.puts += 1;
    record(200, 'stored', { bytes, sha256 });
    response.writeHead(200, { etag: `"${sha256.slice(0, 32)}"` }).end();
    if (state.file.status === 'PENDING_UPLOAD') this.onStored(state);
  }
}
