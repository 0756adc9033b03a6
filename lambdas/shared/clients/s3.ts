import { S3Client } from '@aws-sdk/client-s3';

/** See `dynamodb.ts` for why one module per client. */
export function createS3Client(): S3Client {
  // Path-style keeps bucket names with dots, and the S3 emulator, working.
  return new S3Client({ forcePathStyle: process.env.AWS_ENDPOINT_URL_S3 !== undefined });
}
