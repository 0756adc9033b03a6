import type * as z from 'zod/mini';
import {
  createFileRequestSchema,
  createFileResponseSchema,
  createWebhookEndpointRequestSchema,
  DEFAULT_VIDEOGEN_API_URL,
  videoGenFileSchema,
  webhookEndpointSchema,
  type CreateFileRequest,
  type CreateFileResponse,
  type CreateWebhookEndpointRequest,
  type VideoGenFile,
  type WebhookEndpoint,
} from './contract.ts';
import { VideoGenNetworkError, VideoGenResponseError, VideoGenValidationError } from './errors.ts';
import { errorFromAnswer } from './http-errors.ts';
import { requestText, type TextAnswer, type Transport } from './http.ts';

export interface VideoGenClientOptions {
  /** @default https://api.videogen.io */
  readonly baseUrl?: string;
  /** Sent as `Authorization: Bearer <apiKey>`; never logged or put in an error message. */
  readonly apiKey: string;
  /** Per-call timeout; the call fails with `VideoGenNetworkError` when it runs out. @default 10000 */
  readonly timeoutMs?: number;
  /** Injected for tests. @default `requestText`: `node:http` on keep-alive connections */
  readonly transport?: Transport;
  /** @default videogen-ingest */
  readonly userAgent?: string;
}

export interface CallOptions {
  /** Aborts the call; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * The VideoGen JSON API: create and get files, register and delete webhook endpoints.
 * Uploads to presigned URLs are in `upload.ts` (no auth, streamed bodies).
 */
export class VideoGenClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number;
  readonly #transport: Transport;
  readonly #userAgent: string;

  constructor(options: VideoGenClientOptions) {
    if (!options.apiKey) throw new Error('VideoGenClient needs a non-empty apiKey');
    this.baseUrl = (options.baseUrl ?? DEFAULT_VIDEOGEN_API_URL).replace(/\/+$/, '');
    if (!/^https?:\/\//.test(this.baseUrl)) {
      throw new Error(`VideoGenClient baseUrl must be an http(s) URL, got "${this.baseUrl}"`);
    }
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#transport = options.transport ?? requestText;
    this.#userAgent = options.userAgent ?? 'videogen-ingest';
  }

  /** `POST /v1/files/upload`: a pending file and its presigned upload URL. */
  async createFile(input: CreateFileRequest, options: CallOptions = {}): Promise<CreateFileResponse> {
    const body = validateRequest(createFileRequestSchema, input, 'createFile');
    return this.#call('POST', '/v1/files/upload', createFileResponseSchema, body, options);
  }

  /** `GET /v1/files/{id}`: the file object with its status, sources and analysis. */
  async getFile(fileId: string, options: CallOptions = {}): Promise<VideoGenFile> {
    if (!fileId) throw new VideoGenValidationError('getFile needs a fileId');
    return this.#call(
      'GET',
      `/v1/files/${encodeURIComponent(fileId)}`,
      videoGenFileSchema,
      undefined,
      options,
    );
  }

  /** `POST /v1/webhooks/endpoints`: registers a URL for lifecycle events; answers its signing secret. */
  async createWebhookEndpoint(
    input: CreateWebhookEndpointRequest,
    options: CallOptions = {},
  ): Promise<WebhookEndpoint> {
    const body = validateRequest(createWebhookEndpointRequestSchema, input, 'createWebhookEndpoint');
    return this.#call('POST', '/v1/webhooks/endpoints', webhookEndpointSchema, body, options);
  }

  /** `DELETE /v1/webhooks/endpoints/{id}` (204). */
  async deleteWebhookEndpoint(endpointId: string, options: CallOptions = {}): Promise<void> {
    if (!endpointId) throw new VideoGenValidationError('deleteWebhookEndpoint needs an endpoint id');
    await this.#call(
      'DELETE',
      `/v1/webhooks/endpoints/${encodeURIComponent(endpointId)}`,
      undefined,
      undefined,
      options,
    );
  }

  async #call<S extends z.ZodMiniType>(
    method: string,
    path: string,
    schema: S | undefined,
    body: unknown,
    options: CallOptions,
  ): Promise<z.infer<S>> {
    const what = `${method} ${path}`;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#apiKey}`,
      accept: 'application/json',
      'user-agent': this.#userAgent,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';

    let response: TextAnswer;
    try {
      response = await this.#transport(`${this.baseUrl}${path}`, {
        method,
        headers,
        signal,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (timeout.aborted) {
        throw new VideoGenNetworkError(`${what} timed out after ${this.#timeoutMs} ms`, { cause: error });
      }
      throw new VideoGenNetworkError(`${what} failed: ${describeNetworkError(error)}`, { cause: error });
    }

    const text = response.text;
    if (response.status < 200 || response.status > 299) {
      throw errorFromAnswer({
        what,
        status: response.status,
        body: text,
        retryAfter: response.header('retry-after'),
        isUpload: false,
      });
    }
    if (schema === undefined) return undefined as z.infer<S>;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new VideoGenResponseError(`${what} answered ${response.status} with a body that is not JSON`, {
        status: response.status,
        cause: error,
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new VideoGenResponseError(
        `${what} answered ${response.status} with an unexpected body: ${summarizeIssues(parsed.error)}`,
        { status: response.status },
      );
    }
    return parsed.data;
  }
}

function validateRequest<S extends z.ZodMiniType>(schema: S, input: unknown, call: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new VideoGenValidationError(`${call}: ${summarizeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/** The first few issues of a failed parse, as `path: message`. */
export function summarizeIssues(error: {
  readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[];
}): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
}

/** A socket error's code and message (`fetch` wraps it in `TypeError: fetch failed`, as `cause`). */
export function describeNetworkError(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ? `${code} ${cause.message}` : cause.message;
  }
  return String(cause);
}
