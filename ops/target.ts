/**
 * Where the ops commands act: a deployed stack (found by name through its outputs, with
 * the caller's AWS credentials) or the local runtime `videogen-ingest-local start` is running
 * (found through the file it writes). Either way the same clients and names.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { OperatorError } from '../cli/commands.ts';
import { LOCAL_STATE_DIR, readHandshake } from './handshake.ts';
import type { LocalOpsEndpoints } from './handshake.ts';
import { deliveriesFromLog, deliveriesLogIn, type SubscriberDelivery } from './deliveries-log.ts';

/** Something the operator must fix first (a missing stack, credentials, a key): said plainly, exit 1. */
export class OpsError extends OperatorError {
  override readonly name: string = 'OpsError';
}
export class StackNotFoundError extends OpsError {
  override readonly name = 'StackNotFoundError';
}
export class MissingCredentialsError extends OpsError {
  override readonly name = 'MissingCredentialsError';
}
export class LocalRuntimeNotRunningError extends OpsError {
  override readonly name = 'LocalRuntimeNotRunningError';
}

export interface OpsTarget {
  /** Said in output: "stack X (us-east-1)" or "the local runtime". */
  readonly description: string;
  readonly bucket: string;
  readonly tableName: string;
  readonly stateMachineArn: string;
  readonly ingestQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly documents: DynamoDBDocumentClient;
  readonly sfn: SFNClient;
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  /** What the stream subscribers got of a file's records (a local runtime keeps a log of it). */
  readonly deliveriesOf?: (key: string) => SubscriberDelivery[];
  close(): void;
}

type TargetNames = Pick<
  OpsTarget,
  'bucket' | 'tableName' | 'stateMachineArn' | 'ingestQueueUrl' | 'deadLetterQueueUrl'
>;

/** The clients and names of a target; local endpoints when given, else AWS with the caller's own chain. */
function makeTarget(
  description: string,
  names: TargetNames,
  region: string,
  endpoints?: LocalOpsEndpoints['endpoints'],
): OpsTarget {
  // The local emulators take any credentials.
  const local = endpoints ? { credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } } : {};
  const raw = new DynamoDBClient({
    region,
    ...local,
    ...(endpoints ? { endpoint: endpoints.dynamodb } : {}),
  });
  const sfn = new SFNClient({ region, ...local, ...(endpoints ? { endpoint: endpoints.sfn } : {}) });
  const sqs = new SQSClient({ region, ...local, ...(endpoints ? { endpoint: endpoints.sqs } : {}) });
  const s3 = new S3Client({
    region,
    ...local,
    ...(endpoints ? { endpoint: endpoints.s3, forcePathStyle: true } : {}),
  });
  return {
    description,
    ...names,
    documents: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
    sfn,
    sqs,
    s3,
    close: () => {
      raw.destroy();
      sfn.destroy();
      sqs.destroy();
      s3.destroy();
    },
  };
}

export async function localTarget(stateDir: string = LOCAL_STATE_DIR): Promise<OpsTarget> {
  const found = await readHandshake(stateDir);
  if ('missing' in found) {
    throw new LocalRuntimeNotRunningError(
      `no local runtime here (${found.missing} not found): start one in this folder with "npx videogen-ingest-local start" ("npm start" in a checkout of videogen-ingest), pass --state-dir DIR for one started with it, or --stack NAME for a deployed stack`,
    );
  }
  if ('gone' in found) {
    throw new LocalRuntimeNotRunningError(
      `the local runtime that wrote ${found.file} (pid ${found.gone}) is gone: start it again with "npm start"`,
    );
  }
  return {
    ...fromEndpoints(found.state, 'the local runtime'),
    deliveriesOf: (key) => deliveriesFromLog(deliveriesLogIn(stateDir), key),
  };
}

/** A target on endpoints the caller already has (the local runtime in-process, tests). */
export function fromEndpoints(endpoints: LocalOpsEndpoints, description: string): OpsTarget {
  return makeTarget(description, endpoints, endpoints.region, endpoints.endpoints);
}

/** The stack outputs the ops commands read; `VideoGenIngestStack` declares each. */
const OUTPUTS = [
  'BucketName',
  'TableName',
  'StateMachineArn',
  'IngestQueueUrl',
  'DeadLetterQueueUrl',
] as const;

export async function stackTarget(
  stackName: string,
  region: string | undefined,
  cloudFormation = new CloudFormationClient(region ? { region } : {}),
): Promise<OpsTarget> {
  // Resolved once: the region the caller's configuration names, said in every message.
  const resolvedRegion = await cloudFormation.config.region().catch(() => '');
  if (!resolvedRegion) {
    throw new MissingCredentialsError(`no AWS region for ${stackName}: pass --region or set AWS_REGION`);
  }
  const where = `${stackName} (${resolvedRegion})`;
  let outputs: Record<string, string>;
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Object.fromEntries(
      (Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']),
    );
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    const message = error instanceof Error ? error.message : String(error);
    if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
      throw new MissingCredentialsError(
        `no AWS credentials for ${where}: set AWS_PROFILE (after "aws sso login") or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      );
    }
    if (name === 'ValidationError' && /does not exist/.test(message)) {
      throw new StackNotFoundError(
        `no stack ${where}: deploy it with "npx cdk deploy", or name the region with --region`,
      );
    }
    throw error;
  }
  const missing = OUTPUTS.filter((key) => !outputs[key]);
  if (missing.length > 0) {
    throw new StackNotFoundError(
      `${where} lacks the outputs ${missing.join(', ')}: is it a videogen-ingest stack, deployed with this version?`,
    );
  }
  cloudFormation.destroy();
  return makeTarget(
    `stack ${where}`,
    {
      bucket: outputs.BucketName ?? '',
      tableName: outputs.TableName ?? '',
      stateMachineArn: outputs.StateMachineArn ?? '',
      ingestQueueUrl: outputs.IngestQueueUrl ?? '',
      deadLetterQueueUrl: outputs.DeadLetterQueueUrl ?? '',
    },
    resolvedRegion,
  );
}
