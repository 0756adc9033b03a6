/**
 * A VideoGen API simulator: what stripe-mock is to Stripe, for the calls in
 * `docs/videogen-file-uploads.txt` (the API's own page) and the assumptions in
 * `lambdas/shared/videogen/contract.ts`. It is the default API of `npm start` and the
 * counterpart of every test. Hand-written on `node:http` because it *is* the thing
 * under test's peer: no library simulates a third-party API's lifecycle and faults.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileTypeOfMime, SNIFF_BYTES, sniffMime } from '../../lambdas/shared/media-type.ts';
import {
  ANALYSIS_EVENT_TYPES,
  createFileRequestSchema,
  createWebhookEndpointRequestSchema,
  MAX_SINGLE_PUT_BYTES,
  type FileType,
  type VideoGenFile,
  type WebhookEventType,
} from '#shared/videogen/contract';
import { signWebhook } from '#shared/videogen/webhooks';
import { FaultInjector, type ApiOperation, type FaultKind, type FaultRule } from './faults.ts';
import { SlidingWindowLimit, type CreateRateLimit } from './rate-limit.ts';

export interface SimulatorOptions {
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** 0 picks a free port. @default 0 */
  readonly port?: number;
  /** When set, only `Bearer <apiKey>` is accepted; otherwise any non-empty bearer key. */
  readonly apiKey?: string;
  /** How long a presigned upload URL stays valid. @default 900000 (15 min) */
  readonly uploadUrlTtlMs?: number;
  /** From the bytes' arrival to `file.download_ready` (READY). @default 1500 */
  readonly processingMs?: number;
  /** From the bytes' arrival to `file.playback_ready`, video and audio only; at most `processingMs`. @default processingMs / 2 */
  readonly playbackMs?: number;
  /** From READY to `file.analysis_completed`/`_failed`, non-temporary files only. @default 1000 */
  readonly analysisMs?: number;
  /** A receiver slower than this has failed the attempt, which is retried. @default 5000 */
  readonly deliveryTimeoutMs?: number;
  /** The wait before each retry of a failed delivery; its length is the number of retries. @default [1000, 5000, 25000] */
  readonly deliveryRetryDelaysMs?: readonly number[];
  /** Largest accepted PUT. @default 5 GiB */
  readonly maxUploadBytes?: number;
  readonly faults?: readonly FaultRule[];
  /** VideoGen's rate limit on creates: above it, 429 with `Retry-After`. @default none */
  readonly createRateLimit?: CreateRateLimit;
  /** Seeds the fault dice, so a run can be repeated. @default the clock */
  readonly seed?: number;
  /** Receives one line per API call and delivery; silent by default. */
  readonly log?: (line: string) => void;
}

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

interface FileState {
  file: VideoGenFile;
  uploadUrlExpiresAt: number;
  received?: { bytes: number; sha256: string; at: string };
  /** An upload in progress: bytes so far, since when (epoch ms). */
  receiving?: { bytes: number; startedAt: number };
  head?: Buffer;
  puts: number;
  events: string[];
  processing: boolean;
  /** Deliveries held back by `reorder_delivery`, released after the file's next event. */
  held: (() => void)[];
}

interface EndpointState {
  id: string;
  url: string;
  events: string[];
  secrets: string[];
  deleted: boolean;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** The injected fault that caused this answer, if one did. */
    readonly fault?: FaultKind,
  ) {
    super(message);
  }
}

const JSON_BODY_LIMIT = 1024 * 1024;

function now(): string {
  return new Date().toISOString();
}

