/**
 * The local runtime: the stack `cdk deploy` would deploy, on one machine, with no AWS
 * account. Emulators stand in for the services (s3rver, dynalite, a Step Functions and a
 * Secrets Manager endpoint), the workflow is the synthesized definition run by
 * aws-local-stepfunctions, and the Lambda functions run from their deployed bundles in
 * execution environments of their own (worker threads), each with its own variables.
 */
import { randomBytes } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { Readiness } from '#shared/config';
import type { IngestRecord } from '#shared/ingest/record';
import { scanRecords } from '#shared/ingest/store';
import { definitionFromTemplate } from '../definition-from-template.ts';
import type { LocalDynamoDB } from '../emulators/dynamodb.ts';
import { startDynamoDBProcess } from '../emulators/dynamodb-process.ts';
import { startS3, type LocalS3 } from '../emulators/s3.ts';
import { startSecretsManager, type LocalSecrets } from '../emulators/secrets.ts';
import { startSqs } from '../emulators/sqs.ts';
import {
  startStepFunctions,
  type LocalExecution,
  type LocalStepFunctions,
} from '../emulators/step-functions.ts';
import { seededRandom } from '../simulator/faults.ts';
import { VideoGenSimulator, type SimulatorOptions } from '../simulator/simulator.ts';
import { synthesizeStack } from '../synth.ts';
import { tableSpecFromTemplate } from '../table-from-template.ts';
import { LOCAL_REGION } from './cfn.ts';
import { templateArns } from '../iam/arns.ts';
import { startJsonGate } from '../iam/json-gate.ts';
import { LocalIam, serviceJudges, type Credentials } from '../iam/local-iam.ts';
import { startFunctionUrl, type LocalFunctionUrl } from './function-url.ts';
import { deployedBundles } from './bundles.ts';
import { functionsFromTemplate, LocalLambdas, localFunctionName, type LocalFunction } from './lambdas.ts';
import { HANDLER_METADATA_KEY, type HandlerName } from '../../lib/ingest-function.ts';
import type { SqsQueue } from '../emulators/sqs-queue.ts';
import type { SqsEventSourceMapping } from './event-source-mapping.ts';
import { queuesFromTemplate, startMapping } from './queues.ts';

/** s3rver accepts only these credentials; `aws s3 --endpoint-url` needs them too. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface LocalRuntimeOptions {
  /** A VideoGen-compatible API; the simulator when absent. */
  readonly videoGenApiUrl?: string;
  /** @default 'local-dev-key' */
  readonly videoGenApiKey?: string;
  /** Options of the simulator, when it is the API. */
  readonly simulator?: SimulatorOptions;
  /** @default 'download' */
  readonly readiness?: Readiness;
  /** Wait for a webhook this long before polling, and between polls. @default 5 */
  readonly pollAfterSeconds?: number;
  /** @default 600 */
  readonly maxWaitSeconds?: number;
  /** Transfers at once: the transfer queue mapping's maximum concurrency. @default 10, as deployed */
  readonly maxConcurrentTransfers?: number;
  /** The longest a file may wait in the transfer queue. @default 24 h, as deployed */
  readonly maxQueueWaitSeconds?: number;
  /**
   * The account's Lambda concurrency quota: invocations beyond it (or beyond a function's
   * reservation) are throttled as Lambda throttles them. @default 1000, AWS's default quota
   */
  readonly accountConcurrency?: number;
  readonly maxFileSizeBytes?: number;
  readonly keyPrefix?: string;
  readonly keySuffixes?: readonly string[];
  /**
   * Pause before every workflow retry, instead of the deployed backoff; also the longest a
   * transfer message is put back for a retry (its worker's ChangeMessageVisibility).
   */
  readonly retryPauseMs?: number;
  /** The S3 endpoint's port (for `aws s3 --endpoint-url`). @default any free port */
  readonly s3Port?: number;
  /**
   * Register the local webhook URL with the API (and delete it on stop), as the deployed
   * custom resource does. @default whether the API is on this machine (only then can it call back)
   */
  readonly registerWebhooks?: boolean;
  /** The drop bucket's name. @default videogen-drop-<runtime id> */
  readonly bucketName?: string;
  /** Where S3 keeps objects. @default a temporary folder */
  readonly s3Directory?: string;
  /**
   * Chaos: this share of webhook requests is handled, then answered 500 anyway, as when a
   * handler dies after its write and before its answer; VideoGen delivers them again.
   * @default 0
   */
  readonly webhookFailureRate?: number;
  /** Seeds `webhookFailureRate`'s dice. @default 1 */
  readonly seed?: number;
  /**
   * Authorize every call as AWS IAM would, from the template's policies. Off only to
   * measure what it costs. @default true
   */
  readonly iam?: boolean;
  /** Changes the synthesized template before the runtime reads it (tests: a grant removed). */
  readonly editTemplate?: (template: {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  }) => void;
  /** Powertools log level of the handlers. @default 'WARN' */
  readonly handlerLogLevel?: string;
  /**
   * Each line a function writes (its CloudWatch log group on AWS), with the handler that
   * wrote it. @default this process's stdout and stderr
   */
  readonly onFunctionOutput?: (handler: HandlerName, line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Let the handlers publish their metrics: Powertools writes them to the function's
   * output as CloudWatch embedded-metric-format lines, as on Lambda. @default false
   */
  readonly publishMetrics?: boolean;
  /** Told what the runtime does, a line at a time. */
  readonly log?: (line: string) => void;
}

