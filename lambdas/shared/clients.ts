/**
 * AWS SDK clients, created once per cold start by the handlers that import them. Traced
 * by Powertools; endpoints come from the standard `AWS_ENDPOINT_URL_<SERVICE>` variables,
 * which is how the local runtime points the very same code at its emulators.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from './powertools.ts';

export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})), {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createS3Client(): S3Client {
  // Path-style keeps bucket names with dots, and the S3 emulator, working.
  return tracer.captureAWSv3Client(
    new S3Client({ forcePathStyle: process.env.AWS_ENDPOINT_URL_S3 !== undefined }),
  );
}

export function createSfnClient(): SFNClient {
  return tracer.captureAWSv3Client(new SFNClient({}));
}
