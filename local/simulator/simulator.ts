/**
 * A VideoGen API simulator: what stripe-mock is to Stripe, for the calls in
 * `../shared/seed/videogen-file-uploads.txt` (the API's own page) and the assumptions in
 * `lambdas/shared/videogen/contract.ts`. It is the default API of `npm start` and the
 * counterpart of every test. Hand-written on `node:http` because it *is* the thing
 * under test's peer: no library simulates a third-party API's lifecycle and faults.
 *
 * This file is the front: options, the server and its routes, and what tests inspect.
 * The parts: `api.ts` (the four calls), `uploads.ts` (the presigned PUT), `lifecycle.ts`
 * (processing and events), `deliveries.ts` (webhooks and their retries), `admin.ts`
 * (`/_sim/`), `faults.ts`, `work.ts` (timers and work under way).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_SINGLE_PUT_BYTES } from '../../lambdas/shared/videogen/contract.ts';
import { handleAdmin } from './admin.ts';
import { newEndpointSecret, VideoGenApi } from './api.ts';
import { WebhookSender } from './deliveries.ts';
import { FaultInjector, type FaultKind, type FaultRule } from './faults.ts';
import { sendJson } from './http.ts';
import { FileLifecycle } from './lifecycle.ts';
import type { CreateRateLimit } from './rate-limit.ts';
import {
  snapshotOf,
  type ApiRequestRecord,
  type DeliveryRecord,
  type SimulatedEndpoint,
  type SimulatedFile,
  type UploadRecord,
} from './records.ts';
import { readSimulatorState, SimulatorStateFile, type SavedSimulator } from './state-file.ts';
import { UploadReceiver } from './uploads.ts';
import { BackgroundWork } from './work.ts';

export type {
  ApiRequestRecord,
  DeliveryRecord,
  SimulatedEndpoint,
  SimulatedFile,
  UploadRecord,
} from './records.ts';

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
  /**
   * Where the simulator keeps its files, endpoints and port across restarts (`state-file.ts`):
   * a file it was processing when it closed goes on after the next start, on the same port
   * when that is free. @default none: each start is empty
   */
  readonly stateFile?: string;
}

export class VideoGenSimulator extends EventEmitter {
  readonly faults: FaultInjector;
  readonly #host: string;
  readonly #log: (line: string) => void;
  readonly #server: http.Server;
  readonly #work = new BackgroundWork();
  readonly #api: VideoGenApi;
  readonly #uploads: UploadReceiver;
  readonly #sender: WebhookSender;
  readonly #lifecycle: FileLifecycle;
  readonly #urlSecret: Buffer;
  #stateFile: SimulatorStateFile | undefined;
  #url = '';

