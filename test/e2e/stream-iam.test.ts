/**
 * The Streams API under local IAM, as AWS judges it: a subscriber's role (what
 * `addSubscriber` grants) reads the table's stream; a role without the grant is refused
 * with AccessDeniedException; the account owner's calls pass.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListStreamsCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDB, type LocalDynamoDB } from '#local/services/dynamodb/dynamodb';
import { templateArns } from '#local/iam/arns';
import { startJsonGate, type JsonGate } from '#local/http/json-gate';
import { LocalIam, serviceJudges } from '#local/iam/local-iam';
import { LOCAL_CREDENTIALS } from '#local/runtime/options';
import { tableSpecFromTemplate } from '#local/services/dynamodb/table-from-template';
import { stackWithSubscriber } from '../helpers/cdk-app.ts';

let dynamo: LocalDynamoDB;
let gate: JsonGate;
let iam: LocalIam;
let streamArn = '';
let logicalIds: { consumer: string; transfer: string };

beforeAll(async () => {
  const { template } = stackWithSubscriber();
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Metadata?: Record<string, unknown> }
  >;
  const [tableId = ''] = Object.keys(template.findResources('AWS::DynamoDB::GlobalTable'));
  dynamo = await startDynamoDB();
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const { TableDescription } = await client.send(
    new CreateTableCommand(tableSpecFromTemplate(template, tableId).create),
  );
  client.destroy();
  streamArn = TableDescription?.LatestStreamArn ?? '';
  const arns = templateArns(template, undefined, (logicalId) =>
    logicalId === tableId ? streamArn : undefined,
  );
  iam = new LocalIam(template, arns);
  gate = await startJsonGate(
    (target, body) => dynamo.call(target, body),
    serviceJudges(iam, () => undefined).dynamodb,
  );
  const functionId = (test: (id: string, resource: (typeof resources)[string]) => boolean) =>
    Object.entries(resources).find(
      ([id, resource]) => resource.Type === 'AWS::Lambda::Function' && test(id, resource),
    )?.[0] ?? '';
  logicalIds = {
    consumer: functionId((id) => id.startsWith('Consumer')),
    transfer: functionId((_, resource) => resource.Metadata?.['VideoGenIngest:Handler'] === 'transfer'),
  };
});
afterAll(async () => {
  await gate.close();
  await dynamo.close();
});

function streamsAs(credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new DynamoDBStreamsClient({ endpoint: gate.endpoint, region: 'us-east-1', credentials });
}

describe('the Streams API under local IAM', () => {
  it("lets a subscriber's role list, describe and read the stream", async () => {
    const streams = streamsAs(iam.credentialsFor(logicalIds.consumer));
    const { Streams } = await streams.send(new ListStreamsCommand({}));
    expect(Streams?.map((stream) => stream.StreamArn)).toEqual([streamArn]);
    const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: StreamDescription?.Shards?.[0]?.ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    expect((await streams.send(new GetRecordsCommand({ ShardIterator }))).Records).toEqual([]);
    streams.destroy();
  });

  it('refuses a role without the stream grant, naming the action and the stream', async () => {
    const owner = streamsAs(LOCAL_CREDENTIALS);
    const { StreamDescription } = await owner.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    const { ShardIterator } = await owner.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: StreamDescription?.Shards?.[0]?.ShardId,
        ShardIteratorType: 'LATEST',
      }),
    );
    owner.destroy();
    const transfer = streamsAs(iam.credentialsFor(logicalIds.transfer));
    await expect(transfer.send(new DescribeStreamCommand({ StreamArn: streamArn }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`dynamodb:DescribeStream on resource: ${streamArn}`),
    });
    await expect(transfer.send(new GetRecordsCommand({ ShardIterator }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`dynamodb:GetRecords on resource: ${streamArn}`),
    });
    transfer.destroy();
  });
});
