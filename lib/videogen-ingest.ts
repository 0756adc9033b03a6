import { Aspects, Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Alarm, Dashboard } from 'aws-cdk-lib/aws-cloudwatch';
import { AttributeType, Billing, StreamViewType, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FilterCriteria, StartingPosition, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Queue, QueueEncryption, type IQueue } from 'aws-cdk-lib/aws-sqs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { dropKeyPattern } from '../lambdas/shared/drop-filter.ts';
import {
  INGEST_STATUSES,
  READY_STATUSES,
  STATUS_INDEX,
  STATUS_RANK,
} from '../lambdas/shared/ingest/record.ts';
import { bucketInterface, secretInterface, tableInterface } from './cdk-interfaces.ts';
import { createDropBucket } from './drop-bucket.ts';
import { IngestFunction } from './ingest-function.ts';
import { grantIngestPermissions } from './ingest-grants.ts';
import { IngestMonitoring } from './ingest-monitoring.ts';
import { IngestWorkflow } from './ingest-workflow.ts';
import {
  acknowledgeFailureDestination,
  acknowledgeListStreams,
  applyNagSuppressions,
} from './nag-suppressions.ts';
import { RetainExceptOnCreate } from './retain-except-on-create.ts';
import { WebhookEndpoint } from './webhook-endpoint.ts';
import { WebhookRegistration } from './webhook-registration.ts';
import {
  MAX_TRANSFER_ATTEMPTS,
  resolveProps,
  TRANSFER_MAX_RECEIVE_COUNT,
  wholeInRange,
  type SubscriberOptions,
  type VideoGenIngestProps,
} from './ingest-props.ts';

export { MAX_TRANSFER_ATTEMPTS, resolveProps, TRANSFER_MAX_RECEIVE_COUNT } from './ingest-props.ts';
export type { SubscriberOptions, VideoGenIngestProps } from './ingest-props.ts';

/**
 * Drop a file into S3; it becomes a VideoGen file, and its whole lifecycle lands in a
 * DynamoDB table whose stream downstream systems subscribe to.
 */
export class VideoGenIngest extends Construct {
  /** The drop bucket. */
  readonly bucket: IBucket;
  /** Ingest records (`kind = "ingest"`), file pointers and the shared VideoGen pause; stream NEW_AND_OLD_IMAGES. */
  readonly table: TableV2;
  /** The ingest workflow (Standard): Prepare, the queued transfer, the wait for VideoGen. One execution per S3 object version. */
  readonly stateMachine: StateMachine;
  /** The webhook URL (the HTTP API's), registered with VideoGen. */
  readonly webhookUrl: string;
  /** The throttled HTTP API in front of the webhook function. */
  readonly webhookEndpoint: WebhookEndpoint;
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
  /** The pipeline's functions, by step (the webhook registration's own function is not among them). */
  readonly functions: Readonly<
    Record<'starter' | 'prepare' | 'transfer' | 'awaitFile' | 'poll' | 'recordFailure' | 'webhook', IFunction>
  >;
  /** Failed and overdue executions, timed-out files, dead letters, webhook signature failures. */
  readonly alarms: readonly Alarm[];
  /** Alarms notify this topic. */
  readonly alarmTopic: ITopic;
  /** The ingest metrics, queue depths and the oldest dead letter, on one dashboard. */
  readonly dashboard: Dashboard;
  /** The `service` dimension of this construct's metrics (namespace `VideoGenIngest`). */
  readonly metricsService: string;

