import http from 'node:http';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketCorsCommand,
  PutObjectTaggingCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type LocalS3 } from '#local/services/s3/s3';
import { LOCAL_CREDENTIALS } from '#local/runtime/runtime';

const BUCKET = 'drop';

function clientOf(s3: LocalS3): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
}

/** A key of exactly `bytes` UTF-8 bytes, in folders, with two-byte characters in it. */
function keyOfBytes(bytes: number, folder = 'library'): string {
  const head = `${folder}/${'é'.repeat(100)}/`;
  return head + 'k'.repeat(bytes - Buffer.byteLength(head) - 4) + '.mp4';
}

async function allKeys(client: S3Client, input: { Prefix?: string; Delimiter?: string } = {}) {
  const keys: string[] = [];
  const prefixes: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, MaxKeys: 2, ContinuationToken, ...input }),
    );
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    prefixes.push(...(page.CommonPrefixes ?? []).map((prefix) => prefix.Prefix ?? ''));
    ContinuationToken = page.NextContinuationToken;
  } while (ContinuationToken);
  return { keys, prefixes };
}

describe('the local S3 store', () => {
  let directory: string;
  let s3: LocalS3;
  let client: S3Client;
  const announced: string[] = [];
  beforeAll(async () => {
    directory = await mkdtemp(path.join(tmpdir(), 's3-store-'));
    s3 = await startS3({
      bucket: BUCKET,
      directory,
      onObjectCreated: (event) => announced.push(event.detail.object.key),
    });
    client = clientOf(s3);
  });
  afterAll(async () => {
    client.destroy();
    await s3.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('takes every key S3 takes, up to 1,024 bytes: put, get, copy, list, delete', async () => {
    const longest = keyOfBytes(1024);
    const segment = `a/${'s'.repeat(300)}/b.mov`; // one path segment longer than a file name may be
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: longest, Body: 'longest' }));
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: segment, Body: 'segment' }));
    await client.send(
      new CopyObjectCommand({
        Bucket: BUCKET,
        Key: `${segment}.copy`,
        CopySource: `${BUCKET}/${segment.split('/').map(encodeURIComponent).join('/')}`,
      }),
    );

    const read = async (key: string) =>
      (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body?.transformToString();
    expect(await read(longest)).toBe('longest');
    expect(await read(`${segment}.copy`)).toBe('segment');
    expect((await allKeys(client)).keys).toEqual([segment, `${segment}.copy`, longest]);
    expect(announced).toContain(encodeURIComponent(longest).replace(/%2F/g, '/'));

    await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: segment }));
    expect((await allKeys(client)).keys).toEqual([`${segment}.copy`, longest]);
    await expect(read(segment)).rejects.toThrow(/does not exist/);
  });

  it('refuses a key over 1,024 bytes as S3 does, KeyTooLongError, and goes on serving', async () => {
    const error = await client
      .send(new PutObjectCommand({ Bucket: BUCKET, Key: keyOfBytes(1025), Body: 'x' }))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(S3ServiceException);
    expect((error as S3ServiceException).name).toBe('KeyTooLongError');
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'after.mp4', Body: 'fine' }));
  });

  it('lists as S3 does: UTF-8 byte order, prefixes, delimiters, pages', async () => {
    for (const key of [
      'z/1.mp4',
      'z/sub/2.mp4',
      'z/sub/3.mp4',
      'z/\u00e9.mp4',
      'z/\u{1F600}.mp4',
      'z/\uFF21.mp4',
    ]) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key }));
    }
    // UTF-8 puts U+FF21 before the emoji; JavaScript's UTF-16 order would put it after.
    expect((await allKeys(client, { Prefix: 'z/' })).keys).toEqual([
      'z/1.mp4',
      'z/sub/2.mp4',
      'z/sub/3.mp4',
      'z/\u00e9.mp4',
      'z/\uFF21.mp4',
      'z/\u{1F600}.mp4',
    ]);
    expect(await allKeys(client, { Prefix: 'z/', Delimiter: '/' })).toEqual({
      keys: ['z/1.mp4', 'z/\u00e9.mp4', 'z/\uFF21.mp4', 'z/\u{1F600}.mp4'],
      prefixes: ['z/sub/'],
    });
  });

  it('takes a multipart upload under a long key', async () => {
    const key = keyOfBytes(900, 'multipart');
    const body = Buffer.alloc(11 * 1024 * 1024, 7);
    await new Upload({
      client,
      partSize: 5 * 1024 * 1024,
      params: { Bucket: BUCKET, Key: key, Body: body },
    }).done();
    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    expect(object.ContentLength).toBe(body.length);
  });

  it('keeps nothing of an upload cut off half-way, and answers the next request', async () => {
    const key = 'cut-off.mp4';
    await new Promise<void>((resolve) => {
      const url = new URL(`${s3.endpoint}/${BUCKET}/${key}`);
      const request = http.request(url, { method: 'PUT', headers: { 'content-length': '1000000' } });
      request.on('error', () => resolve());
      request.write(Buffer.alloc(10_000));
      setTimeout(() => {
        request.destroy();
        resolve();
      }, 200);
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await allKeys(client)).keys).not.toContain(key);
    await expect(client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toThrow(
      /does not exist/,
    );
    const stray = (await readdir(directory, { recursive: true })).filter((file) => file.endsWith('.partial'));
    expect(stray).toEqual([]);
  });

  it('serves each read as the last write left it, however often the same object is read', async () => {
    const head = (key: string) => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    const read = async (key: string) =>
      (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body?.transformToString();
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'reads/a.txt', Body: 'first' }));
    expect(await read('reads/a.txt')).toBe('first');
    const first = await head('reads/a.txt');

    // Replaced: its new size, ETag and type, not the ones read before.
    const put = await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'reads/a.txt',
        Body: 'replaced',
        ContentType: 'text/x-new',
      }),
    );
    const replaced = await head('reads/a.txt');
    // The version id the front adds to s3rver's answers, to the PUT's and to the read's.
    expect(put.VersionId).toMatch(/\S/);
    expect(put.VersionId).not.toBe(first.VersionId);
    expect(replaced).toMatchObject({ ContentLength: 8, ContentType: 'text/x-new', VersionId: put.VersionId });
    expect(replaced.ETag).not.toBe(first.ETag);
    expect(await read('reads/a.txt')).toBe('replaced');

    // Copied onto a key read before.
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'reads/b.txt', Body: 'b' }));
    expect(await read('reads/b.txt')).toBe('b');
    await client.send(
      new CopyObjectCommand({ Bucket: BUCKET, Key: 'reads/b.txt', CopySource: `${BUCKET}/reads/a.txt` }),
    );
    expect(await head('reads/b.txt')).toMatchObject({ ContentLength: 8, ETag: replaced.ETag });

    // A bucket's CORS and an object's tags, absent when first asked, then set.
    await expect(client.send(new GetBucketCorsCommand({ Bucket: BUCKET }))).rejects.toThrow(/CORS/);
    await client.send(
      new PutBucketCorsCommand({
        Bucket: BUCKET,
        CORSConfiguration: {
          CORSRules: [{ AllowedMethods: ['GET'], AllowedOrigins: ['https://example.com'] }],
        },
      }),
    );
    const cors = await client.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
    expect(cors.CORSRules?.[0]?.AllowedOrigins).toEqual(['https://example.com']);
    expect(
      (await client.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'reads/a.txt' }))).TagSet,
    ).toEqual([]);
    await client.send(
      new PutObjectTaggingCommand({
        Bucket: BUCKET,
        Key: 'reads/a.txt',
        Tagging: { TagSet: [{ Key: 'stage', Value: 'two' }] },
      }),
    );
    expect(
      (await client.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'reads/a.txt' }))).TagSet,
    ).toEqual([{ Key: 'stage', Value: 'two' }]);

    // Deleted by a DeleteObjects (its XML body read by s3rver itself): gone, though read before.
    const deleted = await client.send(
      new DeleteObjectsCommand({
        Bucket: BUCKET,
        Delete: { Objects: [{ Key: 'reads/a.txt' }, { Key: 'reads/b.txt' }] },
      }),
    );
    expect(deleted.Deleted?.map((object) => object.Key).sort()).toEqual(['reads/a.txt', 'reads/b.txt']);
    await expect(read('reads/a.txt')).rejects.toThrow(/does not exist/);
    await expect(head('reads/b.txt')).rejects.toThrow();
  });
});

