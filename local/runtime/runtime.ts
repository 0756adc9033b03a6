/**
 * The local runtime: the stack `cdk deploy` would deploy, on one machine, with no AWS
 * account. Emulators stand in for the services (s3rver, dynalite, Step Functions, SQS and
 * Secrets Manager endpoints), the workflow is the synthesized definition run by
 * aws-local-stepfunctions, the queues feed their functions as event source mappings do,
 * and the Lambda functions run from their deployed bundles in execution environments of
 * their own (worker threads), each with its own variables. `services.ts` starts them; this
 * is what a user of the runtime holds: its endpoints and figures, dropping files, reading
 * records, waiting for quiet, and stopping.
 */
import { createReadStream } from 'node:fs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { IngestRecord } from '../../lambdas/shared/ingest/record.ts';
import { scanRecords } from '../../lambdas/shared/ingest/store.ts';
import { recordsChangedSince } from '../../lambdas/shared/ingest/status-index.ts';
import type { LocalStepFunctions } from '../services/step-functions/step-functions.ts';
import type { VideoGenSimulator } from '../simulator/simulator.ts';
import type { LocalIam } from '../iam/local-iam.ts';
import type { LocalLambdas } from '../services/lambda/lambdas.ts';
import type { SqsEventSourceMapping } from '../services/sqs/event-source-mapping.ts';
import type { SubscriberFigures } from '../services/dynamodb/stream-mappings.ts';
import type {
  LocalSubscribers,
  Subscriber,
  SubscriberDelivery,
} from '../services/dynamodb/stream-mappings.ts';
import type { DropOptions, LocalOpsEndpoints, LocalQueues, LocalRuntimeOptions } from './options.ts';
import { reconcile, type ReconcileOptions, type ReconcileReport } from '../../ops/reconcile.ts';
import { fromEndpoints } from '../../ops/target.ts';
import { startServices, type LocalIngest, type LocalServices } from './services.ts';
import type { ShutdownList } from './shutdown.ts';
import type { WebhookEndpoint } from '../services/api-gateway/webhook-endpoint.ts';

export { LOCAL_CREDENTIALS } from './options.ts';
export type { DropOptions, LocalOpsEndpoints, LocalQueues, LocalRuntimeOptions } from './options.ts';
export type { LocalIngest } from './services.ts';

/** The AWS CLI's multipart threshold and part size (`multipart_chunksize`). */
const DROP_PART_BYTES = 8 * 1024 * 1024;

export class LocalRuntime {
  readonly id: string;
  /**
   * Every `VideoGenIngest` of the stack, the primary one first: its bucket, table, queues and
   * webhook URL are also the fields below (`bucket`, `tableName`, `queues`, `webhookUrl`).
   */
  readonly ingests: readonly LocalIngest[];
  readonly bucket: string;
  readonly tableName: string;
  readonly apiUrl: string;
  readonly webhookUrl: string;
  readonly s3Endpoint: string;
  /** The DynamoDB emulator's endpoint. */
  readonly dynamoEndpoint: string;
  /** The DynamoDB emulator's process (benchmarks add its memory to the runtime's). */
  readonly dynamoPid: number | undefined;
  /** The simulator, when it is the API. */
  readonly simulator: VideoGenSimulator | undefined;
  /** Whether VideoGen can reach the webhook URL (it was registered); otherwise the poll path carries the workflow. */
  readonly webhooksRegistered: boolean;
  readonly lambdas: LocalLambdas;
  /** The deployed queues: S3 events, their dead letters, transfers waiting their turn, and theirs. */
  readonly queues: LocalQueues;
  /** The event source mappings, by the handler they feed (their invocations and peak concurrency). */
  readonly mappings: ReadonlyMap<string, SqsEventSourceMapping>;
  /** The stream subscribers (`addSubscriber`), each with its mapping's figures and on-failure queue. */
  get subscribers(): readonly Subscriber[] {
    return this.#subscribers.all;
  }
  /** What each subscriber's mapping did with each record, oldest first. */
  get deliveries(): readonly SubscriberDelivery[] {
    return this.#subscribers.deliveries;
  }
  readonly stepFunctions: LocalStepFunctions;
  /** The runtime's IAM: the template's policies, and the calls it refused (`denials`). */
  readonly iam: LocalIam | undefined;
  /** Webhook answers replaced by a 500 (`webhookFailureRate`). */
  readonly webhookFailures: { readonly injected: number };
  /** Webhook requests the HTTP API stage's throttle answered 429 so far (none reached the function). */
  get webhooksThrottled(): number {
    return this.#webhooks.reduce((sum, endpoint) => sum + endpoint.throttled(), 0);
  }
  /** What the ops CLI needs to reach this runtime. */
  readonly ops: LocalOpsEndpoints;
  readonly #subscribers: LocalSubscribers;
  readonly #documents: DynamoDBDocumentClient;
  readonly #s3: S3Client;
  readonly #shutdown: ShutdownList;
  readonly #webhooks: readonly WebhookEndpoint[];
  readonly #lastS3Event: () => string | undefined;

