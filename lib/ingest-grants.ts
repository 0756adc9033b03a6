/**
 * Every grant of the pipeline's functions, in one place and least-privilege: exact actions,
 * on the drop prefix of this bucket, this table's items and this state machine only.
 */
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Stack } from 'aws-cdk-lib';
import { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';

export interface IngestGrantsProps {
  readonly bucket: IBucket;
  /** Only keys under it are read. */
  readonly dropPrefix: string;
  /** The bucket's KMS key, when its objects are SSE-KMS. */
  readonly sourceKey: IKey | undefined;
  readonly table: TableV2;
  readonly stateMachine: StateMachine;
  readonly apiKeySecret: ISecret;
  /** The KMS key that encrypts the API key secret, when it is a customer managed key. */
  readonly apiKeySecretKey: IKey | undefined;
  readonly webhookSecret: ISecret;
  readonly functions: {
    readonly starter: IFunction;
    readonly prepare: IFunction;
    readonly transfer: IFunction;
    readonly awaitFile: IFunction;
    readonly poll: IFunction;
    readonly recordFailure: IFunction;
    readonly webhook: IFunction;
  };
}

/** Grants each function exactly its calls; answers the source objects' ARN (cdk-nag names it). */
export function grantIngestPermissions(
  scope: Construct,
  props: IngestGrantsProps,
): { sourceObjectsArn: string } {
  const { bucket, dropPrefix, table, stateMachine, functions } = props;
  const { starter, prepare, transfer, awaitFile, poll, recordFailure, webhook } = functions;
  const sourceObjectsArn = bucket.arnForObjects(`${dropPrefix}*`);
  const readSource = new PolicyStatement({
    actions: ['s3:GetObject', 's3:GetObjectVersion'],
    resources: [sourceObjectsArn],
  });
  // With s3:ListBucket S3 answers a deleted source 404, not 403; the listing is held to the prefix.
  const listSource = new PolicyStatement({
    actions: ['s3:ListBucket'],
    resources: [bucket.bucketArn],
    ...(dropPrefix ? { conditions: { StringLike: { 's3:prefix': `${dropPrefix}*` } } } : {}),
  });
  for (const fn of [prepare, transfer]) {
    fn.addToRolePolicy(readSource);
    fn.addToRolePolicy(listSource);
    props.sourceKey?.grantDecrypt(fn);
  }
  // Item actions on the table itself: no handler queries an index (`table.grant` would add index/*).
  const grantItems = (fn: IFunction, ...actions: string[]): void => {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: actions.map((action) => `dynamodb:${action}`),
        resources: [table.tableArn],
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
  for (const fn of [transfer, poll]) grantApiKeyRead(fn, props.apiKeySecret, props.apiKeySecretKey);
  stateMachine.grantStartExecution(starter);
  // A Policy of its own, not the role's default one: the function must not depend on the
  // state machine that invokes it (a CloudFormation dependency cycle otherwise).
  new Policy(scope, 'AwaitFileTaskResponse', {
    roles: awaitFile.role ? [awaitFile.role] : [],
    statements: [
      new PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: [stateMachine.stateMachineArn] }),
    ],
  });
  // The transfer worker answers the token its message carries: done, or failed by name.
  transfer.addToRolePolicy(
    new PolicyStatement({
      actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      resources: [stateMachine.stateMachineArn],
    }),
  );
  grantItems(webhook, 'GetItem', 'PutItem', 'UpdateItem');
  webhook.addToRolePolicy(
    new PolicyStatement({ actions: ['states:SendTaskSuccess'], resources: [stateMachine.stateMachineArn] }),
  );
  props.webhookSecret.grantRead(webhook);
  return { sourceObjectsArn };
}

/**
 * Reading the API key: the secret, and `kms:Decrypt` on its customer managed key through
 * Secrets Manager only (as `Secret.grantRead` grants for a secret that knows its key; an
 * imported secret does not).
 */
export function grantApiKeyRead(fn: IFunction, secret: ISecret, key: IKey | undefined): void {
  secret.grantRead(fn);
  if (key && key !== secret.encryptionKey) {
    // A statement on the role: an imported key has no key policy here to add to.
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [key.keyArn],
        conditions: {
          StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(fn).region}.amazonaws.com` },
        },
      }),
    );
  }
}
