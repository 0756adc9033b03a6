import { Duration, FeatureFlags, RemovalPolicy, Stack, type Size } from 'aws-cdk-lib';
import type { Alarm, Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, Billing, StreamViewType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  FilterCriteria,
  FunctionUrlAuthType,
  InvokeMode,
  StartingPosition,
  type IFunction,
} from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  ObjectOwnership,
  type IBucket,
} from 'aws-cdk-lib/aws-s3';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption, type IQueue } from 'aws-cdk-lib/aws-sqs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { READINESS_LEVELS, type Readiness } from '../lambdas/shared/config.ts';
import { dropKeyPattern, type DropFilter } from '../lambdas/shared/drop-filter.ts';
import { DEFAULT_VIDEOGEN_API_URL, MAX_SINGLE_PUT_BYTES } from '../lambdas/shared/videogen/contract.ts';
import { INGEST_STATUSES, type IngestStatus } from '../lambdas/shared/ingest/record.ts';
import { IngestFunction } from './ingest-function.ts';
import { IngestMonitoring } from './ingest-monitoring.ts';
import { checkHistoryBudget, IngestWorkflow } from './ingest-workflow.ts';
import {
  acknowledgeFailureDestination,
  acknowledgeListStreams,
  applyNagSuppressions,
} from './nag-suppressions.ts';
import { WebhookRegistration } from './webhook-registration.ts';

/**
 * Deliveries of one transfer message before the worker fails its file
 * (`TransferAttemptsExhaustedError`): crashes and transient errors, each retried after a
 * growing delay (15 s doubling to 15 min, about two hours in all).
 */
export const MAX_TRANSFER_RECEIVES = 10;

export interface VideoGenIngestProps {
  /**
   * The API key, as a Secrets Manager secret holding the key itself or `{"apiKey": "…"}`.
   */
  readonly apiKeySecret: ISecret;
  /**
   * The drop bucket. For an existing bucket the stack turns on its "Send notifications
   * to Amazon EventBridge" (its other notifications are left alone).
   * @default a new bucket: private, encrypted, TLS only, versioned, with EventBridge notifications
   */
  readonly bucket?: IBucket;
  /**
   * The KMS key of a bring-your-own bucket encrypted with SSE-KMS: the functions that read
   * the sources get `kms:Decrypt` on it. (A bucket made here, or one whose `encryptionKey`
   * is set, needs none.)
   * @default the bucket's `encryptionKey`, if any
   */
  readonly bucketEncryptionKey?: IKey;
  /**
   * Only keys under this prefix are ingested.
   * @default '' (every key)
   */
  readonly keyPrefix?: string;
  /**
   * Only keys ending in one of these, compared without case (`.mp4` matches `CLIP.MP4`).
   * @default [] (every key)
   */
  readonly keySuffixes?: readonly string[];
  /**
   * The VideoGen API's base URL.
   * @default https://api.videogen.io
   */
  readonly videoGenApiUrl?: string;
  /**
   * The webhook signing secret (`{"secret": "whsec_…"}` or the value itself), for when you
   * register the webhook URL with VideoGen yourself. When absent, a custom resource
   * registers it on deploy, keeps the secret in a new secret, and deletes it on stack deletion.
   * @default registered automatically
   */
  readonly webhookSecret?: ISecret;
  /**
   * When a file counts as READY: `upload` (bytes stored), `playback` (HLS ready; images:
   * download), `download` (static rendition ready), `analysis` (analysis finished;
   * temporary files: download).
   * @default 'download'
   */
  readonly readiness?: Readiness;
  /**
   * Larger objects are recorded REJECTED. At most 5 GiB, the single-PUT ceiling.
   * @default Size.gibibytes(5)
   */
  readonly maxFileSize?: Size;
  /**
   * At most this many transfers at once (create + PUT): the transfer queue's event source
   * mapping `MaximumConcurrency` (2 to 1,000). Files beyond it wait in the queue, at no cost
   * per minute of waiting. No reserved concurrency is needed, so any account can deploy it.
   * @default 10
   */
  readonly maxConcurrentTransfers?: number;
  /**
   * How long a file may wait in the transfer queue, transfer included, before it ends
   * FAILED `TransferQueueTimeoutError`. From 1 minute to 13 days (the queue keeps a message
   * at most 14 days).
   * @default Duration.hours(24)
   */
  readonly maxQueueWait?: Duration;
  /**
   * Reserved concurrency of the webhook function (VideoGen retries what is throttled).
   * Opt in only where the account has room: Lambda keeps at least 100 executions of the
   * account's concurrency unreserved, so a reservation needs the quota to be at least 100
   * plus all reservations (new accounts often have a quota of 10, and the deploy fails).
   * @default no reservation
   */
  readonly maxConcurrentWebhooks?: number;
  /**
   * How long to wait for a webhook before polling `GET /v1/files/{id}` (and between polls).
   * @default Duration.minutes(10)
   */
  readonly pollAfter?: Duration;
  /**
   * How long an ingest waits for readiness before it is recorded TIMED_OUT.
   * @default Duration.hours(6)
   */
  readonly maxWait?: Duration;
  /**
   * VideoGen files one source may get, each after the previous upload URL expired.
   * @default 3
   */
  readonly maxUploadUrlAttempts?: number;
  /**
   * Memory of the Transfer function; Lambda's network share grows with it.
   * @default 1024
   */
  readonly transferMemoryMiB?: number;
  /**
   * What happens to the bucket (when created here), the table and the log groups on stack deletion.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Where the alarms notify (subscribe e-mail, chat or paging to it). Its policy must let
   * `cloudwatch.amazonaws.com` publish (a topic policy replaces SNS's default one).
   * @default a new topic, TLS only, that this account's CloudWatch alarms may publish to
   */
  readonly alarmTopic?: ITopic;
  /**
   * Webhook requests with a bad signature in 5 minutes that raise the alarm.
   * @default 10
   */
  readonly signatureFailureAlarmThreshold?: number;
}

