/**
 * The services of a local runtime, started: the DynamoDB emulator's process and the table
 * (with its streams), the VideoGen simulator (unless an API is given), the stack's template
 * as `cdk deploy` would deploy it, its IAM, the Lambda functions in their environments, the
 * queues and their mappings, Step Functions, S3, Secrets Manager, the stream subscribers and
 * each ingest's webhook endpoint. This file is the wiring; `runtime.ts` is what a user of
 * the runtime holds, and `shutdown.ts` the order it all stops in.
 */
import { randomBytes } from 'node:crypto';
import { Template } from 'aws-cdk-lib/assertions';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { definitionFromTemplate } from '../services/step-functions/definition-from-template.ts';
import type { LocalDynamoDB } from '../services/dynamodb/dynamodb.ts';
import { startDynamoDBProcess } from '../services/dynamodb/dynamodb-process.ts';
import { startS3, type LocalS3 } from '../services/s3/s3.ts';
import { startSecretsManager, type LocalSecrets } from '../services/secrets-manager/secrets.ts';
import { startSqs } from '../services/sqs/sqs.ts';
import {
  serviceError,
  startStepFunctions,
  type LocalExecution,
  type LocalStepFunctions,
} from '../services/step-functions/step-functions.ts';
import { VideoGenSimulator } from '../simulator/simulator.ts';
import { LOCAL_REGION } from '../cfn.ts';
import { LocalIam, serviceJudges } from '../iam/local-iam.ts';
import { functionCode } from './bundles.ts';
import { environmentCap } from '../services/lambda/environment-caps.ts';
import { LocalLambdas, type LocalFunction } from '../services/lambda/lambdas.ts';
import type { SqsEventSourceMapping } from '../services/sqs/event-source-mapping.ts';
import { queuesFromTemplate, startMappings } from '../services/sqs/queues.ts';
import { seededRandom } from '../simulator/faults.ts';
import { localFunctionVariables } from '../services/lambda/function-variables.ts';
import { localStackOf, localTableNames, localTemplate } from './local-stack.ts';
import { outsideTheModel } from './cloud-assembly.ts';
import { LocalSubscribers } from '../services/dynamodb/stream-mappings.ts';
import {
  LOCAL_CREDENTIALS,
  type LocalOpsEndpoints,
  type LocalQueues,
  type LocalRuntimeOptions,
} from './options.ts';
import { ShutdownList } from './shutdown.ts';
import { createTables, startTable } from '../services/dynamodb/table.ts';
import {
  registeredEventsOf,
  startWebhookEndpoint,
  webhookFrontOf,
  type WebhookEndpoint,
} from '../services/api-gateway/webhook-endpoint.ts';

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

/** Every started service of a runtime, and how they stop. */
export interface LocalServices {
  readonly id: string;
  readonly ingests: readonly LocalIngest[];
  /** The first of `ingests`: the one the drop folder, `run` and the ops commands use. */
  readonly primary: LocalIngest;
  readonly apiUrl: string;
  readonly s3Endpoint: string;
  readonly dynamoEndpoint: string;
  readonly dynamoPid: number | undefined;
  readonly simulator: VideoGenSimulator | undefined;
  readonly webhooksRegistered: boolean;
  readonly lambdas: LocalLambdas;
  readonly mappings: ReadonlyMap<string, SqsEventSourceMapping>;
  readonly subscribers: LocalSubscribers;
  readonly stepFunctions: LocalStepFunctions;
  readonly iam: LocalIam | undefined;
  readonly webhookFailures: { readonly injected: number };
  /** The runtime's own clients (not judged, as an administrator's calls would pass). */
  readonly documents: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly webhooks: readonly WebhookEndpoint[];
  readonly shutdown: ShutdownList;
  lastS3Event(): string | undefined;
}

