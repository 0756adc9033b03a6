/**
 * The ingest table as deployed: created from the template in the DynamoDB emulator (a
 * state folder's table from an earlier start is kept, records and all), with its stream;
 * read by the runtime directly, reached by the functions through an IAM gate.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Template } from 'aws-cdk-lib/assertions';
import type { LocalDynamoDB } from '../emulators/dynamodb.ts';
import { startJsonGate } from '../iam/json-gate.ts';
import type { serviceJudges } from '../iam/local-iam.ts';
import { tableSpecFromTemplate } from '../table-from-template.ts';
import { LOCAL_REGION } from '../cfn.ts';
import { LOCAL_CREDENTIALS } from './options.ts';

export interface LocalTable {
  /** The runtime's own client (not judged, as an administrator's calls would pass). */
  readonly documents: DynamoDBDocumentClient;
  /** The endpoint the functions call: the IAM gate, or the emulator when IAM is off. */
  readonly functionEndpoint: string;
  close(): Promise<void>;
}

/**
 * Creates the template's table (or keeps the state folder's, turning its stream on if an
 * older start made it without one), as CloudFormation would; answers its stream's ARN.
 */
export async function createTable(
  dynamo: LocalDynamoDB,
  template: Template,
  tableName: string,
  keepExisting: boolean,
): Promise<string | undefined> {
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const spec = tableSpecFromTemplate(template, tableName);
    await raw.send(new CreateTableCommand(spec.create)).catch((error: unknown) => {
      if (!(error instanceof ResourceInUseException && keepExisting)) throw error;
    });
    let { Table: table } = await raw.send(new DescribeTableCommand({ TableName: tableName }));
    if (spec.create.StreamSpecification && !table?.LatestStreamArn) {
      ({ TableDescription: table } = await raw.send(
        new UpdateTableCommand({
          TableName: tableName,
          StreamSpecification: spec.create.StreamSpecification,
        }),
      ));
    }
    return table?.LatestStreamArn;
  } finally {
    raw.destroy();
  }
}

export async function startTable(
  dynamo: LocalDynamoDB,
  judge: ReturnType<typeof serviceJudges>['dynamodb'] | undefined,
): Promise<LocalTable> {
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  // The emulator runs in its own process; the gate judges each call on its way there.
  const gate =
    judge &&
    (await startJsonGate(dynamo.endpoint, judge).catch((error: unknown) => {
      raw.destroy();
      throw error;
    }));
  return {
    documents: DynamoDBDocumentClient.from(raw),
    functionEndpoint: gate?.endpoint ?? dynamo.endpoint,
    close: async () => {
      await gate?.close();
      raw.destroy();
    },
  };
}
