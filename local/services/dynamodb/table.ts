/**
 * The stack's tables as deployed: created from the template in the DynamoDB emulator (a
 * state folder's tables from an earlier start are kept, records and all), with their streams;
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
import type { LocalDynamoDB } from './dynamodb.ts';
import { startJsonGate } from '../../http/json-gate.ts';
import type { serviceJudges } from '../../iam/local-iam.ts';
import { tableSpecFromTemplate } from './table-from-template.ts';
import { LOCAL_REGION } from '../../cfn.ts';
import { LOCAL_CREDENTIALS } from '../../iam/local-credentials.ts';

export interface LocalTable {
  /** The runtime's own client (not judged, as an administrator's calls would pass). */
  readonly documents: DynamoDBDocumentClient;
  /** The endpoint the functions call: the IAM gate, or the emulator when IAM is off. */
  readonly functionEndpoint: string;
  close(): Promise<void>;
}

/**
 * Creates the template's tables (`names`: each table's local name, by logical id), or keeps
 * the state folder's, turning a stream on where an older start made its table without one,
 * as CloudFormation would; answers each table's stream ARN, by logical id.
 */
export async function createTables(
  dynamo: LocalDynamoDB,
  template: Template,
  names: ReadonlyMap<string, string>,
  keepExisting: boolean,
): Promise<Map<string, string | undefined>> {
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const streams = new Map<string, string | undefined>();
    for (const [logicalId, tableName] of names) {
      const spec = tableSpecFromTemplate(template, tableName, logicalId);
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
      streams.set(logicalId, table?.LatestStreamArn);
    }
    return streams;
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
    (await startJsonGate((target, body) => dynamo.call(target, body), judge).catch((error: unknown) => {
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
