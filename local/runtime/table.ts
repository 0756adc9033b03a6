/**
 * The ingest table as deployed: created from the template in the DynamoDB emulator (a
 * state folder's table from an earlier start is kept, records and all), read by the
 * runtime directly, reached by the functions through an IAM gate.
 */
import { CreateTableCommand, DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
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

export async function startTable(
  dynamo: LocalDynamoDB,
  template: Template,
  tableName: string,
  options: { keepExisting: boolean; judge: ReturnType<typeof serviceJudges>['dynamodb'] | undefined },
): Promise<LocalTable> {
  const raw = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    await raw
      .send(new CreateTableCommand(tableSpecFromTemplate(template, tableName).create))
      .catch((error: unknown) => {
        if (!(error instanceof ResourceInUseException && options.keepExisting)) throw error;
      });
    // The emulator runs in its own process; the gate judges each call on its way there.
    const gate = options.judge && (await startJsonGate(dynamo.endpoint, options.judge));
    return {
      documents: DynamoDBDocumentClient.from(raw),
      functionEndpoint: gate?.endpoint ?? dynamo.endpoint,
      close: async () => {
        await gate?.close();
        raw.destroy();
      },
    };
  } catch (error) {
    raw.destroy();
    throw error;
  }
}
