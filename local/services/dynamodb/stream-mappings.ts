/**
 * The template's DynamoDB stream event source mappings (a VideoGenIngest's subscribers),
 * started as Lambda starts them: CreateEventSourceMapping's checks of the function's role
 * first (the stream read, the on-failure queue's send), then a poller that reads the stream
 * through the Streams API with the function's own credentials, so local IAM judges it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  DescribeStreamCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { Template } from 'aws-cdk-lib/assertions';
import type { Item } from './dynamodb-items.ts';
import type { StreamRecord } from './dynamodb-streams.ts';
import type { SqsQueue } from '../sqs/sqs-queue.ts';
import { LOCAL_REGION } from '../../cfn.ts';
import type { LocalIam } from '../../iam/local-iam.ts';
import type { LocalFunction, LocalLambdas } from '../lambda/lambdas.ts';
import { LOCAL_CREDENTIALS } from '../../iam/local-credentials.ts';
import type { TemplateQueues } from '../sqs/queues.ts';
import {
  StreamEventSourceMapping,
  type CheckpointStore,
  type DeliveryEvent,
  type StreamReader,
} from './stream-event-source-mapping.ts';
import { recordDeliveries, type SubscriberDelivery } from '../../../ops/deliveries-log.ts';

/** A stream subscriber's deliveries so far (`addSubscriber`): what `start` and `run` show of it. */
export interface SubscriberFigures {
  readonly label: string;
  readonly delivered: number;
  readonly failedInvocations: number;
  readonly sentToOnFailure: number;
  /** Records read from the stream and not yet done. */
  readonly backlog: number;
}

export type { SubscriberDelivery } from '../../../ops/deliveries-log.ts';

interface StreamMappingProperties {
  EventSourceArn?: { 'Fn::GetAtt'?: [string, string] };
  FunctionName?: { Ref?: string };
  BatchSize?: number;
  MaximumBatchingWindowInSeconds?: number;
  StartingPosition?: 'LATEST' | 'TRIM_HORIZON';
  ParallelizationFactor?: number;
  BisectBatchOnFunctionError?: boolean;
  MaximumRetryAttempts?: number;
  MaximumRecordAgeInSeconds?: number;
  FunctionResponseTypes?: string[];
  FilterCriteria?: { Filters?: { Pattern: string }[] };
  DestinationConfig?: { OnFailure?: { Destination?: { 'Fn::GetAtt'?: [string, string] } } };
  Enabled?: boolean;
}

/** A subscriber, running: its function, its mapping (figures, backlog) and its on-failure queue. */
export interface Subscriber {
  readonly mappingLogicalId: string;
  readonly function: LocalFunction;
  readonly mapping: StreamEventSourceMapping;
  readonly onFailureQueue: SqsQueue | undefined;
}

/** A record from the SDK back to the wire's shape (Lambda passes the wire's JSON): seconds, and binary as base64. */
function wireRecord(record: unknown): StreamRecord {
  const convert = (value: unknown): unknown => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
    if (value instanceof Date) return Math.floor(value.getTime() / 1000);
    if (Array.isArray(value)) return value.map(convert);
    if (value && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([, item]) => item !== undefined)
          .map(([key, item]) => [key, convert(item)]),
      );
    }
    return value;
  };
  return convert(record) as StreamRecord;
}

/** Reads the stream as the mapping's poller does: the Streams API, signed as the function's role. */
export function streamReader(client: DynamoDBStreamsClient, streamArn: string): StreamReader {
  return {
    shardId: async () => {
      const { StreamDescription } = await client.send(new DescribeStreamCommand({ StreamArn: streamArn }));
      const shardId = StreamDescription?.Shards?.[0]?.ShardId;
      if (!shardId) throw new Error(`stream ${streamArn} has no shard`);
      return shardId;
    },
    iterator: async (shardId, type, sequenceNumber) => {
      const { ShardIterator } = await client.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: type,
          ...(sequenceNumber ? { SequenceNumber: sequenceNumber } : {}),
        }),
      );
      return ShardIterator ?? '';
    },
    read: async (iterator) => {
      const { Records = [], NextShardIterator } = await client.send(
        new GetRecordsCommand({ ShardIterator: iterator }),
      );
      return { records: Records.map(wireRecord), next: NextShardIterator ?? iterator };
    },
  };
}

/**
 * Checkpoints of every mapping in one small JSON file of the state folder: read once at
 * start, then written whole at each save (never read back on the hot path).
 */