describe('a state folder of the local S3', () => {
  const folders: string[] = [];
  afterEach(async () => {
    for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
  });

  it('lists and serves its long keys again after a restart', async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 's3-store-'));
    folders.push(directory);
    const key = keyOfBytes(1000);
    const first = await startS3({ bucket: BUCKET, directory, onObjectCreated: () => undefined });
    const firstClient = clientOf(first);
    await firstClient.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'kept' }));
    firstClient.destroy();
    await first.close();

    const second = await startS3({ bucket: BUCKET, directory, onObjectCreated: () => undefined });
    const client = clientOf(second);
    try {
      expect((await allKeys(client)).keys).toEqual([key]);
      const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(await object.Body?.transformToString()).toBe('kept');
    } finally {
      client.destroy();
      await second.close();
    }
  });

  it("moves objects an older start stored under their keys (s3rver's layout) to their new names", async () => {
    const directory = await mkdtemp(path.join(tmpdir(), 's3-store-'));
    folders.push(directory);
    // What s3rver's own store wrote for `shows/ep 1.mp4`.
    const legacy = path.join(directory, BUCKET, 'shows');
    await mkdir(legacy, { recursive: true });
    await writeFile(path.join(legacy, 'ep 1.mp4._S3rver_object'), 'episode');
    await writeFile(path.join(legacy, 'ep 1.mp4._S3rver_object.md5'), 'f0a1c1e3c6c51d0d2f6c2f0b2c0e0c5a');
    await writeFile(
      path.join(legacy, 'ep 1.mp4._S3rver_metadata.json'),
      JSON.stringify({ 'content-type': 'video/mp4' }),
    );

    const s3 = await startS3({ bucket: BUCKET, directory, onObjectCreated: () => undefined });
    const client = clientOf(s3);
    try {
      expect((await allKeys(client)).keys).toEqual(['shows/ep 1.mp4']);
      const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'shows/ep 1.mp4' }));
      expect(object.ContentType).toBe('video/mp4');
      expect(await object.Body?.transformToString()).toBe('episode');
      // The old folder is gone: nothing is listed twice or left behind.
      expect(await readdir(path.join(directory, BUCKET))).not.toContain('shows');
    } finally {
      client.destroy();
      await s3.close();
    }
  });
});
