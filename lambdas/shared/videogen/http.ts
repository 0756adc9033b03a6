/**
 * HTTP to VideoGen on `node:http`: the JSON API's calls (`client.ts`) and the presigned
 * uploads (`upload.ts`) share one keep-alive agent per protocol, so a warm Lambda reuses its
 * connections.
 */
import http from 'node:http';
import https from 'node:https';

/** `maxSockets` is left unbounded; the workflow bounds concurrency, not the agent. */
export const keepAliveAgents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

export interface TextRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal: AbortSignal;
}

/** An answer read whole: its status, a header by (lower-case) name, its body as text. */
export interface TextAnswer {
  readonly status: number;
  header(name: string): string | null;
  readonly text: string;
}

/** How the API client sends a request: `requestText` unless a test injects another. */
export type Transport = (url: string, request: TextRequest) => Promise<TextAnswer>;

/**
 * One request with a small body and its answer read whole as text: what each JSON API call
 * is. Not `fetch`: undici's fetch runs WHATWG streams, Headers and its own pool for each
 * call, about 1 ms more CPU a call in an environment that has not warmed (400 calls in a
 * fresh process: 1.8-2.1 ms against 0.7, the server's share included), which a Lambda is
 * billed for. An `http:`/`https:` URL only; the caller checked it.
 */
export const requestText: Transport = (url, { method, headers, body, signal }) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const request = (secure ? https : http).request(target, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-length': Buffer.byteLength(body) },
      agent: keepAliveAgents[secure ? 'https:' : 'http:'],
      signal,
    });
    request.once('error', reject);
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('error', reject);
      response.once('end', () => {
        const answered = response.headers;
        resolve({
          status: response.statusCode ?? 0,
          header: (name) => {
            const value = answered[name.toLowerCase()];
            return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
          },
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    request.end(body);
  });
