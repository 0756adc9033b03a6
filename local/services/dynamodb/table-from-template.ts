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

/**
 * A table exactly as the synthesized template defines it: keys, indexes, TTL, stream. The
 * table `logicalId` names, or the template's only one.
 */
export function tableSpecFromTemplate(template: Template, tableName: string, logicalId?: string): TableSpec {
  const tables = template.findResources('AWS::DynamoDB::GlobalTable');
  const found = logicalId === undefined ? Object.values(tables) : [tables[logicalId]].filter(Boolean);
  if (found.length !== 1)
    throw new Error(
      logicalId === undefined
        ? `expected the one table of a VideoGenIngest in the stack, found ${found.length}`
        : `no table ${logicalId} in the stack`,
    );
  const properties = (found[0] as { Properties: GlobalTableProperties }).Properties;
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
