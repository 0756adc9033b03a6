import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Every cdk-nag AwsSolutions finding the construct accepts, each on the narrowest
 * construct it applies to, with its reason. An infrastructure test asserts that the
 * wildcard statements behind these are exactly the ones named here.
 */
export const NAG_REASONS = {
  runtime:
    'Pinned to Node.js 22, the runtime the project builds, bundles and tests on; moving runtimes is a deliberate change of the project, not of a deploy.',
  xray: 'xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (Tracing: Active).',
  sourceObjects:
    'Reads the objects under the drop prefix, whose keys are not known in advance (s3:GetObject and s3:GetObjectVersion only).',
  invokeVersions:
    'Step Functions and the custom-resource framework invoke the function by ARN and by version/alias (function:name:*), as CDK grants.',
  stateMachineLogs:
    'Step Functions log delivery (logs:*LogDelivery*, resource policies) and X-Ray support no resource-level permissions.',
  frameworkManagedPolicy:
    'A CDK-provided framework function (custom-resource provider, S3 notifications) that uses the basic execution role.',
  failureDestination:
    'An on-failure destination of a stream subscription: it is where failed records end up; a queue behind it would only move them again.',
  listStreams:
    'dynamodb:ListStreams supports no resource-level permissions (only "*"); it lists stream ARNs, no data. A Lambda stream event source needs it.',
  webhookAuthorization:
    'VideoGen delivers webhooks unsigned by AWS: each request is authenticated by its Standard Webhooks signature, verified by the function; the stage throttles what reaches it.',
  secretRotation:
    'VideoGen issues the webhook signing secret; it changes by re-registering the endpoint (a replacement on deploy), not by Secrets Manager rotation.',
} as const;

function acknowledge(construct: IConstruct | undefined, id: string, reason: string): void {
  if (construct) Validations.of(construct).acknowledge({ id, reason });
}

const BASIC_EXECUTION_ROLE =
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/** A subscriber's on-failure queue is a dead-letter queue in all but SQS's redrive sense. */
export function acknowledgeFailureDestination(queue: IConstruct): void {
  acknowledge(queue, 'AwsSolutions-SQS3', NAG_REASONS.failureDestination);
}

/** The stream subscriber's role may list streams, an action on no resource. */
export function acknowledgeListStreams(role: IConstruct | undefined): void {
  acknowledge(role, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.listStreams);
}

/** Writes a resource ARN the way cdk-nag names it in a finding: `<Logical.Arn>`, `<AWS::Partition>`. */
export function nagResourceName(scope: IConstruct, arn: string): string {
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (value && typeof value === 'object') {
      const object = value as Record<string, unknown>;
      if (Array.isArray(object['Fn::GetAtt'])) return `<${(object['Fn::GetAtt'] as string[]).join('.')}>`;
      if (typeof object.Ref === 'string') return `<${object.Ref}>`;
      const join = object['Fn::Join'] as [string, unknown[]] | undefined;
      if (join) return join[1].map(render).join(join[0]);
    }
    return JSON.stringify(value);
  };
  return render(Stack.of(scope).resolve(arn));
}

interface NagFunction extends IConstruct {
  readonly functionArn: string;
  readonly role?: IConstruct | undefined;
}

export interface NagTargets {
  /** Our Lambda functions (their function resources and roles). */
  readonly functions: readonly NagFunction[];
  /** The Prepare and Transfer roles, which read source objects, and the object ARN pattern they read. */
  readonly sourceReaders: {
    readonly roles: readonly (IConstruct | undefined)[];
    readonly objectsArn: string;
  };
  /** The webhook route, public by design (its requests are signed by VideoGen, not AWS). */
  readonly webhookRoute: IConstruct;
  /** The functions the state machine invokes, and its role. */
  readonly workflow: { readonly role: IConstruct; readonly invokes: readonly NagFunction[] };
  readonly registration?:
    | {
        readonly providerFunction: IConstruct;
        readonly registerFunction: NagFunction;
        readonly secret: IConstruct;
      }
    | undefined;
}

export function applyNagSuppressions(scope: IConstruct, targets: NagTargets): void {
  const invokeVersions = (fn: NagFunction): string =>
    `AwsSolutions-IAM5[Resource::${nagResourceName(scope, fn.functionArn)}:*]`;
  for (const fn of targets.functions) {
    acknowledge(fn.node.defaultChild, 'AwsSolutions-L1', NAG_REASONS.runtime);
    acknowledge(fn.role, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.xray);
  }
  const objects = `AwsSolutions-IAM5[Resource::${nagResourceName(scope, targets.sourceReaders.objectsArn)}]`;
  for (const role of targets.sourceReaders.roles) acknowledge(role, objects, NAG_REASONS.sourceObjects);
  acknowledge(targets.webhookRoute, 'AwsSolutions-APIG4', NAG_REASONS.webhookAuthorization);
  acknowledge(targets.workflow.role, 'AwsSolutions-IAM5[Resource::*]', NAG_REASONS.stateMachineLogs);
  for (const fn of targets.workflow.invokes)
    acknowledge(targets.workflow.role, invokeVersions(fn), NAG_REASONS.invokeVersions);
  if (targets.registration) {
    const { providerFunction, registerFunction, secret } = targets.registration;
    acknowledge(providerFunction, BASIC_EXECUTION_ROLE, NAG_REASONS.frameworkManagedPolicy);
    acknowledge(providerFunction, invokeVersions(registerFunction), NAG_REASONS.invokeVersions);
    acknowledge(secret, 'AwsSolutions-SMG4', NAG_REASONS.secretRotation);
  }
  // CDK creates one S3-notifications handler per stack for `eventBridgeEnabled`.
  for (const child of Stack.of(scope).node.children) {
    if (child.node.id.startsWith('BucketNotificationsHandler'))
      acknowledge(child, BASIC_EXECUTION_ROLE, NAG_REASONS.frameworkManagedPolicy);
  }
}
