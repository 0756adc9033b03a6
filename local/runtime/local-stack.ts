/**
 * The stack `cdk deploy` deploys, synthesized with a local run's settings and read once:
 * its template (edited first, when a test asks), the names this runtime gives its
 * resources (the template's ARNs resolve to them), the functions and the state machine.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { PROJECT_ROOT } from '../../lib/handlers.ts';
import { BUILD_CACHE, inputsHash, markUsed, pruneUnused, sourcesUnder } from '../build-cache.ts';
import { templateArns, type TemplateArns } from '../iam/arns.ts';
import {
  functionsFromTemplate,
  localFunctionNameOf,
  type FunctionNotRun,
  type LocalFunction,
} from '../services/lambda/lambdas.ts';
import type { LocalRuntimeOptions } from './options.ts';
import { ingestOf, ingestsInTemplate, type IngestInStack } from '../ingests.ts';

const TEMPLATES = path.join(BUILD_CACHE, 'templates');
/** Besides `lib/` and `lambdas/`: the feature flags, how the stack is synthesized, and the CDK installed. */
const SYNTH_INPUTS = [
  path.join(PROJECT_ROOT, 'cdk.json'),
  path.join(PROJECT_ROOT, 'local', 'synth.ts'),
  fileURLToPath(import.meta.resolve('aws-cdk-lib/package.json')),
];

type TemplateJson = Parameters<NonNullable<LocalRuntimeOptions['editTemplate']>>[0];

/** One `VideoGenIngest` of the stack, as this runtime names its resources. */
export interface LocalIngestStack extends IngestInStack {
  readonly stateMachineArn: string;
  readonly bucket: string;
  readonly tableName: string;
}

export interface LocalStack {
  readonly template: Template;
  readonly arns: TemplateArns;
  readonly functions: LocalFunction[];
  /** Functions of the template it does not run, and why. */
  readonly notRun: FunctionNotRun[];
  /** Every ingest of the stack, the primary one first (`ingests.ts`). */
  readonly ingests: readonly LocalIngestStack[];
  /** The primary ingest's workflow, bucket and table. */
  readonly stateMachineLogicalId: string;
  readonly stateMachineArn: string;
  readonly bucket: string;
  readonly tableName: string;
}

/** What the local stack's template depends on besides the code: the run's settings, as plain data. */
export function stackSettings(options: LocalRuntimeOptions) {
  return {
    readiness: options.readiness ?? 'download',
    pollAfterSeconds: options.pollAfterSeconds ?? 5,
    maxWaitSeconds: options.maxWaitSeconds ?? 600,
    maxConcurrentTransfers: options.maxConcurrentTransfers,
    maxQueueWaitSeconds: options.maxQueueWaitSeconds,
    maxFileSizeBytes: options.maxFileSizeBytes,
    keyPrefix: options.keyPrefix || undefined,
    keySuffixes: options.keySuffixes,
    webhookThrottle: options.webhookThrottle,
  };
}
export type StackSettings = ReturnType<typeof stackSettings>;

export async function synthesize(settings: StackSettings): Promise<TemplateJson> {
  // Loaded only on a cache miss: building the stack loads aws-cdk-lib's modules (~5 s cold).
  const [{ Duration, RemovalPolicy, Size }, { LOCAL_STACK_PROPS, synthesizeStack }] = await Promise.all([
    import('aws-cdk-lib'),
    import('../synth.ts'),
  ]);
  // Not validated again here: `cdk synth` validates this same template where it is deployed
  // (and `npm run test:package` in CI); the runtime only reads it.
  const { template } = synthesizeStack(
    {
      apiKeySecretName: LOCAL_STACK_PROPS.apiKeySecretName,
      ingest: {
        // Every runtime's template (cached) names no runtime's API; each function gets its runtime's (function-variables.ts).
        videoGenApiUrl: 'https://api.videogen.io',
        readiness: settings.readiness,
        pollAfter: Duration.seconds(settings.pollAfterSeconds),
        maxWait: Duration.seconds(settings.maxWaitSeconds),
        ...(settings.maxConcurrentTransfers === undefined
          ? {}
          : { maxConcurrentTransfers: settings.maxConcurrentTransfers }),
        ...(settings.maxQueueWaitSeconds === undefined
          ? {}
          : { maxQueueWait: Duration.seconds(settings.maxQueueWaitSeconds) }),
        removalPolicy: RemovalPolicy.DESTROY,
        ...(settings.maxFileSizeBytes === undefined
          ? {}
          : { maxFileSize: Size.bytes(settings.maxFileSizeBytes) }),
        ...(settings.keyPrefix ? { keyPrefix: settings.keyPrefix } : {}),
        ...(settings.keySuffixes ? { keySuffixes: settings.keySuffixes } : {}),
        ...(settings.webhookThrottle ? { webhookThrottle: settings.webhookThrottle } : {}),
      },
    },
    { validate: false },
  );
  return template.toJSON() as TemplateJson;
}

/**
 * The synthesized template for these settings, from the build cache when neither the code
 * (`lib/`, `lambdas/`, `cdk.json`, the locked dependencies) nor the settings changed since.
 * It names no runtime: every runtime's names are resolved from it afterwards.
 */
