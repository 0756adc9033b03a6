import http from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsChunkedDecoder } from '#local/services/s3/aws-chunked';
import { startS3, type LocalS3 } from '#local/services/s3/s3';
import { LOCAL_CREDENTIALS } from '#local/runtime/runtime';

async function decode(parts: string[]): Promise<string> {
  const chunks: Buffer[] = [];
  const decoder = new AwsChunkedDecoder();
  decoder.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise((resolve, reject) => decoder.on('end', resolve).on('error', reject));
  for (const part of parts) decoder.write(Buffer.from(part, 'latin1'));
  decoder.end();
  await done;
  return Buffer.concat(chunks).toString('latin1');
}

describe('AwsChunkedDecoder', () => {
  it('strips the framing, signatures and trailers, however the bytes are split', async () => {
    const framed =
      '5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n';
    expect(await decode([framed])).toBe('hello world');
    expect(await decode(framed.split(''))).toBe('hello world');
  });

  it('refuses a malformed chunk header', async () => {
    await expect(decode(['zz\r\nhello\r\n'])).rejects.toThrow(/bad chunk header/);
  });
});

describe('the local S3 endpoint', () => {
  let s3: LocalS3;
  let client: S3Client;
  const created: string[] = [];
  beforeAll(async () => {
    s3 = await startS3({ bucket: 'drop', onObjectCreated: (event) => created.push(event.detail.object.key) });
    client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
    });
  });
  afterAll(async () => {
    client.destroy();
    await s3.close();
  });

  it('stores a streamed upload (aws-chunked, the SDK default) byte for byte, and announces it', async () => {
    const bytes = Buffer.alloc(3_000_000);
    for (let index = 0; index < bytes.length; index += 1) bytes[index] = (index * 7) % 256;
    await client.send(
      new PutObjectCommand({
        Bucket: 'drop',
        Key: 'streamed.bin',
        Body: Readable.from([bytes.subarray(0, 1_000_000), bytes.subarray(1_000_000)]),
        ContentLength: bytes.length,
      }),
    );
    const stored = Buffer.from(
      (await (
        await client.send(new GetObjectCommand({ Bucket: 'drop', Key: 'streamed.bin' }))
      ).Body?.transformToByteArray()) ?? [],
    );
    expect(createHash('sha256').update(stored).digest('hex')).toBe(
      createHash('sha256').update(bytes).digest('hex'),
    );
    expect(created).toContain('streamed.bin');
  });

  it('reads a range as S3 does: the first bytes and the whole size, and 416 for any range of an empty object', async () => {
    await client.send(new PutObjectCommand({ Bucket: 'drop', Key: 'ten.bin', Body: '0123456789' }));
    await client.send(new PutObjectCommand({ Bucket: 'drop', Key: 'empty.bin', Body: '' }));
    const head = await client.send(
      new GetObjectCommand({ Bucket: 'drop', Key: 'ten.bin', Range: 'bytes=0-3' }),
    );
    expect(head.ContentRange).toBe('bytes 0-3/10');
    expect(Buffer.from((await head.Body?.transformToByteArray()) ?? []).toString()).toBe('0123');
    const all = await client.send(
      new GetObjectCommand({ Bucket: 'drop', Key: 'ten.bin', Range: 'bytes=0-4099' }),
    );
    expect(all.ContentRange).toBe('bytes 0-9/10');
    await expect(
      client.send(new GetObjectCommand({ Bucket: 'drop', Key: 'empty.bin', Range: 'bytes=0-4099' })),
    ).rejects.toMatchObject({ name: 'InvalidRange', $metadata: { httpStatusCode: 416 } });
    // Without a range, an empty object reads as one.
    const empty = await client.send(new GetObjectCommand({ Bucket: 'drop', Key: 'empty.bin' }));
    expect(empty.ContentLength).toBe(0);
  });

  it('answers an aws-chunked body whose framing is broken 400 IncompleteBody, stores nothing, and goes on serving', async () => {
    const answer = await fetch(`${s3.endpoint}/drop/broken-chunks.bin`, {
      method: 'PUT',
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': '5',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      },
      body: 'zz\r\nhello\r\n0\r\n\r\n',
    });
    // S3's answer to a body its framing does not add up to, which no client retries.
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('<Code>IncompleteBody</Code>');
    await expect(
      client.send(new GetObjectCommand({ Bucket: 'drop', Key: 'broken-chunks.bin' })),
    ).rejects.toMatchObject({ name: 'NoSuchKey' });
    expect(created).not.toContain('broken-chunks.bin');
    await client.send(new PutObjectCommand({ Bucket: 'drop', Key: 'after-broken-chunks.bin', Body: 'ok' }));
  });

  it('refuses a streamed upload s3rver answers before reading it, and serves the next request on the same client', async () => {
    const bytes = Buffer.alloc(300_000, 1);
    const lone = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
      // One connection: the next request goes on the one the refused upload used. A request
      // unanswered for 3 s fails, not retried: a connection left with unread bytes stalls.
      requestHandler: {
        httpAgent: new http.Agent({ keepAlive: true, maxSockets: 1 }),
        requestTimeout: 3_000,
      },
      maxAttempts: 1,
    });
    try {
      await expect(
        lone.send(
          new PutObjectCommand({
            Bucket: 'no-such-bucket',
            Key: 'streamed.bin',
            Body: Readable.from([bytes.subarray(0, 100_000), bytes.subarray(100_000)]),
            ContentLength: bytes.length,
          }),
        ),
      ).rejects.toMatchObject({ name: 'NoSuchBucket' });
      await lone.send(new PutObjectCommand({ Bucket: 'drop', Key: 'after-refused.bin', Body: 'ok' }));
      const read = await lone.send(new GetObjectCommand({ Bucket: 'drop', Key: 'after-refused.bin' }));
      expect(await read.Body?.transformToString()).toBe('ok');
    } finally {
      lone.destroy();
    }
  }, 20_000);

  it('answers a malformed request with an error of its own and goes on serving', async () => {
    const answer = await fetch(`${s3.endpoint}/drop/bad%E0%A4%A.mp4`, { method: 'PUT', body: 'x' });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain('<Code>InvalidURI</Code>');
    await client.send(new PutObjectCommand({ Bucket: 'drop', Key: 'after-bad-request.bin', Body: 'ok' }));
  });
});
