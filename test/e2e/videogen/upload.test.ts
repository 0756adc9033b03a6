import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  SourceStreamError,
  UploadUrlExpiredError,
  VideoGenClient,
  VideoGenNetworkError,
  VideoGenRateLimitedError,
  VideoGenServerError,
  VideoGenValidationError,
  uploadToPresignedUrl,
} from '#shared/videogen/index';
import { VideoGenSimulator } from '#local/simulator/simulator';
import { png } from '#local/media';
import { present } from '../../helpers/present.ts';

/** A lazily generated stream of `total` pseudo-random bytes, and the SHA-256 they hash to. */
function generated(
  total: number,
  chunkSize = 1024 * 1024,
): { stream: Readable; produced: () => number; sha256: Promise<string> } {
  let produced = 0;
  const hash = createHash('sha256');
  let resolveHash: (value: string) => void = () => undefined;
  const sha256 = new Promise<string>((resolve) => (resolveHash = resolve));
  const stream = new Readable({
    read() {
      if (produced >= total) {
        resolveHash(hash.digest('hex'));
        this.push(null);
        return;
      }
      const size = Math.min(chunkSize, total - produced);
      const chunk = Buffer.alloc(size, produced % 251);
      chunk.writeUInt32BE(produced >>> 0, 0);
      produced += size;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, produced: () => produced, sha256 };
}

async function startServer(
  handler: http.RequestListener,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/bucket/object?X-Amz-Signature=topsecret`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('uploadToPresignedUrl against the simulator', () => {
  let sim: VideoGenSimulator;
  let client: VideoGenClient;

  beforeAll(async () => {
    sim = await VideoGenSimulator.start({ processingMs: 50, analysisMs: 10 });
    client = new VideoGenClient({ baseUrl: sim.url, apiKey: 'k' });
  });
  afterEach(() => {
    sim.faults.clear();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('PUTs the bytes with Content-Length, never chunked, and the simulator stores their hash', async () => {
    const bytes = png(16, 16);
    const { fileId, uploadUrl } = await client.createFile({ displayName: 'small.png' });

    const result = await uploadToPresignedUrl({
      url: uploadUrl,
      body: Readable.from([bytes]),
      contentLength: bytes.length,
    });

    expect(result).toEqual({ bytesSent: bytes.length, status: 200 });
    const upload = sim.uploads().find((record) => record.fileId === fileId);
    expect(upload).toMatchObject({
      outcome: 'stored',
      bytes: bytes.length,
      contentLength: bytes.length,
      transferEncoding: undefined,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
  });

  it('streams a 256 MiB body whole, hash for hash', async () => {
    const total = 256 * 1024 * 1024;
    const source = generated(total);
    const { fileId, uploadUrl } = await client.createFile({ displayName: 'big.mp4', type: 'VIDEO' });

    await uploadToPresignedUrl({ url: uploadUrl, body: source.stream, contentLength: total });

    expect(sim.file(fileId)?.received).toMatchObject({ bytes: total, sha256: await source.sha256 });
  });

  it('answers UploadUrlExpiredError once the URL has expired, with no query string in the message', async () => {
    const shortLived = await VideoGenSimulator.start({ uploadUrlTtlMs: 20 });
    try {
      const { uploadUrl } = await new VideoGenClient({ baseUrl: shortLived.url, apiKey: 'k' }).createFile({
        displayName: 'late.png',
      });
      await new Promise((resolve) => setTimeout(resolve, 60));
      const bytes = png();

      const error = await uploadToPresignedUrl({
        url: uploadUrl,
        body: Readable.from([bytes]),
        contentLength: bytes.length,
      }).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(UploadUrlExpiredError);
      expect(error).toMatchObject({ status: 403, code: 'AccessDenied' });
      expect((error as Error).message).not.toContain('signature=');
      expect((error as Error).message).toContain('?<redacted>');
      expect(shortLived.files()[0]?.file.status).toBe('PENDING_UPLOAD');
    } finally {
      await shortLived.close();
    }
  });

  it('answers UploadUrlExpiredError for an expire_url fault even while sending a large body', async () => {
    sim.faults.add({ fault: 'expire_url' });
    const total = 32 * 1024 * 1024;
    const { uploadUrl } = await client.createFile({ displayName: 'expiring.mp4' });

    await expect(
      uploadToPresignedUrl({ url: uploadUrl, body: generated(total).stream, contentLength: total }),
    ).rejects.toBeInstanceOf(UploadUrlExpiredError);
  });

  it('answers VideoGenRateLimitedError for 503 SlowDown and VideoGenServerError for 500', async () => {
    const bytes = png();
    const { uploadUrl } = await client.createFile({ displayName: 'busy.png' });
    sim.faults.add({ fault: 'rate_limit', on: 'put', times: 1, retryAfterSeconds: 3 });
    await expect(
      uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length }),
    ).rejects.toMatchObject({
      name: 'VideoGenRateLimitedError',
      retryAfterSeconds: 3,
    });

    sim.faults.add({ fault: 'server_error', on: 'put', times: 1 });
    await expect(
      uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length }),
    ).rejects.toBeInstanceOf(VideoGenServerError);

    // The third try, with a fresh stream, goes through on the same URL.
    await expect(
      uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length }),
    ).resolves.toMatchObject({
      status: 200,
    });
    expect(VideoGenRateLimitedError.name).toBe('VideoGenRateLimitedError');
  });

  it('answers SourceStreamError when the source fails mid-upload, and the simulator stores nothing', async () => {
    const { fileId, uploadUrl } = await client.createFile({ displayName: 'broken.mp4' });
    let sent = 0;
    const failing = new Readable({
      read() {
        sent += 1;
        if (sent > 4) this.destroy(new Error('S3 read timed out'));
        else this.push(Buffer.alloc(64 * 1024, 1));
      },
    });

    const error = await uploadToPresignedUrl({
      url: uploadUrl,
      body: failing,
      contentLength: 1024 * 1024,
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SourceStreamError);
    expect((error as Error).message).toContain('S3 read timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(present(sim.file(fileId), 'the file').received).toBeUndefined();
    expect(
      sim
        .uploads()
        .filter((record) => record.fileId === fileId)
        .every((record) => record.outcome !== 'stored'),
    ).toBe(true);
  });

  it('answers SourceStreamError when the source holds fewer or more bytes than declared', async () => {
    const { uploadUrl } = await client.createFile({ displayName: 'liar.png' });
    await expect(
      uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([Buffer.alloc(10)]), contentLength: 20 }),
    ).rejects.toThrow(/ended after 10 of the declared 20 bytes/);
    await expect(
      uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([Buffer.alloc(30)]), contentLength: 20 }),
    ).rejects.toThrow(/more than the declared 20 bytes/);
  });

  it('refuses a body over the single-PUT ceiling or a bad URL before connecting', async () => {
    await expect(
      uploadToPresignedUrl({
        url: 'http://127.0.0.1:1/x',
        body: Readable.from([]),
        contentLength: 6 * 1024 ** 3,
      }),
    ).rejects.toBeInstanceOf(VideoGenValidationError);
    await expect(
      uploadToPresignedUrl({ url: 'not a url', body: Readable.from([]), contentLength: 0 }),
    ).rejects.toThrow('not a valid URL');
  });
});

describe('uploadToPresignedUrl against misbehaving targets', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('keeps memory flat: the source is never more than a few MiB ahead of a slow reader', async () => {
    let received = 0;
    let maxLead = 0;
    const total = 64 * 1024 * 1024;
    const source = generated(total, 256 * 1024);
    const server = await startServer((request, response) => {
      request.on('data', (chunk: Buffer) => {
        received += chunk.length;
        maxLead = Math.max(maxLead, source.produced() - received);
        request.pause();
        setTimeout(() => request.resume(), 1);
      });
      request.on('end', () => response.writeHead(200).end());
    });
    close = server.close;

    await uploadToPresignedUrl({ url: server.url, body: source.stream, contentLength: total });

    expect(received).toBe(total);
    // Socket buffers and the stream's highWaterMarks, not the 64 MiB body.
    expect(maxLead).toBeLessThan(8 * 1024 * 1024);
  });

  it('answers VideoGenNetworkError when the target resets the connection', async () => {
    const server = await startServer((request) => {
      let seen = 0;
      request.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > 1024 * 1024) request.socket.destroy();
      });
    });
    close = server.close;

    const error = await uploadToPresignedUrl({
      url: server.url,
      body: generated(8 * 1024 * 1024).stream,
      contentLength: 8 * 1024 * 1024,
    }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(VideoGenNetworkError);
    expect((error as Error).message).not.toContain('topsecret');
  });

  it('answers VideoGenNetworkError when the target stops answering', async () => {
    const server = await startServer((request) => {
      request.resume(); // reads the body, never answers
    });
    close = server.close;

    await expect(
      uploadToPresignedUrl({
        url: server.url,
        body: Readable.from([Buffer.alloc(100)]),
        contentLength: 100,
        idleTimeoutMs: 100,
      }),
    ).rejects.toThrow(/no progress for 100 ms/);
  });

  it('releases its sockets after 100 failed transfers', async () => {
    let open = 0;
    let peak = 0;
    const server = await startServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(500).end('<Error><Code>InternalError</Code></Error>'));
    });
    close = server.close;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const target = new URL(server.url);
    const failures = await Promise.allSettled(
      Array.from({ length: 100 }, async () => {
        open += 1;
        peak = Math.max(peak, open);
        try {
          await uploadToPresignedUrl({
            url: target.href,
            body: Readable.from([Buffer.alloc(2048)]),
            contentLength: 2048,
            agent,
          });
        } finally {
          open -= 1;
        }
      }),
    );
    expect(
      failures.every(
        (failure) =>
          failure.status === 'rejected' && (failure.reason as Error).name === 'VideoGenServerError',
      ),
    ).toBe(true);
    const inUse = Object.values(agent.sockets).flat().length;
    const idle = Object.values(agent.freeSockets).flat().length;
    expect(inUse).toBe(0);
    expect(idle).toBeLessThanOrEqual(4);
    expect(peak).toBe(100);
    agent.destroy();
  });

  it('rejects with the abort reason when the caller aborts', async () => {
    const server = await startServer((request) => {
      request.resume();
    });
    close = server.close;
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('Lambda is about to time out')), 50);

    await expect(
      uploadToPresignedUrl({
        url: server.url,
        body: generated(1024).stream,
        contentLength: 1024,
        signal: controller.signal,
      }),
    ).rejects.toThrow('Lambda is about to time out');
  });
});