  private constructor(parts: LocalServices) {
    this.id = parts.id;
    this.ingests = parts.ingests;
    this.bucket = parts.primary.bucket;
    this.tableName = parts.primary.tableName;
    this.apiUrl = parts.apiUrl;
    this.webhookUrl = parts.primary.webhookUrl;
    this.s3Endpoint = parts.s3Endpoint;
    this.dynamoEndpoint = parts.dynamoEndpoint;
    this.dynamoPid = parts.dynamoPid;
    this.simulator = parts.simulator;
    this.webhooksRegistered = parts.webhooksRegistered;
    this.lambdas = parts.lambdas;
    this.queues = parts.primary.queues;
    this.mappings = parts.mappings;
    this.#subscribers = parts.subscribers;
    this.stepFunctions = parts.stepFunctions;
    this.iam = parts.iam;
    this.webhookFailures = parts.webhookFailures;
    this.ops = parts.primary.ops;
    this.#documents = parts.documents;
    this.#s3 = parts.s3;
    this.#shutdown = parts.shutdown;
    this.#webhooks = parts.webhooks;
    this.#lastS3Event = () => parts.lastS3Event();
  }

  static async start(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
    return new LocalRuntime(await startServices(options));
  }

  /** Puts an object into the drop bucket, as `aws s3 cp` would. */
  async drop(key: string, body: Buffer | Uint8Array | string, options: DropOptions = {}): Promise<void> {
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: options.bucket ?? this.bucket,
        Key: key,
        Body: body,
        ...(options.metadata ? { Metadata: options.metadata } : {}),
        ...(options.contentType ? { ContentType: options.contentType } : {}),
      }),
    );
  }

  /**
   * Streams a file into the drop bucket as `aws s3 cp` does: one PUT up to 8 MiB, a
   * multipart upload of 8 MiB parts above (lib-storage), so memory stays at a few parts
   * whatever the size.
   */
  async dropFile(key: string, file: string, options: DropOptions = {}): Promise<void> {
    await new Upload({
      client: this.#s3,
      partSize: DROP_PART_BYTES,
      queueSize: 4,
      params: {
        Bucket: options.bucket ?? this.bucket,
        Key: key,
        Body: createReadStream(file, { highWaterMark: 1024 * 1024 }),
        ...(options.metadata ? { Metadata: options.metadata } : {}),
        ...(options.contentType ? { ContentType: options.contentType } : {}),
      },
    }).done();
  }

  /**
   * Bucket against table (`ops/reconcile.ts`): objects with no record are ingested again;
   * with `resumeUnfinished`, records whose workflow never ended are continued. `start`
   * does this after a restart, where the executions of before are known to be gone.
   */
  async reconcile(
    options: ReconcileOptions = {},
    ingest: LocalIngest | undefined = this.ingests[0],
  ): Promise<ReconcileReport> {
    const target = fromEndpoints(ingest?.ops ?? this.ops, 'the local runtime');
    try {
      return await reconcile(target, options);
    } finally {
      target.close();
    }
  }

  /** The body of the last S3 event the ingest queue got (tests seed the dead-letter queue with it). */
  lastS3Event(): string | undefined {
    return this.#lastS3Event();
  }

  /** Delivers the last S3 event again, as EventBridge and SQS may (at least once). */
  redeliverLastS3Event(): void {
    const event = this.#lastS3Event();
    if (event) this.queues.ingest.send(event);
  }

  /** Each subscriber's deliveries so far, for the live view and `run`. */
  subscriberFigures(): SubscriberFigures[] {
    return this.#subscribers.figures();
  }

  /** Every ingest record of an ingest's table (the primary one's by default), oldest first. */
  async records(tableName = this.tableName): Promise<IngestRecord[]> {
    const records = await scanRecords({ client: this.#documents, tableName });
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key));
  }

  /** The records changed at or after `since` (ISO 8601), from the status index: what a live view polls. */
  recordsChangedSince(since: string): Promise<IngestRecord[]> {
    return recordsChangedSince({ client: this.#documents, tableName: this.tableName }, since);
  }

  /** Resolves once every S3 event is handled and no workflow is running. */
  async idle(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Dead-letter queues hold what no consumer takes: they do not keep the runtime busy.
    const working = this.ingests.flatMap(({ queues }) => [queues.ingest, queues.transfer]);
    const queued = () => working.reduce((sum, queue) => sum + queue.depth, 0);
    for (;;) {
      while (queued() > 0) {
        if (Date.now() > deadline) throw new Error(`queues not drained after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await this.stepFunctions.idle(Math.max(1, deadline - Date.now()));
      if (queued() > 0) continue;
      // Every record the run wrote reaches its subscribers (or their on-failure queues).
      await this.#subscribers.idle(deadline);
      if (queued() === 0) return;
    }
  }

  /** Stops everything, in the order `shutdown.ts` gives; a second call waits for the first. */
  async stop(): Promise<void> {
    await this.#shutdown.close();
  }
}