  /** Validates `props` first (a clear error names the bad one), then wires the pipeline. */
  constructor(scope: Construct, id: string, props: VideoGenIngestProps) {
    super(scope, id);
    const config = resolveProps(props);
    const { removalPolicy, logRetention } = config;

    this.bucket = props.bucket ?? bucketInterface(createDropBucket(this, removalPolicy));
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
          indexName: STATUS_INDEX,
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
    const transferVisibility = transferTimeout.plus(Duration.minutes(1));
    this.transferQueue = new Queue(this, 'TransferQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // At least the worker's timeout, so no message is taken twice at once; a crashed
      // attempt is taken again a minute after the time it could have run. Not AWS's "six
      // times the timeout": MaximumConcurrency keeps the mapping from throttling itself.
      visibilityTimeout: transferVisibility,
      retentionPeriod: config.maxQueueWait.plus(Duration.days(1)),
      // The worker fails a file itself after MAX_TRANSFER_ATTEMPTS attempts; this catches the rest.
      deadLetterQueue: { queue: this.transferDeadLetterQueue, maxReceiveCount: TRANSFER_MAX_RECEIVE_COUNT },
    });
    const transfer = new IngestFunction(this, 'Transfer', {
      ...common,
      handler: 'transfer',
      environment: {
        ...tableEnv,
        ...apiEnv,
        MAX_UPLOAD_URL_ATTEMPTS: String(config.maxUploadUrlAttempts),
        MAX_TRANSFER_ATTEMPTS: String(MAX_TRANSFER_ATTEMPTS),
        TRANSFER_QUEUE_URL: this.transferQueue.queueUrl,
        TRANSFER_VISIBILITY_SECONDS: String(transferVisibility.toSeconds()),
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

    const webhook = new IngestFunction(this, 'Webhook', {
      ...common,
      handler: 'webhook',
      // The secret is known once the registration below has the function's URL.
      environment: {
        ...tableEnv,
        WEBHOOK_SECRET: Lazy.string({ produce: () => this.webhookSecret.secretArn }),
      },
      timeout: Duration.seconds(10),
      ...(config.maxConcurrentWebhooks === undefined
        ? {}
        : { reservedConcurrentExecutions: config.maxConcurrentWebhooks }),
    });
    this.webhookEndpoint = new WebhookEndpoint(this, 'WebhookEndpoint', {
      handler: webhook,
      throttle: config.webhookThrottle,
      logRetention,
      removalPolicy,
    });
    this.webhookUrl = this.webhookEndpoint.url;

    let registration: WebhookRegistration | undefined;
    if (props.webhookSecret) {
      this.webhookSecret = props.webhookSecret;
    } else {
      registration = new WebhookRegistration(this, 'WebhookRegistration', {
        serviceName: this.metricsService,
        webhookUrl: this.webhookUrl,
        apiKeySecret: props.apiKeySecret,
        apiKeySecretKey: props.apiKeySecretEncryptionKey,
        videoGenApiUrl: config.videoGenApiUrl,
        logRetention,
        removalPolicy,
      });
      this.webhookSecret = secretInterface(registration.secret);
    }

    this.functions = { starter, prepare, transfer, awaitFile, poll, recordFailure, webhook };
    const { sourceObjectsArn } = grantIngestPermissions(this, {
      bucket: this.bucket,
      dropPrefix: config.filter.prefix,
      sourceKey: props.bucketEncryptionKey ?? this.bucket.encryptionKey,
      table: this.table,
      stateMachine: this.stateMachine,
      apiKeySecret: props.apiKeySecret,
      apiKeySecretKey: props.apiKeySecretEncryptionKey,
      webhookSecret: this.webhookSecret,
      functions: this.functions,
    });
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
    if (removalPolicy === RemovalPolicy.RETAIN) Aspects.of(this).add(new RetainExceptOnCreate());
    applyNagSuppressions(this, {
      functions: [...Object.values(this.functions), ...(registration ? [registration.registerFunction] : [])],
      sourceReaders: { roles: [prepare.role, transfer.role], objectsArn: sourceObjectsArn },
      webhookRoute: this.webhookEndpoint.route,
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
    // Entering a status: an insert in one of them, or a change (the writer marks it: a Lambda
    // filter cannot compare the old image with the new) whose new status is one of them.
    const newStatus = { NewImage: { kind: { S: ['ingest'] }, status: { S: statuses } } };
    const filters = [
      FilterCriteria.filter({ eventName: ['INSERT'], dynamodb: newStatus }),
      FilterCriteria.filter({
        eventName: ['MODIFY'],
        dynamodb: { NewImage: { ...newStatus.NewImage, statusChanged: { BOOL: [true] } } },
      }),
    ];
    // READY means the file became ready: a file whose analysis was known before the ingest
    // saw it ready goes from UPLOADED straight to ANALYZED (or ANALYSIS_FAILED), never READY.
    if (statuses.includes('READY')) {
      filters.push(
        FilterCriteria.filter({
          eventName: ['MODIFY'],
          dynamodb: {
            NewImage: { kind: { S: ['ingest'] }, status: { S: [...READY_STATUSES] } },
            OldImage: {
              status: { S: INGEST_STATUSES.filter((status) => STATUS_RANK[status] < STATUS_RANK.READY) },
            },
          },
        }),
      );
    }
    fn.addEventSource(
      new DynamoEventSource(tableInterface(this.table), {
        startingPosition: StartingPosition.LATEST,
        batchSize,
        bisectBatchOnError: true,
        retryAttempts,
        maxRecordAge,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(onFailureQueue),
        filters,
      }),
    );
    return onFailureQueue;
  }
}
