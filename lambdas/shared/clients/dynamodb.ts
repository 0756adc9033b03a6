/**
 * AWS SDK clients, created once per cold start by the handlers that import them (one
 * module per service, so a bundle holds only the clients its handler uses). Endpoints come
 * from the standard `AWS_ENDPOINT_URL_<SERVICE>` variables, which is how the local runtime points the very same code at its emulators.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function createDocumentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
