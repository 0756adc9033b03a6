/**
 * Overwrites and deletes as on AWS, whose drop bucket is versioned: an ingest reads the
 * version its event named, whatever happened to the key since. The local S3 keeps
 * versions and honours If-Match, so the outcome is the same every run.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, type LocalRuntime } from '#local/runtime/runtime';
import { mp4 } from '#local/media';
import { receivedBy, sha256, startRuntime } from '../helpers/runtime.ts';

let runtime: LocalRuntime;
let s3: S3Client;
beforeAll(async () => {
  runtime = await startRuntime();
  s3 = new S3Client({
    endpoint: runtime.s3Endpoint,
    forcePathStyle: true,
    region: runtime.ops.region,
    credentials: LOCAL_CREDENTIALS,
  });
}, 60_000);
afterAll(async () => {
  s3.destroy();
  await runtime.stop();
});

describe('overwritten and deleted sources', () => {
  it('an object overwritten at once: each version is ingested with its own bytes, every time', async () => {
    const first = mp4(3000);
    const second = mp4(5000);
    await runtime.drop('overwritten.mp4', first);
    await runtime.drop('overwritten.mp4', second);
    await runtime.idle();
    const records = (await runtime.records()).filter((record) => record.key === 'overwritten.mp4');
    expect(records).toHaveLength(2);
    expect(records.map((record) => record.status)).toEqual([
      expect.stringMatching(/READY|ANALYZED/),
      expect.stringMatching(/READY|ANALYZED/),
    ]);
    expect(new Set(records.map((record) => record.versionId)).size).toBe(2);
    expect(records.map((record) => receivedBy(runtime, record)?.sha256).sort()).toEqual(
      [sha256(first), sha256(second)].sort(),
    );
  });

  it('an object deleted at once: the version its event named is still ingested', async () => {
    const body = mp4(4000);
    await runtime.drop('deleted.mp4', body);
    await s3.send(new DeleteObjectCommand({ Bucket: runtime.bucket, Key: 'deleted.mp4' }));
    await runtime.idle();
    const [record] = (await runtime.records()).filter((entry) => entry.key === 'deleted.mp4');
    expect(record?.status).toMatch(/READY|ANALYZED/);
    expect(receivedBy(runtime, record)?.sha256).toBe(sha256(body));
    // The key itself is gone, as after a delete on AWS; the version stays readable by id.
    await expect(
      s3.send(new HeadObjectCommand({ Bucket: runtime.bucket, Key: 'deleted.mp4' })),
    ).rejects.toThrow();
    const version = await s3.send(
      new GetObjectCommand({
        Bucket: runtime.bucket,
        Key: 'deleted.mp4',
        VersionId: record?.versionId ?? '',
      }),
    );
    expect(Buffer.from((await version.Body?.transformToByteArray()) ?? [])).toEqual(body);
  });

  it('If-Match: a read of an ETag the object no longer has is refused 412', async () => {
    await runtime.drop('matched.png', mp4(100));
    const { ETag } = await s3.send(new HeadObjectCommand({ Bucket: runtime.bucket, Key: 'matched.png' }));
    await runtime.drop('matched.png', mp4(200));
    await expect(
      s3.send(new GetObjectCommand({ Bucket: runtime.bucket, Key: 'matched.png', IfMatch: ETag })),
    ).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
    await runtime.idle();
  });
});
