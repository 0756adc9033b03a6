import { SFNClient } from '@aws-sdk/client-sfn';
import { tracer } from '../powertools.ts';

/** See `dynamodb.ts` for why one module per client. */
export function createSfnClient(): SFNClient {
  return tracer.captureAWSv3Client(new SFNClient({}));
}
