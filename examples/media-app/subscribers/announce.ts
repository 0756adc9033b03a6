import type { DynamoDBStreamEvent } from 'aws-lambda';
import { ingestChangeOf } from 'videogen-ingest/record';

export const handler = async (event: DynamoDBStreamEvent) => {
  for (const record of event.Records) {
    const file = ingestChangeOf(record)?.current;
    if (file) console.log(`ready ${file.key} ${file.fileId}`);
  }
};
