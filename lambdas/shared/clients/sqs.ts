import { SQSClient } from '@aws-sdk/client-sqs';

/** See `dynamodb.ts` for why one module per client. */
export function createSqsClient(): SQSClient {
  return new SQSClient({});
}
