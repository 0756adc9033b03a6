import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDB, type LocalDynamoDB } from '#local/services/dynamodb/dynamodb';

let dynamo: LocalDynamoDB;
let client: DynamoDBClient;

beforeAll(async () => {
  dynamo = await startDynamoDB();
  client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  for (const [name, streamed] of [
    ['streamed', true],
    ['plain', false],
  ] as const) {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        ...(streamed
          ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }
          : {}),
      }),
    );
  }
});

afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

/** The error a write fails with. */
async function failure(write: Promise<unknown>): Promise<unknown> {
  return write.then(
    () => {
      throw new Error('the write succeeded');
    },
    (error: unknown) => error,
  );
}

const stored = (pk: string): Record<string, AttributeValue> => ({ pk: { S: pk }, version: { N: '3' } });

describe.each(['streamed', 'plain'])('a failed condition, on a table %s', (TableName) => {
  it('carries the item it was checked against when the write asks for it, as DynamoDB does', async () => {
    await client.send(new PutItemCommand({ TableName, Item: stored('a') }));
    const condition = {
      ConditionExpression: 'version = :expected',
      ExpressionAttributeValues: { ':expected': { N: '2' } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    const writes = [
      client.send(new PutItemCommand({ TableName, Item: { ...stored('a'), v: { S: 'new' } }, ...condition })),
      client.send(
        new UpdateItemCommand({
          TableName,
          Key: { pk: { S: 'a' } },
          UpdateExpression: 'SET v = :v',
          ...condition,
          ExpressionAttributeValues: { ...condition.ExpressionAttributeValues, ':v': { S: 'new' } },
          ReturnValues: 'ALL_NEW',
        }),
      ),
      client.send(new DeleteItemCommand({ TableName, Key: { pk: { S: 'a' } }, ...condition })),
    ];
    for (const write of writes) {
      const error = await failure(write);
      expect(error).toBeInstanceOf(ConditionalCheckFailedException);
      expect((error as ConditionalCheckFailedException).Item).toEqual(stored('a'));
    }
  });

  it('carries no item when the write does not ask, or when there is none', async () => {
    await client.send(new PutItemCommand({ TableName, Item: stored('b') }));
    const notAsked = await failure(
      client.send(
        new PutItemCommand({ TableName, Item: stored('b'), ConditionExpression: 'attribute_not_exists(pk)' }),
      ),
    );
    expect((notAsked as ConditionalCheckFailedException).Item).toBeUndefined();
    const none = await failure(
      client.send(
        new UpdateItemCommand({
          TableName,
          Key: { pk: { S: 'absent' } },
          UpdateExpression: 'SET v = :v',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':v': { S: 'x' } },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    expect(none).toBeInstanceOf(ConditionalCheckFailedException);
    expect((none as ConditionalCheckFailedException).Item).toBeUndefined();
  });

  it('gives a cancelled transaction’s failed item where it asks for it', async () => {
    await client.send(new PutItemCommand({ TableName, Item: stored('c') }));
    const error = await failure(
      client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName, Item: stored('d') } },
            {
              Put: {
                TableName,
                Item: stored('c'),
                ConditionExpression: 'attribute_not_exists(pk)',
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              },
            },
          ],
        }),
      ),
    );
    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons).toEqual([
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed', Item: stored('c') },
    ]);
  });
});
