import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startDynamoDB } from '#local/services/dynamodb/dynamodb';
import { synthesizeStack } from '#local/synth';
import { tableSpecFromTemplate, type TableSpec } from '#local/services/dynamodb/table-from-template';
import type { IngestStore } from '#shared/ingest/store';

let spec: TableSpec | undefined;

/** The table as the construct defines it, synthesized once per test file. */
export function ingestTableSpec(tableName: string): TableSpec {
  spec ??= tableSpecFromTemplate(synthesizeStack().template, 'placeholder');
  return { ...spec, create: { ...spec.create, TableName: tableName } };
}

export interface TestTable {
  readonly endpoint: string;
  readonly tableName: string;
  readonly store: IngestStore;
  readonly raw: DynamoDBClient;
  close(): Promise<void>;
}

/** A real (emulated) DynamoDB with the ingest table, for tests of conditional writes. */
export async function startIngestTable(tableName = 'ingest-test'): Promise<TestTable> {
  const dynamo = await startDynamoDB();
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await raw.send(new CreateTableCommand(ingestTableSpec(tableName).create));
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  return {
    endpoint: dynamo.endpoint,
    tableName,
    store: { client, tableName },
    raw,
    close: async () => {
      raw.destroy();
      await dynamo.close();
    },
  };
}
