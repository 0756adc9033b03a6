import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { httpStatusOf } from '../aws-errors.ts';
import { SourceAccessDeniedError } from './errors.ts';

/** Why a source object could not be read, when it is the object's doing. */
export type SourceReadFailure = 'GONE' | 'CHANGED';

/**
 * What a failed HeadObject or GetObject of a source object means: 404 is gone, 412 (its
 * `If-Match`) is overwritten. S3 answers 403, not 404, for a missing key to a caller
 * without `s3:ListBucket`, and 403 too for a real denial (IAM, bucket policy, KMS key);
 * listing the key tells the two apart, so the answer is right whichever grants the
 * deployment has. A denial throws `SourceAccessDeniedError` (final: retrying cannot
 * help); any other error is not the source's, and `undefined` lets the caller rethrow it.
 */
export async function classifySourceReadError(
  s3: S3Client,
  source: { readonly bucket: string; readonly key: string },
  error: unknown,
): Promise<SourceReadFailure | undefined> {
  const status = httpStatusOf(error);
  if (status === 404) return 'GONE';
  if (status === 412) return 'CHANGED';
  if (status !== 403) return undefined;
  const where = `s3://${source.bucket}/${source.key}`;
  let firstKey: string | undefined;
  try {
    // The key itself sorts first among the keys it prefixes: one key answers "is it there?".
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: source.bucket, Prefix: source.key, MaxKeys: 1 }),
    );
    firstKey = listed.Contents?.[0]?.Key;
  } catch (listError) {
    if (httpStatusOf(listError) !== 403) throw listError;
    throw new SourceAccessDeniedError(
      `S3 denied reading ${where} and listing it: grant s3:GetObject and s3:ListBucket on the drop prefix`,
      { cause: error },
    );
  }
  if (firstKey !== source.key) return 'GONE';
  throw new SourceAccessDeniedError(
    `${where} exists but S3 denied reading it: grant s3:GetObject (and kms:Decrypt on the bucket's key for SSE-KMS), and check the bucket policy`,
    { cause: error },
  );
}