/** Where the ops CLI finds a local runtime's table, workflow and queues (`.videogen-ingest/local.json`). */
export interface LocalOpsEndpoints {
  readonly region: string;
  readonly bucket: string;
  readonly tableName: string;
  readonly stateMachineArn: string;
  readonly ingestQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly endpoints: { readonly dynamodb: string; readonly sfn: string; readonly sqs: string };
}

/** The runtime's queues, by their part in the pipeline. */
export interface LocalQueues {
  readonly ingest: SqsQueue;
  readonly deadLetters: SqsQueue;
  readonly transfer: SqsQueue;
  readonly transferDeadLetters: SqsQueue;
}

/** An error as Step Functions names a failed service call (`Lambda.…`, `SQS.…`), with the call's message. */
function serviceError(name: string, cause: unknown): Error {
  return Object.assign(new Error(cause instanceof Error ? cause.message : String(cause)), { name });
}

export interface DropOptions {
  readonly metadata?: Record<string, string>;
  readonly contentType?: string;
}

/**
 * A function's environment as deployed, with the local API URL and the emulators'
 * endpoints (the SDK's standard `AWS_ENDPOINT_URL_<SERVICE>` variables): its own
 * variables only, as on Lambda.
 */
function localFunctionVariables(
  fn: LocalFunction,
  local: { apiUrl: string; logLevel: string; publishMetrics: boolean; endpoints: Record<string, string> },
  credentials: Credentials,
): Record<string, string> {
  // The deployed service name (`<stack>/<construct>`) names nothing here; logs say videogen-ingest.
  const { POWERTOOLS_SERVICE_NAME: _deployedName, ...deployed } = fn.environment;
  // A queue URL names its endpoint (the SDK sends to the URL's host): the local queue's URL instead.
  const deployedQueueUrl = `https://sqs.${LOCAL_REGION}.amazonaws.com/`;
  const variables = Object.fromEntries(
    Object.entries(deployed).map(([name, value]) => [
      name,
      value.startsWith(deployedQueueUrl)
        ? `${local.endpoints.SQS}/${value.slice(deployedQueueUrl.length)}`
        : value,
    ]),
  );
  return {
    ...variables,
    ...(variables.VIDEOGEN_API_URL === undefined ? {} : { VIDEOGEN_API_URL: local.apiUrl }),
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...Object.fromEntries(
      Object.entries(local.endpoints).map(([service, endpoint]) => [`AWS_ENDPOINT_URL_${service}`, endpoint]),
    ),
    POWERTOOLS_LOG_LEVEL: local.logLevel,
    POWERTOOLS_METRICS_DISABLED: local.publishMetrics ? 'false' : 'true',
    POWERTOOLS_DEV: 'false',
  };
}

/**
 * As the deployed custom resource does: registers the webhook URL with the API by invoking
 * the very registration handler with a CloudFormation Create event; answers how to undo it.
 */