export async function stackTemplate(settings: StackSettings): Promise<TemplateJson> {
  const inputs = [...(await sourcesUnder('lib')), ...(await sourcesUnder('lambdas')), ...SYNTH_INPUTS];
  const file = path.join(TEMPLATES, `${await inputsHash(inputs, JSON.stringify(settings))}.json`);
  const cached = await readFile(file, 'utf8').catch(() => undefined);
  if (cached) {
    await markUsed(file);
    return JSON.parse(cached) as TemplateJson;
  }
  const template = await synthesize(settings);
  await mkdir(TEMPLATES, { recursive: true });
  // Written whole, then renamed: a runtime starting meanwhile reads all of it or none.
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, JSON.stringify(template));
  await rename(partial, file);
  await pruneUnused(TEMPLATES, file);
  return template;
}

/** The primary ingest table's name in a runtime. */
export function tableNameOf(runtimeId: string): string {
  return `videogen-ingest-${runtimeId}`;
}

type Resources = Record<string, Parameters<typeof localFunctionNameOf>[1] & { Type: string }>;

/**
 * The local name of each table of the template, by logical id: an ingest's is the runtime's
 * (with the ingest's suffix), an app's own table gets its logical id. Known before the stack
 * is read: the tables are created first, for their stream ARNs.
 */
export function localTableNames(json: TemplateJson, runtimeId: string): Map<string, string> {
  const resources = json.Resources as Resources;
  const ingests = ingestsInTemplate(resources);
  return new Map(
    Object.entries(resources)
      .filter(([, resource]) => resource.Type === 'AWS::DynamoDB::GlobalTable')
      .map(([logicalId, resource]) => {
        const ingest = ingestOf(ingests, resource);
        return [
          logicalId,
          ingest ? `${tableNameOf(runtimeId)}${ingest.suffix}` : `${tableNameOf(runtimeId)}-${logicalId}`,
        ];
      }),
  );
}

/** The template a runtime runs: the app's stack (`--app`), or this repository's, synthesized with the run's settings; edited when a test asks. */
export async function localTemplate(options: LocalRuntimeOptions): Promise<TemplateJson> {
  const json = options.app
    ? (structuredClone(options.app.template) as TemplateJson)
    : await stackTemplate(stackSettings(options));
  options.editTemplate?.(json);
  return json;
}

/**
 * The stack as this runtime names it: its resources' names and ARNs (the table's stream
 * as the emulator labelled it), its functions and what of it is not run.
 */
export function localStackOf(
  json: TemplateJson,
  runtimeId: string,
  options: LocalRuntimeOptions,
  tableStreamArns: ReadonlyMap<string, string | undefined>,
): LocalStack {
  const template = Template.fromJSON(json);
  const resources = json.Resources as Resources;
  const ingests = ingestsInTemplate(resources);
  const tableNames = localTableNames(json, runtimeId);
  const dropBucketOf = (ingest: IngestInStack) =>
    ingest.index === 0 && options.bucketName
      ? options.bucketName
      : `videogen-drop-${runtimeId}${ingest.suffix}`;
  const arns = templateArns(
    template,
    (logicalId, type) => {
      const resource = resources[logicalId];
      const ingest = ingestOf(ingests, resource);
      if (type === 'AWS::DynamoDB::GlobalTable') return tableNames.get(logicalId);
      if (type === 'AWS::StepFunctions::StateMachine')
        return ingest && ingest.stateMachineLogicalId === logicalId
          ? `videogen-ingest-${runtimeId}${ingest.suffix}`
          : `videogen-ingest-${runtimeId}-${logicalId}`;
      if (type === 'AWS::S3::Bucket' && logicalId.includes('DropBucket') && ingest)
        return dropBucketOf(ingest);
      if (type === 'AWS::SecretsManager::Secret') return `local/${runtimeId}/${logicalId}`;
      // Queues are found by what consumes them, so any name of this runtime's will do.
      if (type === 'AWS::SQS::Queue') return `videogen-${runtimeId}-${logicalId}`.slice(0, 80);
      return type === 'AWS::Lambda::Function' && resource
        ? localFunctionNameOf(logicalId, resource, runtimeId, ingests)
        : undefined;
    },
    (logicalId) => tableStreamArns.get(logicalId),
  );
  const localIngests = ingests.map((ingest) => {
    const table = [...tableNames].find(([logicalId]) => ingestOf(ingests, resources[logicalId]) === ingest);
    return {
      ...ingest,
      stateMachineArn: arns.arnOf(ingest.stateMachineLogicalId),
      bucket: dropBucketOf(ingest),
      tableName: table?.[1] ?? tableNameOf(runtimeId),
    };
  });
  const primary = localIngests[0];
  if (!primary) throw new Error('no VideoGenIngest in the stack: no workflow of one is in its template');
  const { functions, notRun } = functionsFromTemplate(
    template,
    arns.resolve,
    runtimeId,
    ingests,
    options.app?.assemblyDir,
  );
  return {
    template,
    arns,
    functions,
    notRun,
    ingests: localIngests,
    stateMachineLogicalId: primary.stateMachineLogicalId,
    stateMachineArn: primary.stateMachineArn,
    bucket: primary.bucket,
    tableName: primary.tableName,
  };
}
