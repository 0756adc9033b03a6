/**
 * Decodes `aws-chunked` request bodies, the framing recent AWS SDKs and CLIs use by default
 * for streamed uploads (`<hex size>[;chunk-signature=…]\r\n<bytes>\r\n … 0\r\n<trailers>\r\n\r\n`).
 * s3rver predates it and would store the framing as content; the local S3 front decodes
 * it first. Hand-written: the framing is twenty lines, and no maintained package decodes
 * it as a stream.
 */
import { Transform, type TransformCallback } from 'node:stream';

export function isAwsChunked(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
  const encoding = String(headers['content-encoding'] ?? '');
  const sha = String(headers['x-amz-content-sha256'] ?? '');
  return encoding.split(',').some((part) => part.trim() === 'aws-chunked') || sha.startsWith('STREAMING-');
}

export class AwsChunkedDecoder extends Transform {
  /** What a broken framing fails the stream with, from its description. */
  readonly #error: (message: string) => Error;
  #state: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  #line = '';
  #remaining = 0;

  constructor(options: { readonly error?: (message: string) => Error } = {}) {
    super();
    this.#error = options.error ?? ((message) => new Error(message));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    let offset = 0;
    try {
      while (offset < chunk.length) {
        if (this.#state === 'trailer') return callback(); // trailers (checksums) are dropped
        if (this.#state === 'data') {
          const take = Math.min(this.#remaining, chunk.length - offset);
          this.push(chunk.subarray(offset, offset + take));
          offset += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = 'data-end';
          continue;
        }
        // 'size' and 'data-end' read a line up to CRLF.
        const byte = chunk[offset] ?? 0;
        offset += 1;
        if (byte !== 0x0a) {
          if (byte !== 0x0d) this.#line += String.fromCharCode(byte);
          continue;
        }
        const line = this.#line;
        this.#line = '';
        if (this.#state === 'data-end') {
          if (line !== '') throw this.#error('aws-chunked: a chunk did not end with CRLF');
          this.#state = 'size';
          continue;
        }
        const size = Number.parseInt(line.split(';')[0] ?? '', 16);
        if (!Number.isFinite(size) || size < 0)
          throw this.#error(`aws-chunked: bad chunk header "${line.slice(0, 40)}"`);
        this.#remaining = size;
        this.#state = size === 0 ? 'trailer' : 'data';
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}
