import { SFNClient } from '@aws-sdk/client-sfn';

/** See `dynamodb.ts` for why one module per client. */
export function createSfnClient(): SFNClient {
  return new SFNClient({});
}
