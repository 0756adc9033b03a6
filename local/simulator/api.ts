/**
 * The four API calls (`POST /v1/files/upload`, `GET /v1/files/{id}`, webhook endpoints'
 * create and delete): authentication, rate limit and API faults, then each call's answer,
 * every request recorded. It holds the files and endpoints the other parts work on.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createFileRequestSchema,
  createWebhookEndpointRequestSchema,
  type VideoGenFile,
} from '../../lambdas/shared/videogen/contract.ts';
import type { ApiOperation, FaultInjector, FaultKind } from './faults.ts';
import { HttpError, readJson, sendError, sendJson } from './http.ts';
import type { CreateRateLimit } from './rate-limit.ts';
import { SlidingWindowLimit } from './rate-limit.ts';
import { newId, now, type ApiRequestRecord, type EndpointState, type FileState } from './records.ts';

export interface ApiSettings {
  /** When set, only `Bearer <apiKey>` is accepted; otherwise any non-empty bearer key. */
  readonly apiKey: string | undefined;
  readonly uploadUrlTtlMs: number;
  readonly createRateLimit: CreateRateLimit | undefined;
  /** Signs the upload URLs (kept across restarts with the files they name). */
  readonly urlSecret: Buffer;
}

type Answer = { status: number; body?: unknown };
interface Route {
  op: ApiOperation;
  fileId?: string;
  answer: (body: unknown) => Answer;
}

export function newEndpointSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export class VideoGenApi {
  readonly files = new Map<string, FileState>();
  readonly endpoints = new Map<string, EndpointState>();
  readonly requests: ApiRequestRecord[] = [];
  readonly #settings: ApiSettings;
  readonly #faults: FaultInjector;
  readonly #log: (line: string) => void;
  readonly #baseUrl: () => string;
  readonly #urlSecret: Buffer;
  readonly #createLimit: { limit: SlidingWindowLimit; retryAfterSeconds: number } | undefined;

  constructor(
    settings: ApiSettings,
    faults: FaultInjector,
    log: (line: string) => void,
    baseUrl: () => string,
  ) {
    this.#settings = settings;
    this.#faults = faults;
    this.#log = log;
    this.#baseUrl = baseUrl;
    this.#urlSecret = settings.urlSecret;
    this.#createLimit = settings.createRateLimit && {
      limit: new SlidingWindowLimit(settings.createRateLimit.perSecond),
      retryAfterSeconds: settings.createRateLimit.retryAfterSeconds ?? 1,
    };
  }

  /** Answers an API call; false when no call has this method and path. */
  async handle(
    method: string,
    path: string,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<boolean> {
    const route = this.#route(method, path);
    if (!route) return false;
    const { op, answer, fileId } = route;
    let fault: FaultKind | undefined;
    let status = 500;
    try {
      this.#authenticate(request);
      let body: unknown;
      if (method === 'POST') body = await readJson(request);
      else request.resume();
      const displayName =
        fileId !== undefined
          ? (this.files.get(fileId)?.file.displayName ?? undefined)
          : body && typeof body === 'object' && 'displayName' in body && typeof body.displayName === 'string'
            ? body.displayName
            : undefined;
      fault = await this.#apiFaults(op, {
        ...(fileId ? { fileId } : {}),
        ...(displayName ? { displayName } : {}),
      });
      const result = answer(body);
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
      sendError(response, error);
    } finally {
      this.requests.push({
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
    return true;
  }

  /** The file a presigned upload URL's query names, when its signature is this simulator's. */
  signedUpload(fileId: string, url: URL): { state: FileState; expires: number } | undefined {
    const state = this.files.get(fileId);
    const expires = Number(url.searchParams.get('expires'));
    const signature = url.searchParams.get('signature') ?? '';
    return state && signature === this.#signUpload(fileId, expires) ? { state, expires } : undefined;
  }

  #route(method: string, path: string): Route | undefined {
    if (path === '/v1/files/upload' && method === 'POST') {
      return { op: 'create', answer: (body) => this.#createFile(body) };
    }
    const file = /^\/v1\/files\/([^/]+)$/.exec(path);
    if (file?.[1] && method === 'GET') {
      const fileId = decodeURIComponent(file[1]);
      return { op: 'get', fileId, answer: () => this.#getFile(fileId) };
    }
    if (path === '/v1/webhooks/endpoints' && method === 'POST') {
      return { op: 'register', answer: (body) => this.#createEndpoint(body) };
    }
    const endpoint = /^\/v1\/webhooks\/endpoints\/([^/]+)$/.exec(path);
    if (endpoint?.[1] && method === 'DELETE') {
      const endpointId = decodeURIComponent(endpoint[1]);
      return { op: 'unregister', answer: () => this.#deleteEndpoint(endpointId) };
    }
    return undefined;
  }

  #authenticate(request: http.IncomingMessage): void {
    const match = /^Bearer\s+(\S.*)$/i.exec(request.headers.authorization ?? '');
    const key = match?.[1]?.trim();
    if (!key) throw new HttpError(401, 'unauthorized', 'missing bearer API key');
    if (this.#settings.apiKey !== undefined && key !== this.#settings.apiKey) {
      throw new HttpError(401, 'unauthorized', 'invalid API key');
    }
  }

  /** Applies `slow`, then at most one of `rate_limit` / `server_error`; returns the failing fault. */
  async #apiFaults(
    op: ApiOperation,
    context: { fileId?: string; displayName?: string },
  ): Promise<FaultKind | undefined> {
    const fired = this.#faults.fire('api', { on: op, ...context });
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

  #createFile(body: unknown): Answer {
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
    const fileId = newId('vg_file_');
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
    const expiresAt = Date.now() + this.#settings.uploadUrlTtlMs;
    this.files.set(fileId, {
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
        uploadUrl: `${this.#baseUrl()}/upload/${fileId}?expires=${expiresAt}&signature=${signature}`,
      },
    };
  }

  #getFile(fileId: string): Answer {
    const state = this.files.get(fileId);
    if (!state) throw new HttpError(404, 'not_found', `no file ${fileId}`);
    return { status: 200, body: state.file };
  }

  #createEndpoint(body: unknown): Answer {
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
      id: newId('vg_whep_'),
      url: parsed.data.url,
      events: [...new Set(parsed.data.events)],
      secrets: [newEndpointSecret()],
      deleted: false,
    };
    this.endpoints.set(endpoint.id, endpoint);
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

  #deleteEndpoint(endpointId: string): Answer {
    const endpoint = this.endpoints.get(endpointId);
    if (!endpoint || endpoint.deleted)
      throw new HttpError(404, 'not_found', `no webhook endpoint ${endpointId}`);
    endpoint.deleted = true;
    return { status: 204 };
  }

  #signUpload(fileId: string, expiresAt: number): string {
    return createHmac('sha256', this.#urlSecret).update(`${fileId}:${expiresAt}`).digest('hex');
  }
}