async function registerWebhookUrl(
  lambdas: LocalLambdas,
  webhookUrl: string,
  secretId: string,
  runtimeId: string,
): Promise<{ endpointId: string; unregister: () => Promise<void> }> {
  const register = lambdas.byHandler('register-webhook');
  const event = {
    ServiceToken: register.functionArn,
    ResponseURL: 'http://localhost/',
    StackId: `local-${runtimeId}`,
    RequestId: runtimeId,
    LogicalResourceId: 'Endpoint',
    ResourceType: 'Custom::VideoGenWebhookEndpoint',
    ResourceProperties: { ServiceToken: register.functionArn, WebhookUrl: webhookUrl, SecretId: secretId },
  };
  const created = (await lambdas.invoke(register.functionArn, { ...event, RequestType: 'Create' })) as {
    PhysicalResourceId: string;
  };
  return {
    endpointId: created.PhysicalResourceId,
    unregister: async () => {
      await lambdas.invoke(register.functionArn, {
        ...event,
        RequestType: 'Delete',
        PhysicalResourceId: created.PhysicalResourceId,
      });
    },
  };
}

/** A public Function URL needs both permissions of the function's resource policy (since 2025). */
async function authorizeFunctionUrl(iam: LocalIam, functionArn: string): Promise<void> {
  const context = { 'lambda:FunctionUrlAuthType': 'NONE', 'lambda:InvokedViaFunctionUrl': 'true' };
  for (const action of ['lambda:InvokeFunctionUrl', 'lambda:InvokeFunction']) {
    await iam.check({ principal: 'anonymous', action, resource: functionArn, context });
  }
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

export class LocalRuntime {
  readonly id: string;
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
  readonly mappings: ReadonlyMap<HandlerName, SqsEventSourceMapping>;
  readonly stepFunctions: LocalStepFunctions;
  /** The runtime's IAM: the template's policies, and the calls it refused (`denials`). */
  readonly iam: LocalIam | undefined;
  /** Webhook answers replaced by a 500 (`webhookFailureRate`). */
  readonly webhookFailures: { readonly injected: number };
  /** What the ops CLI needs to reach this runtime. */
  readonly ops: LocalOpsEndpoints;
  readonly #documents: DynamoDBDocumentClient;
  readonly #s3: S3Client;
  readonly #stop: (() => Promise<void>)[];
  readonly #registration: (() => Promise<void>) | undefined;
  readonly #lastS3Event: () => string | undefined;

  private constructor(parts: {
    id: string;
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
    mappings: ReadonlyMap<HandlerName, SqsEventSourceMapping>;
    stepFunctions: LocalStepFunctions;
    iam: LocalIam | undefined;
    webhookFailures: { readonly injected: number };
    ops: LocalOpsEndpoints;
    documents: DynamoDBDocumentClient;
    s3: S3Client;
    stop: (() => Promise<void>)[];
    registration: (() => Promise<void>) | undefined;
    lastS3Event: () => string | undefined;
  }) {
    this.id = parts.id;
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
    this.stepFunctions = parts.stepFunctions;
    this.iam = parts.iam;
    this.webhookFailures = parts.webhookFailures;
    this.ops = parts.ops;
    this.#documents = parts.documents;
    this.#s3 = parts.s3;
    this.#stop = parts.stop;
    this.#registration = parts.registration;
    this.#lastS3Event = parts.lastS3Event;
  }

  static async start(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
    const log = options.log ?? (() => undefined);
    const id = randomBytes(4).toString('hex');
    const stop: (() => Promise<void>)[] = [];
    const cleanUp = async (): Promise<void> => {
      for (const step of stop.reverse()) await step().catch(() => undefined);
    };
    try {
      const simulator = options.videoGenApiUrl
        ? undefined
        : await VideoGenSimulator.start({ port: 0, ...options.simulator });
      if (simulator) stop.push(() => simulator.close());
      const apiUrl = options.videoGenApiUrl ?? simulator?.url ?? '';

      // The very stack `cdk deploy` deploys, synthesized with this run's settings.
      const synthesized = synthesizeStack({
        apiKeySecretName: `local/${id}/videogen-api-key`,
        ingest: {
          videoGenApiUrl: 'https://api.videogen.io', // the construct wants https; the local value is swapped in below
          readiness: options.readiness ?? 'download',
          pollAfter: Duration.seconds(options.pollAfterSeconds ?? 5),
          maxWait: Duration.seconds(options.maxWaitSeconds ?? 600),
          ...(options.maxConcurrentTransfers === undefined
            ? {}
            : { maxConcurrentTransfers: options.maxConcurrentTransfers }),
          ...(options.maxQueueWaitSeconds === undefined
            ? {}
            : { maxQueueWait: Duration.seconds(options.maxQueueWaitSeconds) }),
          removalPolicy: RemovalPolicy.DESTROY,
          ...(options.maxFileSizeBytes === undefined
            ? {}
            : { maxFileSize: Size.bytes(options.maxFileSizeBytes) }),
          ...(options.keyPrefix ? { keyPrefix: options.keyPrefix } : {}),
          ...(options.keySuffixes ? { keySuffixes: options.keySuffixes } : {}),
        },
      });
      let template = synthesized.template;
      if (options.editTemplate) {
        const json = template.toJSON() as Parameters<NonNullable<LocalRuntimeOptions['editTemplate']>>[0];
        options.editTemplate(json);
        template = Template.fromJSON(json);
      }
      const bucket = options.bucketName ?? `videogen-drop-${id}`;
      const tableName = `videogen-ingest-${id}`;
      const { Resources: resources } = template.toJSON() as {
        Resources: Record<string, { Metadata?: Record<string, unknown> }>;
      };
      const handlerOf = (logicalId: string) =>
        resources[logicalId]?.Metadata?.[HANDLER_METADATA_KEY] as HandlerName | undefined;
      // The deployed names, as this runtime gives them: the template's ARNs resolve to them.
      const arns = templateArns(template, (logicalId, type) => {
        if (type === 'AWS::DynamoDB::GlobalTable') return tableName;
        if (type === 'AWS::StepFunctions::StateMachine') return `videogen-ingest-${id}`;
        if (type === 'AWS::S3::Bucket' && logicalId.includes('DropBucket')) return bucket;
        if (type === 'AWS::SecretsManager::Secret') return `local/${id}/${logicalId}`;
        // Queues: found by what consumes them (see below), so any name of this runtime's will do.
        if (type === 'AWS::SQS::Queue') return `videogen-${id}-${logicalId}`.slice(0, 80);
        const handler = type === 'AWS::Lambda::Function' ? handlerOf(logicalId) : undefined;
        return handler ? localFunctionName(handler, id) : undefined;
      });
      const [machineId] = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));
      const stateMachineArn = arns.arnOf(machineId ?? '');
      const functions = functionsFromTemplate(template, arns.resolve, id);
      const iam = options.iam === false ? undefined : new LocalIam(template, arns);
      const judges = iam && serviceJudges(iam, stateMachineArn);
      const lambdas = new LocalLambdas(functions, options.accountConcurrency);
      const { queues, mappings: mappingSpecs } = queuesFromTemplate(template, arns, {
        ...(options.retryPauseMs === undefined ? {} : { maxVisibilityChangeMs: options.retryPauseMs }),
      });
      const queueByUrl = (url: string): SqsQueue => {
        const name = url.split('/').pop();
        const queue = [...queues.values()].find((candidate) => candidate.name === name);
        if (!queue) throw new Error(`no queue ${url} in the template`);
        return queue;
      };

      const dynamo: LocalDynamoDB = await startDynamoDBProcess();
      stop.push(() => dynamo.close());
      const rawDynamo = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      stop.push(() => Promise.resolve(rawDynamo.destroy()));
      await rawDynamo.send(new CreateTableCommand(tableSpecFromTemplate(template, tableName).create));
      const documents = DynamoDBDocumentClient.from(rawDynamo);
      // The functions reach DynamoDB through an IAM gate; the emulator runs in its own process.
      const dynamoGate = judges && (await startJsonGate(dynamo.endpoint, judges.dynamodb));
      if (dynamoGate) stop.push(() => dynamoGate.close());

      const secrets: LocalSecrets = await startSecretsManager(judges?.secretsManager);
      stop.push(() => secrets.close());

      let onExecutionEnd: (execution: LocalExecution) => void = () => undefined;
      const machineRole = iam?.policies.roleOf(machineId ?? '');
      const stepFunctions = await startStepFunctions({
        definition: definitionFromTemplate(template, arns.resolve),
        stateMachineArn,
        invoke: async (functionArn, payload) => {
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
        sendMessage: async (queueUrl, body) => {
          const queue = queueByUrl(queueUrl);
          await iam
            ?.check({ principal: machineRole, action: 'sqs:SendMessage', resource: queue.arn })
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

      // The event source mappings, as deployed: CreateEventSourceMapping checks that the
      // function's role may read its queue, and so does the runtime before it starts one.
      const mappings = new Map<HandlerName, SqsEventSourceMapping>();
      for (const spec of mappingSpecs) {
        const queue = queues.get(spec.queueLogicalId) as SqsQueue;
        const consumer = functions.find((fn) => fn.logicalId === spec.functionLogicalId);
        if (!consumer) continue;
        for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
          await iam?.check({
            principal: iam.policies.roleOf(consumer.logicalId),
            action,
            resource: queue.arn,
          });
        }
        const mapping = startMapping(spec, queue, (event) => lambdas.invoke(consumer.functionArn, event));
        mappings.set(consumer.handlerName, mapping);
        stop.push(() => Promise.resolve(mapping.close()));
      }
      const consumedBy = (handler: HandlerName): SqsQueue => {
        const spec = mappingSpecs.find(
          (candidate) =>
            functions.find((fn) => fn.logicalId === candidate.functionLogicalId)?.handlerName === handler,
        );
        const queue = spec && queues.get(spec.queueLogicalId);
        if (!queue) throw new Error(`no queue feeds the ${handler} function in the template`);
        return queue;
      };
      const ingestQueue = consumedBy('starter');
      const transferQueue = consumedBy('transfer');
      const localQueues: LocalQueues = {
        ingest: ingestQueue,
        deadLetters: ingestQueue.deadLetterQueue ?? ingestQueue,
        transfer: transferQueue,
        transferDeadLetters: transferQueue.deadLetterQueue ?? transferQueue,
      };
      stop.push(() => Promise.resolve([...queues.values()].forEach((queue) => queue.close())));
      const sqs = await startSqs([...queues.values()], {
        consumed: new Set([ingestQueue, transferQueue]),
        ...(judges ? { judge: judges.sqs } : {}),
      });
      stop.push(() => sqs.close());
      let lastS3Event: string | undefined;
      const s3: LocalS3 = await startS3({
        bucket,
        ...(options.s3Port === undefined ? {} : { port: options.s3Port }),
        ...(options.s3Directory === undefined ? {} : { directory: options.s3Directory }),
        ...(judges ? { judge: judges.s3 } : {}),
        onObjectCreated: (event) => {
          lastS3Event = JSON.stringify(event);
          ingestQueue.send(lastS3Event);
        },
      });
      stop.push(() => s3.close());

      const local = {
        apiUrl,
        logLevel: options.handlerLogLevel ?? 'WARN',
        publishMetrics: options.publishMetrics ?? false,
        endpoints: {
          S3: s3.endpoint,
          DYNAMODB: dynamoGate?.endpoint ?? dynamo.endpoint,
          SFN: stepFunctions.endpoint,
          SECRETS_MANAGER: secrets.endpoint,
          SQS: sqs.endpoint,
        },
      };
      const onFunctionOutput = options.onFunctionOutput;
      lambdas.load(
        await deployedBundles(log),
        (fn) => localFunctionVariables(fn, local, iam?.credentialsFor(fn.logicalId) ?? LOCAL_CREDENTIALS),
        onFunctionOutput
          ? { onOutput: (fn, line, stream) => onFunctionOutput(fn.handlerName, line, stream) }
          : {},
      );
      stop.push(() => lambdas.close());
      const apiKeySecretId = lambdas.byHandler('transfer').environment.VIDEOGEN_API_KEY_SECRET ?? '';
      secrets.set(apiKeySecretId, JSON.stringify({ apiKey: options.videoGenApiKey ?? 'local-dev-key' }));

      const webhookFailures = { injected: 0 };
      const failureRate = options.webhookFailureRate ?? 0;
      const dice = seededRandom(options.seed ?? 1);
      const functionUrl: LocalFunctionUrl = await startFunctionUrl(
        async (event, signal) => {
          const answer = await lambdas.invoke(lambdas.byHandler('webhook').functionArn, event, signal);
          if (failureRate > 0 && dice() < failureRate) {
            webhookFailures.injected += 1;
            return { statusCode: 500, body: '{"error":"injected: the handler died before it answered"}' };
          }
          return answer;
        },
        {
          ...(iam
            ? { authorize: () => authorizeFunctionUrl(iam, lambdas.byHandler('webhook').functionArn) }
            : {}),
        },
      );
      stop.push(() => functionUrl.close());

      const webhookSecretId = lambdas.byHandler('webhook').environment.WEBHOOK_SECRET ?? '';
      let registration: (() => Promise<void>) | undefined;
      if (options.registerWebhooks ?? isLoopback(apiUrl)) {
        const registered = await registerWebhookUrl(lambdas, functionUrl.url, webhookSecretId, id);
        registration = registered.unregister;
        log(`registered ${functionUrl.url} with ${apiUrl} as ${registered.endpointId}`);
      } else {
        // VideoGen cannot call a loopback URL: no webhooks; the poll path carries every file.
        secrets.set(
          webhookSecretId,
          JSON.stringify({ secret: `whsec_${randomBytes(24).toString('base64')}` }),
        );
        log(
          `${apiUrl} cannot reach ${functionUrl.url}: files become READY through polling every ${options.pollAfterSeconds ?? 5} s`,
        );
      }
      const webhooksRegistered = registration !== undefined;

      const runtime = new LocalRuntime({
        id,
        bucket,
        tableName,
        apiUrl,
        webhookUrl: functionUrl.url,
        s3Endpoint: s3.endpoint,
        dynamoEndpoint: dynamo.endpoint,
        dynamoPid: dynamo.pid,
        simulator,
        webhooksRegistered,
        lambdas,
        queues: localQueues,
        mappings,
        stepFunctions,
        iam,
        webhookFailures,
        ops: {
          region: LOCAL_REGION,
          bucket,
          tableName,
          stateMachineArn,
          ingestQueueUrl: sqs.urlOf(localQueues.ingest),
          deadLetterQueueUrl: sqs.urlOf(localQueues.deadLetters),
          endpoints: { dynamodb: dynamo.endpoint, sfn: stepFunctions.endpoint, sqs: sqs.endpoint },
        },
        documents,
        s3: new S3Client({
          endpoint: s3.endpoint,
          forcePathStyle: true,
          region: LOCAL_REGION,
          credentials: LOCAL_CREDENTIALS,
        }),
        stop,
        registration,
        lastS3Event: () => lastS3Event,
      });
      onExecutionEnd = (execution) => log(`execution ${execution.name} ${execution.status}`);
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
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ...(options.metadata ? { Metadata: options.metadata } : {}),
        ...(options.contentType ? { ContentType: options.contentType } : {}),
      }),
    );
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

  /** Every ingest record, oldest first. */
  async records(): Promise<IngestRecord[]> {
    const records = await scanRecords({ client: this.#documents, tableName: this.tableName });
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key));
  }

  /** Resolves once every S3 event is handled and no workflow is running. */
  async idle(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // Dead-letter queues hold what no consumer takes: they do not keep the runtime busy.
    const working = [this.queues.ingest, this.queues.transfer];
    const queued = () => working.reduce((sum, queue) => sum + queue.depth, 0);
    for (;;) {
      while (queued() > 0) {
        if (Date.now() > deadline) throw new Error(`queues not drained after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await this.stepFunctions.idle(Math.max(1, deadline - Date.now()));
      if (queued() === 0) return;
    }
  }

  async stop(): Promise<void> {
    if (this.#registration) await this.#registration().catch(() => undefined);
    // VideoGen first, then what runs: no handler may outlive the emulators it calls.
    await this.simulator?.close();
    for (const mapping of this.mappings.values()) mapping.close();
    await this.stepFunctions.close();
    await this.lambdas.drain();
    await this.lambdas.close();
    for (const step of this.#stop.reverse()) await step().catch(() => undefined);
    this.#s3.destroy();
  }
}