function checkpointsIn(file: string | undefined): (mappingLogicalId: string) => CheckpointStore | undefined {
  if (!file) return () => undefined;
  let saved: Record<string, string>;
  try {
    saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch {
    saved = {};
  }
  return (mappingLogicalId) => ({
    load: () => saved[mappingLogicalId],
    save: (sequenceNumber) => {
      saved = { ...saved, [mappingLogicalId]: sequenceNumber };
      writeFileSync(file, JSON.stringify(saved));
    },
  });
}

const STREAM_READ_ACTIONS = ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'];

/** Refused as CreateEventSourceMapping refuses it: the role's missing permission named. */
async function checkRole(
  iam: LocalIam | undefined,
  role: string | undefined,
  calls: { action: string; resource: string }[],
  message: string,
): Promise<void> {
  for (const call of calls) {
    await iam?.check({ principal: role, ...call }).catch((error: unknown) => {
      throw Object.assign(new Error(`${message} (${(error as Error).message})`), {
        name: 'InvalidParameterValueException',
        cause: error,
      });
    });
  }
}

export async function startStreamMappings(given: {
  template: Template;
  functions: readonly LocalFunction[];
  lambdas: LocalLambdas;
  iam: LocalIam | undefined;
  queues: TemplateQueues;
  /** The table's stream, by the table's logical id. */
  streamArnOf: (tableLogicalId: string) => string | undefined;
  /** Where the functions reach DynamoDB (the IAM gate, when IAM is on). */
  endpoint: string;
  checkpointsFile?: string;
  onDelivery?: (subscriber: LocalFunction, event: DeliveryEvent) => void;
  log: (line: string) => void;
}): Promise<Subscriber[]> {
  const { iam, queues } = given;
  const declared = given.template.findResources('AWS::Lambda::EventSourceMapping') as Record<
    string,
    { Properties: StreamMappingProperties }
  >;
  const subscribers: Subscriber[] = [];
  const checkpointOf = checkpointsIn(given.checkpointsFile);
  for (const [mappingLogicalId, { Properties: properties }] of Object.entries(declared)) {
    const [tableLogicalId, attribute] = properties.EventSourceArn?.['Fn::GetAtt'] ?? [];
    if (attribute !== 'StreamArn' || !tableLogicalId || properties.Enabled === false) continue;
    const subscriber = given.functions.find((fn) => fn.logicalId === properties.FunctionName?.Ref);
    const streamArn = given.streamArnOf(tableLogicalId);
    if (!subscriber || !streamArn) continue; // named at start by the runtime (a function it does not run)
    const role = iam?.policies.roleOf(subscriber.logicalId);
    await checkRole(
      iam,
      role,
      [
        ...STREAM_READ_ACTIONS.map((action) => ({ action, resource: streamArn })),
        { action: 'dynamodb:ListStreams', resource: '*' },
      ],
      `Cannot access stream ${streamArn}. Please ensure the role can perform the GetRecords, GetShardIterator, DescribeStream, and ListStreams Actions on your stream in IAM.`,
    );
    const destinationLogicalId = properties.DestinationConfig?.OnFailure?.Destination?.['Fn::GetAtt']?.[0];
    const onFailureQueue = destinationLogicalId ? queues.queues.get(destinationLogicalId) : undefined;
    if (destinationLogicalId && !onFailureQueue) {
      throw new Error(
        `the on-failure destination ${destinationLogicalId} of ${mappingLogicalId} is not an SQS queue of the stack (only SQS destinations run locally)`,
      );
    }
    if (onFailureQueue) {
      await checkRole(
        iam,
        role,
        [{ action: 'sqs:SendMessage', resource: onFailureQueue.arn }],
        'The provided execution role does not have permissions to call SendMessage on SQS',
      );
    }
    const client = new DynamoDBStreamsClient({
      endpoint: given.endpoint,
      region: LOCAL_REGION,
      credentials: iam?.credentialsFor(subscriber.logicalId) ?? LOCAL_CREDENTIALS,
    });
    const checkpoint = checkpointOf(mappingLogicalId);
    const mapping = new StreamEventSourceMapping({
      functionArn: subscriber.functionArn,
      streamArn,
      reader: streamReader(client, streamArn),
      invoke: (event) => given.lambdas.invoke(subscriber.functionArn, event),
      ...(onFailureQueue
        ? {
            sendToOnFailure: async (record) => {
              // The send is the function's role's, judged as SQS judges it.
              await iam?.check({ principal: role, action: 'sqs:SendMessage', resource: onFailureQueue.arn });
              onFailureQueue.send(JSON.stringify(record));
            },
          }
        : {}),
      ...(properties.FilterCriteria?.Filters ? { filters: properties.FilterCriteria.Filters } : {}),
      ...(properties.BatchSize === undefined ? {} : { batchSize: properties.BatchSize }),
      ...(properties.MaximumBatchingWindowInSeconds === undefined
        ? {}
        : { batchingWindowSeconds: properties.MaximumBatchingWindowInSeconds }),
      ...(properties.StartingPosition === undefined ? {} : { startingPosition: properties.StartingPosition }),
      ...(properties.ParallelizationFactor === undefined
        ? {}
        : { parallelizationFactor: properties.ParallelizationFactor }),
      bisectOnError: properties.BisectBatchOnFunctionError === true,
      ...(properties.MaximumRetryAttempts === undefined
        ? {}
        : { maxRetryAttempts: properties.MaximumRetryAttempts }),
      ...(properties.MaximumRecordAgeInSeconds === undefined
        ? {}
        : { maxRecordAgeSeconds: properties.MaximumRecordAgeInSeconds }),
      reportBatchItemFailures: (properties.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
      ...(checkpoint ? { checkpoint } : {}),
      onDelivery: (event) => given.onDelivery?.(subscriber, event),
      log: given.log,
    });
    subscribers.push({ mappingLogicalId, function: subscriber, mapping, onFailureQueue });
  }
  for (const subscriber of subscribers) await subscriber.mapping.start();
  return subscribers;
}

/** One line per record of a delivery event: which file, which status, what happened. */
export function deliveriesOf(subscriber: LocalFunction, event: DeliveryEvent): SubscriberDelivery[] {
  const at = new Date(event.invokedAt ?? Date.now()).toISOString();
  return event.records.map((record) => {
    const image: Item | undefined = record.dynamodb.NewImage ?? record.dynamodb.OldImage;
    return {
      subscriber: subscriber.label,
      outcome: event.outcome,
      key: image?.key?.S,
      status: image?.status?.S,
      writtenAt: image?.updatedAt?.S,
      sequenceNumber: record.dynamodb.SequenceNumber,
      at,
      ...(event.reason ? { reason: event.reason } : {}),
    };
  });
}

/** What a person reads about a subscriber's failed batch or records given up. */
export function describeDeliveries(event: DeliveryEvent, label: string): string {
  const keys = [
    ...new Set(
      event.records.map((record) => (record.dynamodb.NewImage ?? record.dynamodb.OldImage)?.key?.S ?? '?'),
    ),
  ];
  const what = `${event.records.length} record${event.records.length === 1 ? '' : 's'} (${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''})`;
  const reason = (event.reason ?? '').split('\n')[0];
  return event.outcome === 'sent-to-on-failure'
    ? `subscriber ${label}: gave up ${what}, sent to its on-failure queue (${reason})`
    : `subscriber ${label}: failed on ${what}: ${reason}`;
}

/**
 * The stack's subscribers, started: their mappings, what each did with each record (kept
 * in memory, and in the state folder's log when there is one), and their figures.
 */
export class LocalSubscribers {
  readonly all: readonly Subscriber[];
  /** What each subscriber's mapping did with each record, oldest first. */
  readonly deliveries: readonly SubscriberDelivery[];

  private constructor(all: readonly Subscriber[], deliveries: readonly SubscriberDelivery[]) {
    this.all = all;
    this.deliveries = deliveries;
  }

  static async start(
    given: Omit<Parameters<typeof startStreamMappings>[0], 'onDelivery'> & { deliveriesLog?: string },
  ): Promise<LocalSubscribers> {
    const deliveries: SubscriberDelivery[] = [];
    const all = await startStreamMappings({
      ...given,
      onDelivery: (subscriber, event) => {
        if (event.outcome === 'filtered-out') return;
        const done = deliveriesOf(subscriber, event);
        deliveries.push(...done);
        if (given.deliveriesLog) recordDeliveries(given.deliveriesLog, done);
        // A subscriber's trouble is news: said as it happens, the rest is in the figures.
        if (event.outcome === 'failed' || event.outcome === 'sent-to-on-failure') {
          given.log(describeDeliveries(event, subscriber.label));
        }
      },
    });
    return new LocalSubscribers(all, deliveries);
  }

  /** Each subscriber's deliveries so far, for the live view and `run`. */
  figures(): SubscriberFigures[] {
    return this.all.map(({ function: fn, mapping }) => ({
      label: fn.label,
      delivered: mapping.figures.delivered,
      failedInvocations: mapping.figures.failedInvocations,
      sentToOnFailure: mapping.figures.sentToOnFailure,
      backlog: mapping.backlog,
    }));
  }

  /** Resolves when every mapping has read the whole stream and is done with it. */
  async idle(deadline: number): Promise<void> {
    for (const subscriber of this.all) await subscriber.mapping.idle(Math.max(1, deadline - Date.now()));
  }

  close(): void {
    for (const subscriber of this.all) subscriber.mapping.close();
  }
}
