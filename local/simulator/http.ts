/** The simulator's HTTP answers: JSON bodies, size-limited JSON requests, and errors as VideoGen words them. */
import type http from 'node:http';
import type { FaultKind } from './faults.ts';

/** An answer other than success: its status, VideoGen's error code, and the fault that caused it, if one did. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly fault?: FaultKind,
  ) {
    super(message);
  }
}

const JSON_BODY_LIMIT = 1024 * 1024;

export function sendJson(
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

export function sendError(response: http.ServerResponse, error: HttpError): void {
  sendJson(response, error.status, { error: { code: error.code, message: error.message } }, error.headers);
}

export async function readJson(request: http.IncomingMessage): Promise<unknown> {
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
