import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { Template } from 'aws-cdk-lib/assertions';

interface GlobalTableProperties {
  KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  AttributeDefinitions: { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
  GlobalSecondaryIndexes?: {
    IndexName: string;
    KeySchema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
    Projection: { ProjectionType: 'ALL' | 'KEYS_ONLY' | 'INCLUDE'; NonKeyAttributes?: string[] };
  }[];
  TimeToLiveSpecification?: { AttributeName?: string; Enabled: boolean };
  StreamSpecification?: { StreamViewType: 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' };
}

export interface TableSpec {
  readonly create: CreateTableCommandInput;
  /** The TTL attribute (dynalite cannot expire items; the spec still names it). */
  readonly timeToLiveAttribute: string | undefined;
  readonly streamViewType: string | undefined;
}

/** The ingest table exactly as the synthesized template defines it: keys, indexes, TTL, stream. */
export function tableSpecFromTemplate(template: Template, tableName: string): TableSpec {
  const tables = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
  if (tables.length !== 1)
    throw new Error(
      `expected the one table of a VideoGenIngest in the stack, found ${tables.length} (the local runtime runs one VideoGenIngest per stack)`,
    );
  const properties = (tables[0] as { Properties: GlobalTableProperties }).Properties;
  return {
    create: {
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: properties.KeySchema,
      AttributeDefinitions: properties.AttributeDefinitions,
      ...(properties.GlobalSecondaryIndexes
        ? {
            GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes.map((index) => ({
              IndexName: index.IndexName,
              KeySchema: index.KeySchema,
              Projection: index.Projection,
            })),
          }
        : {}),
      ...(properties.StreamSpecification
        ? {
            StreamSpecification: {
              StreamEnabled: true,
              StreamViewType: properties.StreamSpecification.StreamViewType,
            },
          }
        : {}),
    },
    timeToLiveAttribute: properties.TimeToLiveSpecification?.Enabled
      ? properties.TimeToLiveSpecification.AttributeName
      : undefined,
    streamViewType: properties.StreamSpecification?.StreamViewType,
  };
}