/** How a stream subscriber is wired; see `VideoGenIngest.addSubscriber`. */
export interface SubscriberOptions {
  /**
   * Deliver only records that just entered one of these statuses (INSERTs in one, and
   * MODIFYs whose old status was not one of them).
   * @default every status change
   */
  readonly statuses?: readonly IngestStatus[];
  /** @default 10 */
  readonly batchSize?: number;
  /**
   * Retries of a failing batch (halved each time: bisect on error) before its records go
   * to the on-failure destination.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this go to the on-failure destination instead of being retried.
   * @default Duration.days(1)
   */
  readonly maxRecordAge?: Duration;
  /**
   * Where records that still fail are sent (as stream pointers, to read back within 24 h).
   * @default a new SQS queue, `subscriberFailures`, kept 14 days
   */
  readonly onFailureQueue?: IQueue;
}

/** Props after defaults, as the construct uses them. */
interface ResolvedProps {
  readonly filter: DropFilter;
  readonly videoGenApiUrl: string;
  readonly readiness: Readiness;
  readonly maxFileBytes: number;
  readonly maxConcurrentTransfers: number;
  readonly maxQueueWait: Duration;
  readonly maxConcurrentWebhooks: number | undefined;
  readonly pollAfter: Duration;
  readonly maxWait: Duration;
  readonly maxUploadUrlAttempts: number;
  readonly transferMemoryMiB: number;
  readonly signatureFailureAlarmThreshold: number;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: RetentionDays;
}

function wholeInRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function optionalWholeInRange(name: string, value: number | undefined, min: number, max: number) {
  return value === undefined ? undefined : wholeInRange(name, value, min, max);
}

