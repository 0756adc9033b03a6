import type { DynamoDBStreamEvent } from 'aws-lambda';
import { ingestChangeOf } from 'videogen-ingest/record';

export const handler = async (event: DynamoDBStreamEvent) => {
  for (const record of event.Records) {
    const change = ingestChangeOf(record);
    if (change?.current) {
      console.log(
        `audit ${change.current.key} ${change.previous?.status ?? '-'} -> ${change.current.status}`,
      );
    }
  }
};
