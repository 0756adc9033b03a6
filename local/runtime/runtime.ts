/**
 * The local runtime: the stack `cdk deploy` would deploy, on one machine, with no AWS
 * account. Emulators stand in for the services (s3rver, dynalite, Step Functions, SQS and
 * Secrets Manager endpoints), the workflow is the synthesized definition run by
 * aws-local-stepfunctions, the queues feed their functions as event source mappings do,
 * and the Lambda functions run from their deployed bundles in execution environments of
 * their own (worker threads), each with its own variables. This file is the wiring.
 */
import { randomBytes } from 'node:crypto';
import { Template } from 'aws-cdk-lib/assertions';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createReadStream } from 'node:fs';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { IngestRecord } from '#shared/ingest/record';
import { scanRecords } from '#shared/ingest/store';
import { recordsChangedSince } from '#shared/ingest/status-index';
import { definitionFromTemplate } from '../definition-from-template.ts';
import type { LocalDynamoDB } from '../emulators/dynamodb.ts';
import { startDynamoDBProcess } from '../emulators/dynamodb-process.ts';
import { startS3, type LocalS3 } from '../emulators/s3.ts';
import { startSecretsManager, type LocalSecrets } from '../emulators/secrets.ts';
import { startSqs } from '../emulators/sqs.ts';
import {
  serviceError,
  startStepFunctions,
  type LocalExecution,
  type LocalStepFunctions,
} from '../emulators/step-functions.ts';
import { VideoGenSimulator } from '../simulator/simulator.ts';
import { LOCAL_REGION } from '../cfn.ts';
import { LocalIam, serviceJudges } from '../iam/local-iam.ts';
import { functionCode } from './bundles.ts';
import { LocalLambdas } from './lambdas.ts';
import type { SqsEventSourceMapping } from './event-source-mapping.ts';
import { queuesFromTemplate, startMappings } from './queues.ts';
import { seededRandom } from '../simulator/faults.ts';
import { localFunctionVariables } from './function-variables.ts';
import type { SubscriberFigures } from './progress.ts';
import { localStackOf, localTableNames, localTemplate } from './local-stack.ts';
import { outsideTheModel } from './cloud-assembly.ts';
import { LocalSubscribers, type Subscriber, type SubscriberDelivery } from './stream-mappings.ts';
import {
  LOCAL_CREDENTIALS,
  type DropOptions,
  type LocalOpsEndpoints,
  type LocalQueues,
  type LocalRuntimeOptions,
} from './options.ts';
import { reconcile, type ReconcileOptions, type ReconcileReport } from '../ops/reconcile.ts';
import { fromEndpoints } from '../ops/target.ts';
import { createTables, startTable } from './table.ts';
import {
  registeredEventsOf,
  startWebhookEndpoint,
  webhookFrontOf,
  type WebhookEndpoint,
} from './webhook-endpoint.ts';

export { LOCAL_CREDENTIALS } from './options.ts';
export type { DropOptions, LocalOpsEndpoints, LocalQueues, LocalRuntimeOptions } from './options.ts';

/** The AWS CLI's multipart threshold and part size (`multipart_chunksize`). */
const DROP_PART_BYTES = 8 * 1024 * 1024;