export async function startServices(options: LocalRuntimeOptions = {}): Promise<LocalServices> {
  const log = options.log ?? (() => undefined);
  const id = options.state?.runtimeId ?? randomBytes(4).toString('hex');
  const shutdown = new ShutdownList();
  try {
    // The DynamoDB emulator's process boots on the other core while the rest starts here.
    const dynamoStarting = startDynamoDBProcess(options.state?.dynamoDirectory);
    dynamoStarting.catch(() => undefined); // awaited below; a failed boot throws there
    shutdown.add('storage', () => dynamoStarting.then((dynamo) => dynamo.close()));
    const simulator = options.videoGenApiUrl
      ? undefined
      : await VideoGenSimulator.start({
          ...options.simulator,
          // With a state folder, VideoGen's files outlive a restart as the real API's do.
          ...(options.state ? { stateFile: options.state.simulatorState } : {}),
        });
    if (simulator) shutdown.add('videogen', () => simulator.close());
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
    const { template, arns, functions, bucket } = stack;
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
      ...(options.maxBatchingWindowMs === undefined
        ? {}
        : { maxBatchingWindowMs: options.maxBatchingWindowMs }),
      ...(options.duplicateDeliveryRate
        ? { duplicateRate: options.duplicateDeliveryRate, random: seededRandom((options.seed ?? 1) + 1) }
        : {}),
    });
    shutdown.add('endpoints', () => queues.close());

    const table = await startTable(dynamo, judges?.dynamodb);
    shutdown.add('endpoints', () => table.close());

    const secrets: LocalSecrets = await startSecretsManager(judges?.secretsManager);
    shutdown.add('endpoints', () => secrets.close());

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
    shutdown.add('workflows', () => stepFunctions.close());
    stateMachineOfToken = (token) => stepFunctions.stateMachineOfToken(token);

    // The event source mappings, as deployed (each checked as CreateEventSourceMapping checks it).
    const mappings = await startMappings(queues, functions, lambdas, iam);
    shutdown.add('event-sources', () => mappings.forEach((mapping) => mapping.close()));
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
    shutdown.add('endpoints', () => sqs.close());
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
    shutdown.add('endpoints', () => s3.close());

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
    // VideoGen waits on the webhook's answer, with a timeout; nothing waits on the others.
    const answersCaller = (fn: LocalFunction): boolean => fn.handlerName === 'webhook';
    const mappingConcurrencies = (fn: LocalFunction): number[] =>
      queues.mappings.flatMap(({ functionLogicalId, maxConcurrency }) =>
        functionLogicalId === fn.logicalId && maxConcurrency !== undefined ? [maxConcurrency] : [],
      );
    lambdas.load(
      await functionCode(options, log),
      (fn) => localFunctionVariables(fn, local, iam?.credentialsFor(fn.logicalId) ?? LOCAL_CREDENTIALS),
      {
        maxEnvironments: (fn) =>
          environmentCap({
            answersCaller: answersCaller(fn),
            mappingMaxConcurrency: mappingConcurrencies(fn),
            perFunction: options.environmentsPerFunction,
          }),
        answersCaller,
        // A queue mapping's maximum concurrency (the transfer cap) is run in full, as on AWS.
        fillsDeployedConcurrency: (fn) => mappingConcurrencies(fn).length > 0,
        ...(onFunctionOutput
          ? { onOutput: (fn, line, stream) => onFunctionOutput(fn.label, line, stream) }
          : {}),
      },
    );
    shutdown.add('functions', async () => {
      await lambdas.drain();
      await lambdas.close();
    });
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
    shutdown.add('event-sources', () => subscribers.close());
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
      shutdown.add('registrations', () => endpoint.close());
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
    const client = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    shutdown.add('endpoints', () => client.destroy());
    const services: LocalServices = {
      id,
      ingests,
      primary,
      apiUrl,
      s3Endpoint: s3.endpoint,
      dynamoEndpoint: dynamo.endpoint,
      dynamoPid: dynamo.pid,
      simulator,
      webhooksRegistered: webhooks.registered,
      lambdas,
      mappings,
      subscribers,
      stepFunctions,
      iam,
      webhookFailures: webhooks.failures,
      documents: table.documents,
      s3: client,
      shutdown,
      webhooks: ingestWebhooks,
      lastS3Event: () => lastS3Event,
    };
    // The records say how each file ended; an execution that itself failed is a broken workflow, worth a line.
    onExecutionEnd = (execution) => {
      if (execution.status === 'FAILED' || execution.status === 'TIMED_OUT') {
        log(`execution ${execution.name} ${execution.status}`);
      }
    };
    return services;
  } catch (error) {
    await shutdown.close();
    throw error;
  }
}