function id(prefix: string): string {
  return `${prefix}${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export class VideoGenSimulator extends EventEmitter {
  readonly faults: FaultInjector;
  readonly #options: Required<
    Omit<SimulatorOptions, 'apiKey' | 'faults' | 'seed' | 'log' | 'playbackMs' | 'createRateLimit'>
  > & {
    playbackMs: number;
  };
  readonly #apiKey: string | undefined;
  readonly #log: (line: string) => void;
  readonly #server: http.Server;
  readonly #urlSecret = randomBytes(32);
  readonly #files = new Map<string, FileState>();
  readonly #endpoints = new Map<string, EndpointState>();
  readonly #uploads: UploadRecord[] = [];
  readonly #requests: ApiRequestRecord[] = [];
  readonly #deliveries: DeliveryRecord[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<AbortController>();
  #pending = 0;
  #receivingUploads = 0;
  #peakReceivingUploads = 0;
  readonly #createLimit: { limit: SlidingWindowLimit; retryAfterSeconds: number } | undefined;
  #url = '';
  #closed = false;

  private constructor(options: SimulatorOptions) {
    super();
    const processingMs = options.processingMs ?? 1500;
    this.#options = {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      uploadUrlTtlMs: options.uploadUrlTtlMs ?? 15 * 60_000,
      processingMs,
      playbackMs: Math.min(options.playbackMs ?? Math.floor(processingMs / 2), processingMs),
      analysisMs: options.analysisMs ?? 1000,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 5000,
      deliveryRetryDelaysMs: options.deliveryRetryDelaysMs ?? [1000, 5000, 25000],
      maxUploadBytes: options.maxUploadBytes ?? MAX_SINGLE_PUT_BYTES,
    };
    this.#apiKey = options.apiKey;
    this.#log = options.log ?? (() => undefined);
    this.#createLimit = options.createRateLimit && {
      limit: new SlidingWindowLimit(options.createRateLimit.perSecond),
      retryAfterSeconds: options.createRateLimit.retryAfterSeconds ?? 1,
    };
    this.faults = new FaultInjector(options.faults ?? [], options.seed);
    this.#server = http.createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.#log(`internal error: ${error instanceof Error ? error.message : String(error)}`);
        if (!response.headersSent)
          sendJson(response, 500, { error: { code: 'internal', message: 'simulator error' } });
      });
    });
    this.#server.keepAliveTimeout = 5000;
  }

  /** Starts a simulator on loopback; `sim.url` is its base URL. */
  static async start(options: SimulatorOptions = {}): Promise<VideoGenSimulator> {
    const simulator = new VideoGenSimulator(options);
    await new Promise<void>((resolve, reject) => {
      simulator.#server.once('error', reject);
      simulator.#server.listen(simulator.#options.port, simulator.#options.host, () => resolve());
    });
    const address = simulator.#server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    simulator.#url = `http://${host}:${address.port}`;
    return simulator;
  }

  get url(): string {
    return this.#url;
  }

  get closed(): boolean {
    return this.#closed;
  }

  // ---- inspection API (also served as JSON under /_sim/) --------------------------------

  files(): SimulatedFile[] {
    return [...this.#files.values()].map((state) => this.#view(state));
  }

  file(fileId: string): SimulatedFile | undefined {
    const state = this.#files.get(fileId);
    return state && this.#view(state);
  }

  uploads(): UploadRecord[] {
    return [...this.#uploads];
  }

  requests(): ApiRequestRecord[] {
    return [...this.#requests];
  }

  /** The most upload bodies this simulator received at once: transfers in flight, as VideoGen sees them. */
  get peakConcurrentUploads(): number {
    return this.#peakReceivingUploads;
  }

  deliveries(): DeliveryRecord[] {
    return [...this.#deliveries];
  }

  endpoints(): SimulatedEndpoint[] {
    return [...this.#endpoints.values()].map((endpoint) => ({
      ...endpoint,
      events: [...endpoint.events],
      secrets: [...endpoint.secrets],
    }));
  }

  injected(): Partial<Record<FaultKind, number>> {
    return this.faults.injected();
  }

  /** Starts signing an endpoint's deliveries with a new secret too, as VideoGen does during rotation. */
  rotateEndpointSecret(endpointId: string): string {
    const endpoint = this.#endpoints.get(endpointId);
    if (!endpoint) throw new Error(`no endpoint ${endpointId}`);
    const secret = newSecret();
    endpoint.secrets.push(secret);
    return secret;
  }

  /** Resolves once no lifecycle step, delivery or retry is scheduled or under way. */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#timers.size > 0 || this.#pending > 0) {
      if (Date.now() > deadline) throw new Error(`simulator still busy after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const controller of this.#inflight) controller.abort();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #view(state: FileState): SimulatedFile {
    return {
      file: structuredClone(state.file),
      ...(state.received ? { received: { ...state.received } } : {}),
      ...(state.receiving ? { receiving: { ...state.receiving } } : {}),
      puts: state.puts,
      events: [...state.events],
    };
  }

  #state(): Record<string, unknown> {
    return {
      files: this.files(),
      uploads: this.uploads(),
      requests: this.requests(),
      deliveries: this.deliveries(),
      endpoints: this.endpoints().map(({ secrets: _secrets, ...endpoint }) => endpoint),
      faults: this.faults.rules(),
      injected: this.injected(),
    };
  }

  #schedule(delayMs: number, task: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      task();
    }, delayMs);
    this.#timers.add(timer);
  }

  // ---- HTTP -------------------------------------------------------------------------------

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.#url);
    const path = url.pathname;
    const method = request.method ?? 'GET';

    if (path.startsWith('/_sim/')) {
      await this.#handleAdmin(method, path, request, response);
      return;
    }
    const upload = /^\/upload\/([^/]+)$/.exec(path);
    if (upload?.[1]) {
      if (method !== 'PUT')
        return sendJson(response, 405, { error: { code: 'method_not_allowed', message: 'PUT only' } });
      // In flight from the request's arrival to its answer or its connection's end (a
      // sender that died): what a cap on transfers bounds.
      this.#receivingUploads += 1;
      this.#peakReceivingUploads = Math.max(this.#peakReceivingUploads, this.#receivingUploads);
      let counted = true;
      const done = () => {
        if (counted) this.#receivingUploads -= 1;
        counted = false;
      };
      request.socket.once('close', done);
      try {
        await this.#handleUpload(decodeURIComponent(upload[1]), url, request, response);
      } finally {
        done();
        request.socket.off('close', done);
      }
      return;
    }
    const route = this.#route(method, path);
    if (!route) {
      request.resume();
      return sendJson(response, 404, { error: { code: 'not_found', message: `no route ${method} ${path}` } });
    }
    const { op, handler, fileId } = route;
    let fault: FaultKind | undefined;
    let status = 500;
    try {
      this.#authenticate(request);
      let body: unknown;
      if (method === 'POST') body = await readJson(request);
      else request.resume();
      const displayName =
        fileId !== undefined
          ? (this.#files.get(fileId)?.file.displayName ?? undefined)
          : body && typeof body === 'object' && 'displayName' in body && typeof body.displayName === 'string'
            ? body.displayName
            : undefined;
      fault = await this.#apiFaults(op, {
        ...(fileId ? { fileId } : {}),
        ...(displayName ? { displayName } : {}),
      });
      const result = handler(body);
      status = result.status;
      if (result.body === undefined) {
        response.writeHead(status).end();
      } else {
        sendJson(response, status, result.body);
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      status = error.status;
      fault = error.fault ?? fault;
      sendJson(response, status, { error: { code: error.code, message: error.message } }, error.headers);
    } finally {
      this.#requests.push({
        op,
        at: now(),
        method,
        path,
        status,
        ...(fileId ? { fileId } : {}),
        ...(fault ? { fault } : {}),
      });
      this.#log(`${method} ${path} -> ${status}${fault ? ` (fault ${fault})` : ''}`);
    }
  }

  #route(
    method: string,
    path: string,
  ):
    | { op: ApiOperation; fileId?: string; handler: (body: unknown) => { status: number; body?: unknown } }
    | undefined {
    if (path === '/v1/files/upload' && method === 'POST') {
      return { op: 'create', handler: (body) => this.#createFile(body) };
    }
    const file = /^\/v1\/files\/([^/]+)$/.exec(path);
    if (file?.[1] && method === 'GET') {
      const fileId = decodeURIComponent(file[1]);
      return { op: 'get', fileId, handler: () => this.#getFile(fileId) };
    }
    if (path === '/v1/webhooks/endpoints' && method === 'POST') {
      return { op: 'register', handler: (body) => this.#createEndpoint(body) };
    }
    const endpoint = /^\/v1\/webhooks\/endpoints\/([^/]+)$/.exec(path);
    if (endpoint?.[1] && method === 'DELETE') {
      const endpointId = decodeURIComponent(endpoint[1]);
      return { op: 'unregister', handler: () => this.#deleteEndpoint(endpointId) };
    }
    return undefined;
  }

  #authenticate(request: http.IncomingMessage): void {
    const match = /^Bearer\s+(\S.*)$/i.exec(request.headers.authorization ?? '');
    const key = match?.[1]?.trim();
    if (!key) throw new HttpError(401, 'unauthorized', 'missing bearer API key');
    if (this.#apiKey !== undefined && key !== this.#apiKey) {
      throw new HttpError(401, 'unauthorized', 'invalid API key');
    }
  }

  /** Applies `slow`, then at most one of `rate_limit` / `server_error`; returns the failing fault. */
  async #apiFaults(
    op: ApiOperation,
    context: { fileId?: string; displayName?: string },
  ): Promise<FaultKind | undefined> {
    const fired = this.faults.fire('api', { on: op, ...context });
    for (const rule of fired) {
      if (rule.fault === 'slow') await sleep(rule.delayMs ?? 1000);
    }
    if (op === 'create' && this.#createLimit && !this.#createLimit.limit.tryTake()) {
      throw new HttpError(
        429,
        'rate_limited',
        'too many requests',
        { 'retry-after': String(this.#createLimit.retryAfterSeconds) },
        'rate_limit',
      );
    }
    const failing = fired.find((rule) => rule.fault !== 'slow');
    if (failing?.fault === 'rate_limit') {
      const seconds = failing.retryAfterSeconds ?? 1;
      throw new HttpError(
        429,
        'rate_limited',
        'too many requests',
        { 'retry-after': String(seconds) },
        'rate_limit',
      );
    }
    if (failing?.fault === 'server_error') {
      throw new HttpError(
        failing.status ?? 500,
        'internal_error',
        'injected server error',
        {},
        'server_error',
      );
    }
    return fired[0]?.fault;
  }

  #createFile(body: unknown): { status: number; body: unknown } {
    const parsed = createFileRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.path.join('.') || 'body';
      throw new HttpError(
        400,
        'validation_error',
        field === 'displayName' ? 'displayName is required' : `${field}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const fileId = id('vg_file_');
    const createdAt = now();
    const isTemporary = parsed.data.isTemporary ?? false;
    const file: VideoGenFile = {
      fileId,
      displayName: parsed.data.displayName,
      type: parsed.data.type ?? null,
      isTemporary,
      status: 'PENDING_UPLOAD',
      sources: { hlsSource: null, downloadUrl: null },
      analysis: { status: isTemporary ? 'SKIPPED' : 'PENDING', description: null, transcript: null },
      createdAt,
      updatedAt: createdAt,
    };
    const expiresAt = Date.now() + this.#options.uploadUrlTtlMs;
    this.#files.set(fileId, {
      file,
      uploadUrlExpiresAt: expiresAt,
      puts: 0,
      events: [],
      processing: false,
      held: [],
    });
    const signature = this.#signUpload(fileId, expiresAt);
    return {
      status: 201,
      body: {
        fileId,
        uploadUrl: `${this.#url}/upload/${fileId}?expires=${expiresAt}&signature=${signature}`,
      },
    };
  }

  #getFile(fileId: string): { status: number; body: unknown } {
    const state = this.#files.get(fileId);
    if (!state) throw new HttpError(404, 'not_found', `no file ${fileId}`);
    return { status: 200, body: state.file };
  }

  #createEndpoint(body: unknown): { status: number; body: unknown } {
    const parsed = createWebhookEndpointRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new HttpError(
        400,
        'validation_error',
        `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    const endpoint: EndpointState = {
      id: id('vg_whep_'),
      url: parsed.data.url,
      events: [...new Set(parsed.data.events)],
      secrets: [newSecret()],
      deleted: false,
    };
    this.#endpoints.set(endpoint.id, endpoint);
    return {
      status: 201,
      body: {
        id: endpoint.id,
        url: endpoint.url,
        events: endpoint.events,
        secret: endpoint.secrets[0],
        createdAt: now(),
      },
    };
  }

  #deleteEndpoint(endpointId: string): { status: number } {
    const endpoint = this.#endpoints.get(endpointId);
    if (!endpoint || endpoint.deleted)
      throw new HttpError(404, 'not_found', `no webhook endpoint ${endpointId}`);
    endpoint.deleted = true;
    return { status: 204 };
  }

  #signUpload(fileId: string, expiresAt: number): string {
    return createHmac('sha256', this.#urlSecret).update(`${fileId}:${expiresAt}`).digest('hex');
  }

  // ---- the presigned PUT, answered the way S3 answers one ----------------------------------

  async #handleUpload(
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
      this.#uploads.push(entry);
      this.emit('upload', entry);
      this.#log(`PUT /upload/${fileId} -> ${status} ${outcome}${entry.reason ? ` (${entry.reason})` : ''}`);
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

    const state = this.#files.get(fileId);
    const expires = Number(url.searchParams.get('expires'));
    const signature = url.searchParams.get('signature') ?? '';
    if (!state || signature !== this.#signUpload(fileId, expires)) {
      return reject(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
    }
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
    if (!Number.isSafeInteger(contentLength) || contentLength > this.#options.maxUploadBytes) {
      return reject(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
    }

    const hash = createHash('sha256');
    const head: Buffer[] = [];
    let headBytes = 0;
    let bytes = 0;
    const receiving = { bytes: 0, startedAt: Date.now() };
    state.receiving = receiving;
    this.#pending += 1;
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
      this.#pending -= 1;
      return;
    }
    this.#pending -= 1;
    if (bytes !== contentLength) {
      delete state.receiving;
      record(400, 'incomplete', { bytes, reason: `received ${bytes} of ${contentLength} bytes` });
      response
        .writeHead(400, { 'content-type': 'application/xml' })
        .end('<Error><Code>IncompleteBody</Code></Error>');
      return;
    }
    const sha256 = hash.digest('hex');
    const at = now();
    delete state.receiving;
    state.received = { bytes, sha256, at };
    state.head = Buffer.concat(head);
    state.puts += 1;
    record(200, 'stored', { bytes, sha256 });
    response.writeHead(200, { etag: `"${sha256.slice(0, 32)}"` }).end();
    if (state.file.status === 'PENDING_UPLOAD') this.#startProcessing(state);
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  #startProcessing(state: FileState): void {
    const { file } = state;
    file.status = 'PROCESSING';
    file.updatedAt = now();
    this.#emitEvent(state, 'file.upload.completed');
    const context = { fileId: file.fileId, ...(file.displayName ? { displayName: file.displayName } : {}) };
    const fileFaults = this.faults.fire('file', context);
    const failProcessing = fileFaults.some((rule) => rule.fault === 'fail_processing');
    const failAnalysis = fileFaults.some((rule) => rule.fault === 'fail_analysis');
    const { processingMs, playbackMs, analysisMs } = this.#options;
    state.processing = true;
    this.#pending += 1;
    void this.#inferType(state).then((type) => {
      this.#pending -= 1;
      if (failProcessing || type === undefined) {
        // The seed names no failure event: a failed file is seen by polling GET /v1/files/{id}.
        this.#schedule(processingMs, () => {
          file.status = 'FAILED';
          file.updatedAt = now();
          state.processing = false;
          this.emit('file', this.#view(state));
        });
        return;
      }
      file.type = type;
      if (type !== 'IMAGE') {
        this.#schedule(playbackMs, () => {
          file.sources = { ...file.sources, hlsSource: `${this.#url}/hls/${file.fileId}/master.m3u8` };
          file.updatedAt = now();
          this.#emitEvent(state, 'file.playback_ready');
        });
      }
      this.#schedule(processingMs, () => {
        file.sources = { ...file.sources, downloadUrl: `${this.#url}/download/${file.fileId}` };
        file.status = 'READY';
        file.updatedAt = now();
        state.processing = false;
        this.#emitEvent(state, 'file.download_ready');
        if (file.isTemporary) return;
        this.#schedule(analysisMs, () => {
          file.analysis = failAnalysis
            ? { status: 'FAILED', description: null, transcript: null }
            : {
                status: 'COMPLETED',
                description: `Simulated description of ${file.displayName ?? file.fileId}`,
                transcript: type === 'IMAGE' ? null : 'Simulated transcript.',
              };
          file.updatedAt = now();
          this.#emitEvent(state, failAnalysis ? 'file.analysis_failed' : 'file.analysis_completed');
        });
      });
    });
  }

  /** The declared type, or the one the bytes show ("inferred after upload processing completes"). */
  async #inferType(state: FileState): Promise<FileType | undefined> {
    if (state.file.type) return state.file.type;
    return fileTypeOfMime(state.head ? await sniffMime(state.head) : undefined);
  }

  #emitEvent(state: FileState, type: WebhookEventType): void {
    if (state.file.isTemporary && ANALYSIS_EVENT_TYPES.includes(type)) return;
    state.events.push(type);
    const event = { id: id('evt_'), type, createdAt: now(), data: { file: structuredClone(state.file) } };
    const body = JSON.stringify(event);
    this.emit('event', event);
    this.emit('file', this.#view(state));
    // Earlier events held back by a reorder fault go out right after this one.
    const released = state.held.splice(0);
    for (const endpoint of this.#endpoints.values()) {
      if (endpoint.deleted || !endpoint.events.includes(type)) continue;
      const context = {
        on: type,
        fileId: state.file.fileId,
        ...(state.file.displayName ? { displayName: state.file.displayName } : {}),
      };
      const fired = this.faults.fire('delivery', context);
      const base = { eventId: event.id, type, fileId: state.file.fileId, endpointId: endpoint.id };
      if (fired.some((rule) => rule.fault === 'drop_delivery')) {
        this.#recordDelivery({ ...base, attempt: 1, at: now(), outcome: 'dropped', durationMs: 0 });
        continue;
      }
      const delayMs = fired.find((rule) => rule.fault === 'delay_delivery')?.delayMs ?? 0;
      const send = (duplicate: boolean) => () => {
        void this.#deliver(endpoint, base, body, 1, duplicate);
      };
      if (fired.some((rule) => rule.fault === 'reorder_delivery')) {
        const release = send(false);
        state.held.push(release);
        // When no later event comes, the held one still goes out, late.
        this.#schedule(Math.max(delayMs, this.#options.processingMs), () => {
          const index = state.held.indexOf(release);
          if (index < 0) return;
          state.held.splice(index, 1);
          release();
        });
      } else {
        this.#schedule(delayMs, send(false));
      }
      if (fired.some((rule) => rule.fault === 'duplicate_delivery')) this.#schedule(delayMs + 1, send(true));
    }
    for (const release of released) this.#schedule(1, release);
  }

  #recordDelivery(record: DeliveryRecord): void {
    this.#deliveries.push(record);
    this.emit('delivery', record);
    this.#log(
      `deliver ${record.type} ${record.fileId} #${record.attempt} -> ${record.outcome}${record.status ? ` ${record.status}` : ''}${record.error ? ` (${record.error})` : ''}`,
    );
  }

  async #deliver(
    endpoint: EndpointState,
    base: Pick<DeliveryRecord, 'eventId' | 'type' | 'fileId' | 'endpointId'>,
    body: string,
    attempt: number,
    duplicate: boolean,
  ): Promise<void> {
    if (this.#closed || endpoint.deleted) return;
    const started = Date.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#options.deliveryTimeoutMs);
    this.#inflight.add(controller);
    this.#pending += 1;
    let status: number | undefined;
    let error: string | undefined;
    try {
      const response = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'VideoGen-Webhooks-Simulator/1',
          ...signWebhook(endpoint.secrets, base.eventId, new Date(), body),
        },
        body,
        signal: controller.signal,
      });
      await response.arrayBuffer();
      status = response.status;
    } catch (caught) {
      error = controller.signal.aborted
        ? `no answer within ${this.#options.deliveryTimeoutMs} ms`
        : caught instanceof Error
          ? caught.cause instanceof Error
            ? caught.cause.message
            : caught.message
          : String(caught);
    } finally {
      clearTimeout(timer);
      this.#inflight.delete(controller);
      this.#pending -= 1;
    }
    if (this.closed) return;
    const delivered = status !== undefined && status >= 200 && status < 300;
    const retryDelay = this.#options.deliveryRetryDelaysMs[attempt - 1];
    this.#recordDelivery({
      ...base,
      attempt,
      at: new Date(started).toISOString(),
      outcome: delivered ? 'delivered' : 'failed',
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
      durationMs: Date.now() - started,
      ...(!delivered && retryDelay === undefined ? { exhausted: true } : {}),
      ...(duplicate ? { duplicate: true } : {}),
    });
    if (!delivered && retryDelay !== undefined) {
      this.#schedule(retryDelay, () => void this.#deliver(endpoint, base, body, attempt + 1, duplicate));
    }
  }

  // ---- admin API for tests and the CLI ------------------------------------------------------

  async #handleAdmin(
    method: string,
    path: string,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    if (path === '/_sim/state' && method === 'GET') {
      request.resume();
      return sendJson(response, 200, this.#state());
    }
    if (path === '/_sim/faults' && method === 'GET') {
      request.resume();
      return sendJson(response, 200, { faults: this.faults.rules(), injected: this.injected() });
    }
    if (path === '/_sim/faults' && method === 'POST') {
      let rules: FaultRule[];
      try {
        const body = await readJson(request);
        const list: unknown[] = Array.isArray(body) ? body : [body];
        this.faults.add(...(list as FaultRule[]));
        rules = this.faults.rules();
      } catch (error) {
        return sendJson(response, 400, {
          error: {
            code: 'validation_error',
            message: error instanceof Error ? error.message : String(error),
          },
        });
      }
      return sendJson(response, 200, { faults: rules });
    }
    if (path === '/_sim/faults' && method === 'DELETE') {
      request.resume();
      this.faults.clear();
      return sendJson(response, 200, { faults: [] });
    }
    request.resume();
    sendJson(response, 404, { error: { code: 'not_found', message: `no route ${method} ${path}` } });
  }
}

function sendJson(
  response: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > JSON_BODY_LIMIT) throw new HttpError(413, 'payload_too_large', 'request body over 1 MiB');
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body is not JSON');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