/** One `VideoGenIngest` of the stack, as this runtime runs it. */
export interface LocalIngest {
  /** Its construct path and id (empty for this repository's stack synthesized bare). */
  readonly path: string;
  readonly id: string;
  readonly bucket: string;
  readonly tableName: string;
  readonly stateMachineArn: string;
  readonly queues: LocalQueues;
  readonly webhookUrl: string;
  /** What the ops commands and `reconcile` need to reach it. */
  readonly ops: LocalOpsEndpoints;
}

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
  readonly #stop: (() => Promise<void>)[];
  readonly #webhooks: readonly WebhookEndpoint[];
  readonly #lastS3Event: () => string | undefined;

  private constructor(parts: {
    id: string;
    ingests: readonly LocalIngest[];
    bucket: string;
    tableName: string;
    apiUrl: string;
    webhookUrl: string;
    s3Endpoint: string;
    dynamoEndpoint: string;
    dynamoPid: number | undefined;
    simulator: VideoGenSimulator | undefined;
    webhooksRegistered: boolean;
    lambdas: LocalLambdas;
    queues: LocalQueues;
    mappings: ReadonlyMap<string, SqsEventSourceMapping>;
    subscribers: LocalSubscribers;
    stepFunctions: LocalStepFunctions;
    iam: LocalIam | undefined;
    webhookFailures: { readonly injected: number };
    ops: LocalOpsEndpoints;
    documents: DynamoDBDocumentClient;
    s3: S3Client;
    stop: (() => Promise<void>)[];
    webhooks: readonly WebhookEndpoint[];
    lastS3Event: () => string | undefined;
  }) {
    this.id = parts.id;
    this.ingests = parts.ingests;
    this.bucket = parts.bucket;
    this.tableName = parts.tableName;
    this.apiUrl = parts.apiUrl;
    this.webhookUrl = parts.webhookUrl;
    this.s3Endpoint = parts.s3Endpoint;
    this.dynamoEndpoint = parts.dynamoEndpoint;
    this.dynamoPid = parts.dynamoPid;
    this.simulator = parts.simulator;
    this.webhooksRegistered = parts.webhooksRegistered;
    this.lambdas = parts.lambdas;
    this.queues = parts.queues;
    this.mappings = parts.mappings;
    this.#subscribers = parts.subscribers;
    this.stepFunctions = parts.stepFunctions;
    this.iam = parts.iam;
    this.webhookFailures = parts.webhookFailures;
    this.ops = parts.ops;
    this.#documents = parts.documents;
    this.#s3 = parts.s3;
    this.#stop = parts.stop;
    this.#webhooks = parts.webhooks;
    this.#lastS3Event = parts.lastS3Event;
  }

  static async start(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
    const log = options.log ?? (() => undefined);
    const id = options.state?.runtimeId ?? randomBytes(4).toString('hex');
    const stop: (() => Promise<void>)[] = [];
    const cleanUp = async (): Promise<void> => {
      for (const step of stop.reverse()) await step().catch(() => undefined);
    };
    try {
      // The DynamoDB emulator's process boots on the other core while the rest starts here.
      const dynamoStarting = startDynamoDBProcess(options.state?.dynamoDirectory);
      dynamoStarting.catch(() => undefined); // awaited below; a failed boot throws there
      stop.push(() => dynamoStarting.then((dynamo) => dynamo.close()));
      const simulator = options.videoGenApiUrl
        ? undefined
        : await VideoGenSimulator.start({
            ...options.simulator,
            // With a state folder, VideoGen's files outlive a restart as the real API's do.
            ...(options.state ? { stateFile: options.state.simulatorState } : {}),
          });
      if (simulator) stop.push(() => simulator.close());
      const apiUrl = options.videoGenApiUrl ?? simulator?.url ?? '';

      // The very stack `cdk deploy` deploys (this repository's, or the app's with `--app`).
      const json = await localTemplate(options);
      const dynamo: LocalDynamoDB = await dynamoStarting;
      // Created first: the tables' stream ARNs (labelled by their creation) are in the template's policies.
      const tableStreamArns = await createTables(
        dynamo,
        Template.fromJSON(json),
        localTableNames(json, id),
        options.state !== undefined,
      );
      const stack = localStackOf(json, id, options, tableStreamArns);
      const { template, arns, functions, bucket, tableName } = stack;
      if (options.app) for (const line of outsideTheModel(json, stack.notRun)) log(line);
      if (stack.ingests.length > 1) {
        log(
          `${stack.ingests.length} VideoGenIngests in the stack (${stack.ingests.map((ingest) => ingest.id).join(', ')}): ` +
            `each runs with its own bucket, table, workflow and webhook; the drop folder, run and the ops commands use ${stack.ingests[0]?.id ?? ''}'s`,
        );
      }
      const iam = options.iam === false ? undefined : new LocalIam(template, arns);
      let stateMachineOfToken: (token: string) => string | undefined = () => undefined;
      const judges = iam && serviceJudges(iam, (token) => stateMachineOfToken(token));
      const lambdas = new LocalLambdas(functions, options.accountConcurrency);
      const queues = queuesFromTemplate(template, arns, {
        ...(options.retryPauseMs === undefined ? {} : { maxVisibilityChangeMs: options.retryPauseMs }),
        ...(options.duplicateDeliveryRate
          ? { duplicateRate: options.duplicateDeliveryRate, random: seededRandom((options.seed ?? 1) + 1) }
          : {}),
      });
      stop.push(() => Promise.resolve(queues.close()));

      const table = await startTable(dynamo, judges?.dynamodb);
      stop.push(() => table.close());

      const secrets: LocalSecrets = await startSecretsManager(judges?.secretsManager);
      stop.push(() => secrets.close());

      let onExecutionEnd: (execution: LocalExecution) => void = () => undefined;
      // Each ingest's workflow, with its own role.
      const machineRoles = new Map(
        stack.ingests.map((ingest) => [
          ingest.stateMachineArn,
          iam?.policies.roleOf(ingest.stateMachineLogicalId),
        ]),
      );
      const stepFunctions = await startStepFunctions({
        machines: stack.ingests.map((ingest) => {
          const roleArn = machineRoles.get(ingest.stateMachineArn);
          return {
            definition: definitionFromTemplate(template, arns.resolve, ingest.stateMachineLogicalId),
            stateMachineArn: ingest.stateMachineArn,
            ...(roleArn ? { roleArn } : {}),
          };
        }),
        invoke: async (functionArn, payload, machineArn) => {
          const machineRole = machineRoles.get(machineArn);
          const invokeFunction = { action: 'lambda:InvokeFunction', resource: functionArn };
          await iam?.check({ principal: machineRole, ...invokeFunction }).catch((error: unknown) => {
            // How Step Functions reports a Lambda call its role may not make.
            throw serviceError('Lambda.AWSLambdaException', error);
          });
          return lambdas.invoke(functionArn, payload).catch((error: unknown) => {
            // Lambda's 429 reaches the workflow as `Lambda.TooManyRequestsException`.
            throw (error as Error).name === 'TooManyRequestsException'
              ? serviceError('Lambda.TooManyRequestsException', error)
              : error;
          });
        },
        sendMessage: async (queueUrl, body, machineArn) => {
          const queue = queues.byUrl(queueUrl);
          await iam
            ?.check({
              principal: machineRoles.get(machineArn),
              action: 'sqs:SendMessage',
              resource: queue.arn,
            })
            .catch((error: unknown) => {
              throw serviceError('SQS.AmazonSQSException', error);
            });
          queue.send(body);
        },
        ...(judges ? { judge: judges.stepFunctions } : {}),
        ...(options.retryPauseMs === undefined ? {} : { retryPauseMs: options.retryPauseMs }),
        onExecutionEnd: (execution) => onExecutionEnd(execution),
      });
      stop.push(() => stepFunctions.close());
      stateMachineOfToken = (token) => stepFunctions.stateMachineOfToken(token);

      // The event source mappings, as deployed (each checked as CreateEventSourceMapping checks it).
      const mappings = await startMappings(queues, functions, lambdas, iam);
      stop.push(() => Promise.resolve(mappings.forEach((mapping) => mapping.close())));
      // Each ingest's queues: what its starter and its transfer worker consume.
      const ingestQueues = stack.ingests.map((ingest): LocalQueues => {
        const own = functions.filter((fn) => fn.ingest === ingest.index);
        const ingestQueue = queues.consumedBy(own, 'starter');
        const transferQueue = queues.consumedBy(own, 'transfer');
        return {
          ingest: ingestQueue,
          deadLetters: queues.deadLettersOf(ingestQueue),
          transfer: transferQueue,
          transferDeadLetters: queues.deadLettersOf(transferQueue),
        };
      });
      const [localQueues] = ingestQueues;
      if (!localQueues) throw new Error('no VideoGenIngest in the stack');
      const queuesOfBucket = new Map(
        stack.ingests.map((ingest, index) => [ingest.bucket, ingestQueues[index]]),
      );
      const sqs = await startSqs(queues.all, {
        consumed: new Set(ingestQueues.flatMap((own) => [own.ingest, own.transfer])),
        ...(judges ? { judge: judges.sqs } : {}),
      });
      stop.push(() => sqs.close());
      let lastS3Event: string | undefined;
      const s3: LocalS3 = await startS3({
        bucket,
        otherBuckets: stack.ingests.slice(1).map((ingest) => ingest.bucket),
        ...(options.s3Port === undefined ? {} : { port: options.s3Port }),
        ...(options.state ? { directory: options.state.s3Directory } : {}),
        ...(judges ? { judge: judges.s3 } : {}),
        onObjectCreated: (event) => {
          const body = JSON.stringify(event);
          const own = queuesOfBucket.get(event.detail.bucket.name);
          if (own === localQueues) lastS3Event = body;
          own?.ingest.send(body);
        },
      });
      stop.push(() => s3.close());

      const local = {
        apiUrl,
        logLevel: options.handlerLogLevel ?? 'WARN',
        publishMetrics: options.publishMetrics ?? false,
        endpoints: {
          S3: s3.endpoint,
          DYNAMODB: table.functionEndpoint,
          SFN: stepFunctions.endpoint,
          SECRETS_MANAGER: secrets.endpoint,
          SQS: sqs.endpoint,
        },
      };
      const onFunctionOutput = options.onFunctionOutput;
      lambdas.load(
        await functionCode(options, log),
        (fn) => localFunctionVariables(fn, local, iam?.credentialsFor(fn.logicalId) ?? LOCAL_CREDENTIALS),
        onFunctionOutput ? { onOutput: (fn, line, stream) => onFunctionOutput(fn.label, line, stream) } : {},
      );
      stop.push(() => lambdas.close());
      const subscribers = await LocalSubscribers.start({
        template,
        functions,
        lambdas,
        iam,
        queues,
        streamArnOf: (logicalId) => tableStreamArns.get(logicalId),
        endpoint: table.functionEndpoint,
        ...(options.state
          ? { checkpointsFile: options.state.streamCheckpoints, deliveriesLog: options.state.deliveriesLog }
          : {}),
        log,
      });
      stop.push(() => Promise.resolve(subscribers.close()));
      // Each ingest's API key secret, and its webhook endpoint registered with VideoGen.
      const ingestWebhooks: WebhookEndpoint[] = [];
      for (const ingest of stack.ingests) {
        const apiKeySecretId =
          lambdas.byHandler('transfer', ingest.index).environment.VIDEOGEN_API_KEY_SECRET ?? '';
        secrets.set(apiKeySecretId, JSON.stringify({ apiKey: options.videoGenApiKey ?? 'local-dev-key' }));
        const endpoint = await startWebhookEndpoint({
          lambdas,
          ingest: ingest.index,
          iam,
          secrets,
          apiUrl,
          runtimeId: `${id}${ingest.suffix}`,
          events: registeredEventsOf(template, ingest),
          front: webhookFrontOf(
            template.toJSON().Resources as Parameters<typeof webhookFrontOf>[0],
            lambdas.byHandler('webhook', ingest.index).logicalId,
            arns.nameOf,
          ),
          ...(options.registerWebhooks === undefined ? {} : { register: options.registerWebhooks }),
          failureRate: options.webhookFailureRate ?? 0,
          seed: (options.seed ?? 1) + ingest.index,
          pollAfterSeconds: options.pollAfterSeconds ?? 5,
          log,
        });
        stop.push(() => endpoint.close());
        ingestWebhooks.push(endpoint);
      }
      const [webhooks] = ingestWebhooks;
      if (!webhooks) throw new Error('no VideoGenIngest in the stack');

      const ingests = stack.ingests.map((ingest, index): LocalIngest => {
        const own = ingestQueues[index] ?? localQueues;
        return {
          path: ingest.path,
          id: ingest.id,
          bucket: ingest.bucket,
          tableName: ingest.tableName,
          stateMachineArn: ingest.stateMachineArn,
          queues: own,
          webhookUrl: ingestWebhooks[index]?.url ?? '',
          ops: {
            region: LOCAL_REGION,
            bucket: ingest.bucket,
            tableName: ingest.tableName,
            stateMachineArn: ingest.stateMachineArn,
            ingestQueueUrl: sqs.urlOf(own.ingest),
            deadLetterQueueUrl: sqs.urlOf(own.deadLetters),
            endpoints: {
              dynamodb: dynamo.endpoint,
              sfn: stepFunctions.endpoint,
              sqs: sqs.endpoint,
              s3: s3.endpoint,
            },
          },
        };
      });
      const [primary] = ingests;
      if (!primary) throw new Error('no VideoGenIngest in the stack');
      const runtime = new LocalRuntime({
        id,
        ingests,
        bucket,
        tableName,
        apiUrl,
        webhookUrl: webhooks.url,
        s3Endpoint: s3.endpoint,
        dynamoEndpoint: dynamo.endpoint,
        dynamoPid: dynamo.pid,
        simulator,
        webhooksRegistered: webhooks.registered,
        lambdas,
        queues: localQueues,
        mappings,
        subscribers,
        stepFunctions,
        iam,
        webhookFailures: webhooks.failures,
        ops: primary.ops,
        documents: table.documents,
        s3: new S3Client({
          endpoint: s3.endpoint,
          forcePathStyle: true,
          region: LOCAL_REGION,
          credentials: LOCAL_CREDENTIALS,
        }),
        stop,
        webhooks: ingestWebhooks,
        lastS3Event: () => lastS3Event,
      });
      // The records say how each file ended; an execution that itself failed is a broken workflow, worth a line.
      onExecutionEnd = (execution) => {
        if (execution.status === 'FAILED' || execution.status === 'TIMED_OUT') {
          log(`execution ${execution.name} ${execution.status}`);
        }
      };
      return runtime;
    } catch (error) {
      await cleanUp();
      throw error;
    }
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

  async stop(): Promise<void> {
    // The registration goes first, as a stack deletion's custom resource does.
    for (const endpoint of this.#webhooks) await endpoint.close().catch(() => undefined);
    // VideoGen first, then what runs: no handler may outlive the emulators it calls.
    await this.simulator?.close();
    for (const mapping of this.mappings.values()) mapping.close();
    this.#subscribers.close();
    await this.stepFunctions.close();
    await this.lambdas.drain();
    await this.lambdas.close();
    for (const step of this.#stop.reverse()) await step().catch(() => undefined);
    this.#s3.destroy();
  }
}
