/**
 * AWS SDK clients, created once per cold start by the handlers that import them (one
 * module per service, so a bundle holds only the clients its handler uses). Traced by
 * Powertools; endpoints come from the standard `AWS_ENDPOINT_URL_<SERVICE>` variables,
 * which is how the local runtime points the very same code at its emulators.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '../powertools.ts';

export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
