/**
 * The ARNs a template's resources would have once deployed into the local account and
 * region, so IAM policies read from the template can be evaluated against the ARNs that
 * requests name. Physical names the template leaves to CloudFormation are the logical id
 * (or what `names` says, for the local runtime's own names).
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { cfnResolver, LOCAL_ACCOUNT, LOCAL_REGION } from '../cfn.ts';

const REGION_ACCOUNT = `${LOCAL_REGION}:${LOCAL_ACCOUNT}`;

/** A resource's physical name, when the template sets it; CloudFormation's choice otherwise. */
function templateName(
  resource: { Properties?: Record<string, unknown> },
  property: string,
): string | undefined {
  const value = resource.Properties?.[property];
  return typeof value === 'string' ? value : undefined;
}

/** The name property each resource type may set, and how its ARN is built from the name. */
const ARN_OF: Record<string, { nameProperty?: string; arn: (name: string) => string }> = {
  'AWS::DynamoDB::GlobalTable': {
    nameProperty: 'TableName',
    arn: (n) => `arn:aws:dynamodb:${REGION_ACCOUNT}:table/${n}`,
  },
  'AWS::DynamoDB::Table': {
    nameProperty: 'TableName',
    arn: (n) => `arn:aws:dynamodb:${REGION_ACCOUNT}:table/${n}`,
  },
  'AWS::S3::Bucket': { nameProperty: 'BucketName', arn: (n) => `arn:aws:s3:::${n}` },
  'AWS::SQS::Queue': { nameProperty: 'QueueName', arn: (n) => `arn:aws:sqs:${REGION_ACCOUNT}:${n}` },
  'AWS::SNS::Topic': { nameProperty: 'TopicName', arn: (n) => `arn:aws:sns:${REGION_ACCOUNT}:${n}` },
  'AWS::StepFunctions::StateMachine': {
    nameProperty: 'StateMachineName',
    arn: (n) => `arn:aws:states:${REGION_ACCOUNT}:stateMachine:${n}`,
  },
  'AWS::Lambda::Function': {
    nameProperty: 'FunctionName',
    arn: (n) => `arn:aws:lambda:${REGION_ACCOUNT}:function:${n}`,
  },
  'AWS::SecretsManager::Secret': {
    nameProperty: 'Name',
    arn: (n) => `arn:aws:secretsmanager:${REGION_ACCOUNT}:secret:${n}-AbCdEf`,
  },
  'AWS::Events::Rule': { nameProperty: 'Name', arn: (n) => `arn:aws:events:${REGION_ACCOUNT}:rule/${n}` },
  'AWS::Logs::LogGroup': {
    nameProperty: 'LogGroupName',
    arn: (n) => `arn:aws:logs:${REGION_ACCOUNT}:log-group:${n}:*`,
  },
  'AWS::IAM::Role': { nameProperty: 'RoleName', arn: (n) => `arn:aws:iam::${LOCAL_ACCOUNT}:role/${n}` },
  'AWS::CloudWatch::Alarm': {
    nameProperty: 'AlarmName',
    arn: (n) => `arn:aws:cloudwatch:${REGION_ACCOUNT}:alarm:${n}`,
  },
  'AWS::KMS::Key': { arn: (n) => `arn:aws:kms:${REGION_ACCOUNT}:key/${n}` },
  'AWS::ApiGatewayV2::Api': { arn: (n) => `arn:aws:apigateway:${LOCAL_REGION}::/apis/${n}` },
};

/** What `Ref` answers for a type: its ARN for these, its name for the rest. */
const REF_IS_ARN = new Set([
  'AWS::SNS::Topic',
  'AWS::StepFunctions::StateMachine',
  'AWS::SecretsManager::Secret',
]);

export interface TemplateArns {
  /** A resource's ARN by its logical id. */
  readonly arnOf: (logicalId: string) => string;
  /** A resource's physical name by its logical id. */
  readonly nameOf: (logicalId: string) => string;
  /** Resolves `Ref`, `Fn::GetAtt` and `Fn::Join` in a template value to its deployed string. */
  readonly resolve: (value: unknown) => string;
}

export function templateArns(
  template: Template,
  names: (logicalId: string, type: string) => string | undefined = () => undefined,
  /** A table's stream ARN, as its emulator labelled it (the label is the stream's creation time). */
  streamArnOf: (logicalId: string) => string | undefined = () => undefined,
): TemplateArns {
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties?: Record<string, unknown> }
  >;
  const describe = (logicalId: string) => {
    const resource = resources[logicalId];
    const kind = resource && ARN_OF[resource.Type];
    if (!resource || !kind)
      throw new Error(
        `no deployed ARN is known for ${logicalId} (${resource?.Type ?? 'not in the template'})`,
      );
    const name =
      names(logicalId, resource.Type) ??
      (kind.nameProperty ? templateName(resource, kind.nameProperty) : undefined) ??
      logicalId;
    return { type: resource.Type, name, arn: kind.arn(name) };
  };
  const resolve = cfnResolver(template, {
    ref: (logicalId) => {
      const { type, name, arn } = describe(logicalId);
      if (type === 'AWS::SQS::Queue')
        return `https://sqs.${LOCAL_REGION}.amazonaws.com/${LOCAL_ACCOUNT}/${name}`;
      return REF_IS_ARN.has(type) ? arn : name;
    },
    getAtt: (logicalId, attribute) => {
      const { type, name, arn } = describe(logicalId);
      if (attribute === 'Arn') return arn;
      if (attribute === 'StreamArn' && type.startsWith('AWS::DynamoDB::'))
        return streamArnOf(logicalId) ?? `${arn}/stream/2026-01-01T00:00:00.000`;
      if (/Name$/.test(attribute)) return name;
      throw new Error(`no deployed value for ${logicalId}.${attribute}`);
    },
  });
  return {
    arnOf: (logicalId) => describe(logicalId).arn,
    nameOf: (logicalId) => describe(logicalId).name,
    resolve,
  };
}

/** A policy document (or any template value) with every intrinsic function resolved. */
export function resolveDeep(value: unknown, resolve: (token: unknown) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveDeep(item, resolve));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]?.startsWith('Fn::'))) return resolve(value);
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveDeep(item, resolve)]));
}