/** Applies defaults and checks every prop, with messages that say what to change. */
export function resolveProps(props: VideoGenIngestProps): ResolvedProps {
  const readiness = props.readiness ?? 'download';
  if (!READINESS_LEVELS.includes(readiness)) {
    throw new Error(`readiness must be one of ${READINESS_LEVELS.join(', ')}, got "${readiness as string}"`);
  }
  const videoGenApiUrl = (props.videoGenApiUrl ?? DEFAULT_VIDEOGEN_API_URL).replace(/\/+$/, '');
  if (!/^https:\/\/[^/\s]+/.test(videoGenApiUrl)) {
    throw new Error(`videoGenApiUrl must be an https:// URL, got "${videoGenApiUrl}"`);
  }
  const keyPrefix = props.keyPrefix ?? '';
  if (keyPrefix.startsWith('/')) throw new Error(`keyPrefix must not start with "/", got "${keyPrefix}"`);
  const suffixes = [...(props.keySuffixes ?? [])];
  for (const suffix of suffixes) {
    if (suffix.trim() === '' || /[*?]/.test(suffix)) {
      throw new Error(`keySuffixes must be plain endings such as ".mp4", got "${suffix}"`);
    }
  }
  const maxFileBytes = props.maxFileSize?.toBytes() ?? MAX_SINGLE_PUT_BYTES;
  if (maxFileBytes < 1 || maxFileBytes > MAX_SINGLE_PUT_BYTES) {
    throw new Error(
      `maxFileSize must be from 1 byte to 5 GiB (the single-PUT ceiling), got ${maxFileBytes} bytes`,
    );
  }
  const pollAfter = props.pollAfter ?? Duration.minutes(10);
  const maxWait = props.maxWait ?? Duration.hours(6);
  if (pollAfter.toMilliseconds() < 1000) throw new Error('pollAfter must be at least 1 second');
  if (maxWait.toSeconds() < pollAfter.toSeconds()) {
    throw new Error(
      `maxWait (${maxWait.toHumanString()}) must be at least pollAfter (${pollAfter.toHumanString()})`,
    );
  }
  if (maxWait.toDays({ integral: false }) > 364)
    throw new Error('maxWait must be under 364 days (a Standard workflow lives at most a year)');
  checkHistoryBudget(maxWait, pollAfter);
  const maxQueueWait = props.maxQueueWait ?? Duration.hours(24);
  if (maxQueueWait.toSeconds() < 60 || maxQueueWait.toSeconds() > Duration.days(13).toSeconds()) {
    throw new Error(
      `maxQueueWait must be from 1 minute to 13 days (the transfer queue keeps a message at most 14 days), got ${maxQueueWait.toHumanString()}`,
    );
  }
  return {
    filter: { prefix: keyPrefix, suffixes },
    videoGenApiUrl,
    readiness,
    maxFileBytes,
    maxConcurrentTransfers: wholeInRange(
      'maxConcurrentTransfers',
      props.maxConcurrentTransfers ?? 10,
      2,
      1000,
    ),
    maxQueueWait,
    maxConcurrentWebhooks: optionalWholeInRange(
      'maxConcurrentWebhooks',
      props.maxConcurrentWebhooks,
      1,
      1000,
    ),
    pollAfter,
    maxWait,
    maxUploadUrlAttempts: wholeInRange('maxUploadUrlAttempts', props.maxUploadUrlAttempts ?? 3, 1, 10),
    transferMemoryMiB: wholeInRange('transferMemoryMiB', props.transferMemoryMiB ?? 1024, 128, 10240),
    signatureFailureAlarmThreshold: wholeInRange(
      'signatureFailureAlarmThreshold',
      props.signatureFailureAlarmThreshold ?? 10,
      1,
      100_000,
    ),
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
  };
}

/**
 * Drop a file into S3; it becomes a VideoGen file, and its whole lifecycle lands in a
 * DynamoDB table whose stream downstream systems subscribe to.
 */
export class VideoGenIngest extends Construct {
  /** The drop bucket. */
  readonly bucket: IBucket;
  /** Ingest records (`kind = "ingest"`), file pointers and delivery-dedupe items; stream NEW_AND_OLD_IMAGES. */
  readonly table: TableV2;
  readonly stateMachine: StateMachine;
  /** The webhook Lambda's Function URL, registered with VideoGen. */
  readonly webhookUrl: string;
  /** S3 events the starter could not handle after 5 tries. */
  readonly deadLetterQueue: IQueue;
  /** The queue that buffers S3 events for the starter. */
  readonly ingestQueue: IQueue;
  /** Files waiting their turn to transfer: at most `maxConcurrentTransfers` are taken at once. */
  readonly transferQueue: IQueue;
  /** Transfer messages no worker could finish (a safety net: the worker fails such files itself first). */
  readonly transferDeadLetterQueue: IQueue;
  /** The secret webhook deliveries are verified with. */
  readonly webhookSecret: ISecret;
  readonly functions: Readonly<
    Record<'starter' | 'prepare' | 'transfer' | 'awaitFile' | 'poll' | 'recordFailure' | 'webhook', IFunction>
  >;
  readonly alarms: readonly Alarm[];
  /** Alarms notify this topic. */
  readonly alarmTopic: ITopic;
  readonly dashboard: Dashboard;
  /** The `service` dimension of this construct's metrics (namespace `VideoGenIngest`). */
  readonly metricsService: string;

