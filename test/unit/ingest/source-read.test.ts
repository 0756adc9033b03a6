import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockAwsClient } from '../../helpers/aws-mocks.ts';
import { beforeEach, describe, expect, it } from 'vitest';
import { classifySourceReadError } from '#shared/ingest/source-read';
import { s3Error } from '../../fixtures/s3-errors.ts';

const s3 = mockAwsClient(S3Client);
beforeEach(() => s3.reset());

const source = { bucket: 'drop', key: 'in/clip.mp4' };
describe('classifySourceReadError', () => {
  it('reads 404 as gone and 412 (If-Match) as changed, without listing', async () => {
    expect(await classifySourceReadError(new S3Client({}), source, s3Error(404, 'NotFound'))).toBe('GONE');
    expect(await classifySourceReadError(new S3Client({}), source, s3Error(412, 'PreconditionFailed'))).toBe(
      'CHANGED',
    );
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
  });

  it('reads a 403 for a key that is no longer listed as gone (S3 hides 404 from callers without s3:ListBucket)', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'in/clip.mp4.part2' }] });
    expect(await classifySourceReadError(new S3Client({}), source, s3Error(403, 'AccessDenied'))).toBe(
      'GONE',
    );
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toEqual({
      Bucket: 'drop',
      Prefix: 'in/clip.mp4',
      MaxKeys: 1,
    });
  });

  it('reads a 403 for a key that is still there as a denial, final and named for Catch', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'in/clip.mp4' }] });
    await expect(
      classifySourceReadError(new S3Client({}), source, s3Error(403, 'AccessDenied')),
    ).rejects.toMatchObject({ name: 'SourceAccessDeniedError', message: /exists but S3 denied reading it/ });
  });

  it('says both grants are missing when the listing is denied too', async () => {
    s3.on(ListObjectsV2Command).rejects(s3Error(403, 'AccessDenied'));
    await expect(
      classifySourceReadError(new S3Client({}), source, s3Error(403, 'AccessDenied')),
    ).rejects.toMatchObject({ name: 'SourceAccessDeniedError', message: /s3:ListBucket/ });
  });

  it('leaves any other error to the caller, to be retried', async () => {
    expect(
      await classifySourceReadError(new S3Client({}), source, s3Error(500, 'InternalError')),
    ).toBeUndefined();
  });
});