  private constructor(options: SimulatorOptions, saved: SavedSimulator | undefined) {
    super();
    const processingMs = options.processingMs ?? 1500;
    const baseUrl = () => this.#url;
    this.#host = options.host ?? '127.0.0.1';
    this.#log = options.log ?? (() => undefined);
    this.faults = new FaultInjector(options.faults ?? [], options.seed);
    this.#urlSecret = saved?.urlSecret ?? randomBytes(32);
    this.#api = new VideoGenApi(
      {
        apiKey: options.apiKey,
        uploadUrlTtlMs: options.uploadUrlTtlMs ?? 15 * 60_000,
        createRateLimit: options.createRateLimit,
        urlSecret: this.#urlSecret,
      },
      this.faults,
      this.#log,
      baseUrl,
    );
    this.#sender = new WebhookSender(
      {
        deliveryTimeoutMs: options.deliveryTimeoutMs ?? 5000,
        deliveryRetryDelaysMs: options.deliveryRetryDelaysMs ?? [1000, 5000, 25000],
      },
      this.#work,
      this,
      this.#log,
    );
    for (const state of saved?.files ?? []) this.#api.files.set(state.file.fileId, state);
    for (const endpoint of saved?.endpoints ?? []) this.#api.endpoints.set(endpoint.id, endpoint);
    const lifecycle = new FileLifecycle(
      {
        processingMs,
        playbackMs: Math.min(options.playbackMs ?? Math.floor(processingMs / 2), processingMs),
        analysisMs: options.analysisMs ?? 1000,
      },
      this.#api.endpoints,
      this.#sender,
      this.faults,
      this.#work,
      this,
      baseUrl,
    );
    this.#uploads = new UploadReceiver(
      { maxUploadBytes: options.maxUploadBytes ?? MAX_SINGLE_PUT_BYTES },
      this.#api,
      this.faults,
      this.#work,
      this,
      this.#log,
      (state) => lifecycle.start(state),
    );
    this.#lifecycle = lifecycle;
    this.#server = http.createServer((request, response) => {
      this.#handle(request, response)
        .catch((error: unknown) => {
          this.#log(`internal error: ${error instanceof Error ? error.message : String(error)}`);
          if (!response.headersSent)
            sendJson(response, 500, { error: { code: 'internal', message: 'simulator error' } });
        })
        // A call may have created a file or an endpoint, or stored bytes.
        .finally(() => this.#stateFile?.changed());
    });
    this.on('file', () => this.#stateFile?.changed());
    this.#server.keepAliveTimeout = 5000;
  }

  /** Starts a simulator on loopback; `sim.url` is its base URL. */
  static async start(options: SimulatorOptions = {}): Promise<VideoGenSimulator> {
    const saved = options.stateFile ? await readSimulatorState(options.stateFile) : undefined;
    const simulator = new VideoGenSimulator(options, saved);
    // The port of before, when free: the upload URLs it handed out name it.
    const port = options.port || saved?.port || 0;
    await simulator.#listen(port).catch(async (error: unknown) => {
      if (!(saved && !options.port && (error as NodeJS.ErrnoException).code === 'EADDRINUSE')) throw error;
      simulator.#log(`port ${port} of the last start is taken: upload URLs handed out before fail`);
      await simulator.#listen(0);
    });
    const address = simulator.#server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    simulator.#url = `http://${host}:${address.port}`;
    if (options.stateFile) {
      simulator.#stateFile = await SimulatorStateFile.create(
        options.stateFile,
        { port: address.port, urlSecret: simulator.#urlSecret },
        simulator.#api.files,
        simulator.#api.endpoints,
      );
      for (const state of simulator.#api.files.values()) simulator.#lifecycle.resume(state);
    }
    return simulator;
  }

  #listen(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const failed = (error: Error) => reject(error);
      this.#server.once('error', failed);
      this.#server.listen(port, this.#host, () => {
        this.#server.off('error', failed);
        resolve();
      });
    });
  }

  get url(): string {
    return this.#url;
  }

  get closed(): boolean {
    return this.#work.closed;
  }

  // ---- inspection API (also served as JSON under /_sim/) --------------------------------

  files(): SimulatedFile[] {
    return [...this.#api.files.values()].map(snapshotOf);
  }

  file(fileId: string): SimulatedFile | undefined {
    const state = this.#api.files.get(fileId);
    return state && snapshotOf(state);
  }

  uploads(): UploadRecord[] {
    return [...this.#uploads.uploads];
  }

  requests(): ApiRequestRecord[] {
    return [...this.#api.requests];
  }

  /** The most upload bodies this simulator received at once: transfers in flight, as VideoGen sees them. */
  get peakConcurrentUploads(): number {
    return this.#uploads.peakConcurrent;
  }

  deliveries(): DeliveryRecord[] {
    return [...this.#sender.deliveries];
  }

  endpoints(): SimulatedEndpoint[] {
    return [...this.#api.endpoints.values()].map((endpoint) => ({
      ...endpoint,
      events: [...endpoint.events],
      secrets: [...endpoint.secrets],
    }));
  }

  injected(): Partial<Record<FaultKind, number>> {
    return this.faults.injected();
  }

  /** Everything above as one JSON document (`GET /_sim/state`), the endpoints' secrets left out. */
  state(): Record<string, unknown> {
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

  /** Starts signing an endpoint's deliveries with a new secret too, as VideoGen does during rotation. */
  rotateEndpointSecret(endpointId: string): string {
    const endpoint = this.#api.endpoints.get(endpointId);
    if (!endpoint) throw new Error(`no endpoint ${endpointId}`);
    const secret = newEndpointSecret();
    endpoint.secrets.push(secret);
    return secret;
  }

  /** Resolves once no lifecycle step, delivery or retry is scheduled or under way. */
  async settled(timeoutMs = 30_000): Promise<void> {
    await this.#work.settled(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.#work.closed) return;
    this.#work.close();
    this.#sender.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    // After the server: no call changes anything now. A file still processing resumes on the next start.
    await this.#stateFile?.close();
  }

  async #handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.#url);
    const path = url.pathname;
    const method = request.method ?? 'GET';
    if (path.startsWith('/_sim/')) return handleAdmin(this, method, path, request, response);
    const upload = /^\/upload\/([^/]+)$/.exec(path);
    if (upload?.[1]) {
      if (method !== 'PUT')
        return sendJson(response, 405, { error: { code: 'method_not_allowed', message: 'PUT only' } });
      return this.#uploads.handle(decodeURIComponent(upload[1]), url, request, response);
    }
    if (await this.#api.handle(method, path, request, response)) return;
    request.resume();
    sendJson(response, 404, { error: { code: 'not_found', message: `no route ${method} ${path}` } });
  }
}