  constructor(scope: Construct, id: string, props: VideoGenIngestProps) {
    super(scope, id);
    const config = resolveProps(props);
    const { removalPolicy, logRetention } = config;

    this.bucket = props.bucket ?? this.createDropBucket(removalPolicy);
    // Idempotent for a bucket made here; for yours, a custom resource adds EventBridge
    // delivery to its notification configuration and keeps what is there.
    if (props.bucket) this.bucket.enableEventBridgeNotification();
    // One service per construct, so a metric means the same whichever function wrote it.
    this.metricsService = `${Stack.of(this).stackName}/${this.node.id}`;

    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      encryption: TableEncryptionV2.awsManagedKey(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      dynamoStream: StreamViewType.NEW_AND_OLD_IMAGES,
      timeToLiveAttribute: 'expiresAt',
      globalSecondaryIndexes: [
        {
          indexName: 'byStatus',
          partitionKey: { name: 'status', type: AttributeType.STRING },
          sortKey: { name: 'updatedAt', type: AttributeType.STRING },
        },
      ],
      removalPolicy,
    });

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const starterTimeout = Duration.seconds(30);
    this.ingestQueue = new Queue(this, 'IngestQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(starterTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    const keyPattern = dropKeyPattern(config.filter);
    new Rule(this, 'ObjectCreatedRule', {
      description: 'S3 Object Created events of the drop bucket, to the ingest queue',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [this.bucket.bucketName] },
          ...(keyPattern ? { object: { key: keyPattern } } : {}),
        },
      },
      targets: [new SqsQueue(this.ingestQueue, { deadLetterQueue: this.deadLetterQueue })],
    });

    const tableEnv = { TABLE_NAME: this.table.tableName };
    const apiEnv = {
      VIDEOGEN_API_URL: config.videoGenApiUrl,
      VIDEOGEN_API_KEY_SECRET: props.apiKeySecret.secretArn,
    };
    const common = { logRetention, removalPolicy, serviceName: this.metricsService };
    const prepare = new IngestFunction(this, 'Prepare', {
      ...common,
      handler: 'prepare',
      environment: { ...tableEnv, READINESS: config.readiness, MAX_FILE_BYTES: String(config.maxFileBytes) },
    });
    const transferTimeout = Duration.minutes(15);
    this.transferDeadLetterQueue = new Queue(this, 'TransferDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.transferQueue = new Queue(this, 'TransferQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // At least the worker's timeout, so no message is taken twice at once; a crashed
      // attempt is taken again a minute after the time it could have run. Not AWS's "six
      // times the timeout": MaximumConcurrency keeps the mapping from throttling itself.
      visibilityTimeout: transferTimeout.plus(Duration.minutes(1)),
      retentionPeriod: config.maxQueueWait.plus(Duration.days(1)),
      // The worker fails a file itself after MAX_TRANSFER_RECEIVES deliveries; this catches the rest.
      deadLetterQueue: { queue: this.transferDeadLetterQueue, maxReceiveCount: MAX_TRANSFER_RECEIVES + 2 },
    });
    const transfer = new IngestFunction(this, 'Transfer', {
      ...common,
      handler: 'transfer',
      environment: {
        ...tableEnv,
        ...apiEnv,
        MAX_UPLOAD_URL_ATTEMPTS: String(config.maxUploadUrlAttempts),
        MAX_TRANSFER_RECEIVES: String(MAX_TRANSFER_RECEIVES),
        TRANSFER_QUEUE_URL: this.transferQueue.queueUrl,
      },
      memorySize: config.transferMemoryMiB,
      timeout: transferTimeout,
    });
    transfer.addEventSource(
      new SqsEventSource(this.transferQueue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        maxConcurrency: config.maxConcurrentTransfers,
      }),
    );
    const awaitFile = new IngestFunction(this, 'AwaitFile', {
      ...common,
      handler: 'await-file',
      environment: tableEnv,
      timeout: Duration.seconds(15),
    });
    const poll = new IngestFunction(this, 'Poll', {
      ...common,
      handler: 'poll',
      environment: { ...tableEnv, ...apiEnv, MAX_WAIT_SECONDS: String(config.maxWait.toSeconds()) },
    });
    const recordFailure = new IngestFunction(this, 'RecordFailure', {
      ...common,
      handler: 'record-failure',
      environment: { ...tableEnv, READINESS: config.readiness },
      timeout: Duration.seconds(15),
    });

    const workflow = new IngestWorkflow(this, 'Workflow', {
      functions: { prepare, awaitFile, poll, recordFailure },
      transferQueue: this.transferQueue,
      maxQueueWait: config.maxQueueWait,
      pollAfter: config.pollAfter,
      maxWait: config.maxWait,
      logRetention,
      removalPolicy,
    });
    this.stateMachine = workflow.stateMachine;

    const starter = new IngestFunction(this, 'Starter', {
      ...common,
      handler: 'starter',
      timeout: starterTimeout,
      environment: {
        STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
        DROP_PREFIX: config.filter.prefix,
        DROP_SUFFIXES: config.filter.suffixes.join(','),
      },
    });
    starter.addEventSource(
      new SqsEventSource(this.ingestQueue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
        maxConcurrency: 5,
      }),
    );

    // Least privilege: exact actions, on the drop prefix and this table only.
    const readSource = new PolicyStatement({
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: [this.bucket.arnForObjects(`${config.filter.prefix}*`)],
    });
    // With s3:ListBucket S3 answers a deleted source 404, not 403; the listing is held to the prefix.
    const listSource = new PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
      ...(config.filter.prefix
        ? { conditions: { StringLike: { 's3:prefix': `${config.filter.prefix}*` } } }
        : {}),
    });
    const sourceKey = props.bucketEncryptionKey ?? this.bucket.encryptionKey;
    for (const fn of [prepare, transfer]) {
      fn.addToRolePolicy(readSource);
      fn.addToRolePolicy(listSource);
      sourceKey?.grantDecrypt(fn);
    }
    // Item actions on the table itself: no handler queries an index (`table.grant` would add index/*).
    const grantItems = (fn: IFunction, ...actions: string[]): void => {
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: actions.map((action) => `dynamodb:${action}`),
          resources: [this.table.tableArn],
        }),
      );
    };
    // GetItem: a failed claim reads the record to tell a duplicate from its own retry.
    grantItems(prepare, 'GetItem', 'PutItem');
    // PutItem: the file pointer, written in one transaction with the created file.
    grantItems(transfer, 'GetItem', 'UpdateItem', 'PutItem');
    grantItems(awaitFile, 'GetItem', 'UpdateItem');
    grantItems(poll, 'GetItem', 'PutItem', 'UpdateItem');
    grantItems(recordFailure, 'GetItem', 'PutItem', 'UpdateItem');
    props.apiKeySecret.grantRead(transfer);
    props.apiKeySecret.grantRead(poll);
    this.stateMachine.grantStartExecution(starter);
    // A Policy of its own, not the role's default one: the function must not depend on the
    // state machine that invokes it (a CloudFormation dependency cycle otherwise).
    new Policy(this, 'AwaitFileTaskResponse', {
      roles: awaitFile.role ? [awaitFile.role] : [],
      statements: [
        new PolicyStatement({
          actions: ['states:SendTaskSuccess'],
          resources: [this.stateMachine.stateMachineArn],
        }),
      ],
    });
    // The transfer worker answers the token its message carries: done, or failed by name.
    transfer.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
        resources: [this.stateMachine.stateMachineArn],
      }),
    );

    const webhook = new IngestFunction(this, 'Webhook', {
      ...common,
      handler: 'webhook',
      environment: tableEnv,
      timeout: Duration.seconds(10),
      ...(config.maxConcurrentWebhooks === undefined
        ? {}
        : { reservedConcurrentExecutions: config.maxConcurrentWebhooks }),
    });
    // The Standard Webhooks signature is the authentication; VideoGen cannot sign AWS requests.
    const functionUrl = webhook.addFunctionUrl({
      authType: FunctionUrlAuthType.NONE,
      invokeMode: InvokeMode.BUFFERED,
    });
    this.webhookUrl = functionUrl.url;
    grantItems(webhook, 'GetItem', 'PutItem', 'UpdateItem', 'DeleteItem');
    webhook.addToRolePolicy(
      new PolicyStatement({
        actions: ['states:SendTaskSuccess'],
        resources: [this.stateMachine.stateMachineArn],
      }),
    );

    let registration: WebhookRegistration | undefined;
    if (props.webhookSecret) {
      this.webhookSecret = props.webhookSecret;
    } else {
      registration = new WebhookRegistration(this, 'WebhookRegistration', {
        serviceName: this.metricsService,
        webhookUrl: functionUrl.url,
        apiKeySecret: props.apiKeySecret,
        videoGenApiUrl: config.videoGenApiUrl,
        logRetention,
        removalPolicy,
      });
      this.webhookSecret = registration.secret;
    }
    webhook.addEnvironment('WEBHOOK_SECRET', this.webhookSecret.secretArn);
    this.webhookSecret.grantRead(webhook);

    this.functions = { starter, prepare, transfer, awaitFile, poll, recordFailure, webhook };
    const monitoring = new IngestMonitoring(this, 'Monitoring', {
      metricsService: this.metricsService,
      stateMachine: this.stateMachine,
      deadLetterQueue: this.deadLetterQueue,
      ingestQueue: this.ingestQueue,
      transferQueue: this.transferQueue,
      transferDeadLetterQueue: this.transferDeadLetterQueue,
      maxWait: config.maxWait,
      maxQueueWait: config.maxQueueWait,
      signatureFailureThreshold: config.signatureFailureAlarmThreshold,
      ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
    });
    this.alarms = Object.values(monitoring.alarms);
    this.alarmTopic = monitoring.alarmTopic;
    this.dashboard = monitoring.dashboard;
    applyNagSuppressions(this, {
      functions: [...Object.values(this.functions), ...(registration ? [registration.registerFunction] : [])],
      sourceReaders: { roles: [prepare.role, transfer.role], objectsArn: readSource.resources[0] ?? '' },
      workflow: {
        role: this.stateMachine.role,
        invokes: [prepare, awaitFile, poll, recordFailure],
      },
      registration: registration && {
        providerFunction: registration.providerFunction,
        registerFunction: registration.registerFunction,
        secret: registration.secret,
      },
    });
  }

  /**
   * Subscribes `fn` to the table's stream: ingest records only, only the status changes
   * asked for, in batches that are halved on error, retried a bounded number of times and
   * then sent to an on-failure queue, so one bad record never blocks the shard for long.
   * Parse the records with `ingestStreamRecords` from `videogen-ingest/record`.
   * @returns the on-failure queue
   */
  addSubscriber(fn: IFunction, options: SubscriberOptions = {}): IQueue {
    const statuses = [...(options.statuses ?? INGEST_STATUSES)];
    for (const status of statuses) {
      if (!INGEST_STATUSES.includes(status)) {
        throw new Error(`statuses: "${status}" is not an ingest status (${INGEST_STATUSES.join(', ')})`);
      }
    }
    if (statuses.length === 0) throw new Error('statuses must name at least one status');
    const retryAttempts = wholeInRange('retryAttempts', options.retryAttempts ?? 5, 0, 10_000);
    const batchSize = wholeInRange('batchSize', options.batchSize ?? 10, 1, 10_000);
    const maxRecordAge = options.maxRecordAge ?? Duration.days(1);
    const seconds = maxRecordAge.toSeconds();
    if (seconds < 60 || seconds > 604_800) {
      throw new Error(`maxRecordAge must be from 1 minute to 7 days, got ${maxRecordAge.toHumanString()}`);
    }
    let onFailureQueue = options.onFailureQueue;
    if (!onFailureQueue) {
      onFailureQueue = new Queue(this, `SubscriberFailures${fn.node.addr.slice(0, 8)}`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      acknowledgeFailureDestination(onFailureQueue);
    }
    // DynamoEventSource grants dynamodb:ListStreams on the stream ARN, which IAM never matches:
    // the action takes only "*" (aws-cdk#34575). Granted as AWS evaluates it.
    fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: ['*'] }));
    acknowledgeListStreams(fn.role);
    const newStatus = { NewImage: { kind: { S: ['ingest'] }, status: { S: statuses } } };
    fn.addEventSource(
      new DynamoEventSource(this.table, {
        startingPosition: StartingPosition.LATEST,
        batchSize,
        bisectBatchOnError: true,
        retryAttempts,
        maxRecordAge,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(onFailureQueue),
        filters: [
          FilterCriteria.filter({ eventName: ['INSERT'], dynamodb: newStatus }),
          FilterCriteria.filter({
            eventName: ['MODIFY'],
            dynamodb: {
              ...newStatus,
              OldImage: { status: { S: [{ 'anything-but': statuses }] } },
            },
          }),
        ],
      }),
    );
    return onFailureQueue;
  }

  private createDropBucket(removalPolicy: RemovalPolicy): Bucket {
    const secure = {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    };
    // Without this feature flag CDK grants log delivery through an ACL, which needs ObjectWriter ownership.
    const logsByPolicy =
      FeatureFlags.of(this).isEnabled('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy') ?? false;
    const accessLogs = new Bucket(this, 'AccessLogsBucket', {
      ...secure,
      objectOwnership: logsByPolicy ? ObjectOwnership.BUCKET_OWNER_ENFORCED : ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    return new Bucket(this, 'DropBucket', {
      ...secure,
      versioned: true,
      eventBridgeEnabled: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'drop-bucket/',
      lifecycleRules: [
        { abortIncompleteMultipartUploadAfter: Duration.days(1) },
        { noncurrentVersionExpiration: Duration.days(30) },
      ],
    });
  }
}
