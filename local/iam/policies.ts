/**
 * Who may do what, as the synthesized template says once deployed: each role's identity
 * policies, and the resource policies of topics, queues, buckets and functions. Read
 * from the template so the local runtime and the tests judge the stack `cdk deploy` ships.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { resolveDeep, type TemplateArns } from './arns.ts';

export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[];
}

export interface NamedPolicy {
  readonly name: string;
  readonly policy: PolicyDocument;
}

export interface TemplatePolicies {
  /** The identity policies of a role, by its ARN (none for an unknown role). */
  readonly identityPolicies: (roleArn: string) => readonly NamedPolicy[];
  /** The resource policy that governs `resourceArn` (a bucket's for its objects too), if any. */
  readonly resourcePolicy: (resourceArn: string) => PolicyDocument | undefined;
  /** The execution role of a function, state machine or other resource with a `Role`/`RoleArn`. */
  readonly roleOf: (logicalId: string) => string;
}

/**
 * The AWS managed policies the template attaches, as AWS publishes them (the CDK
 * custom-resource framework's role uses the basic execution role).
 */
const MANAGED_POLICIES: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: '*',
      },
    ],
  },
};

type Resource = { Type: string; Properties?: Record<string, unknown> };

function logicalIdOf(token: unknown): string | undefined {
  const value = token as { Ref?: unknown; 'Fn::GetAtt'?: unknown } | undefined;
  if (typeof value?.Ref === 'string') return value.Ref;
  const getAtt = value?.['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

/** A Lambda permission as the statement Lambda adds to the function's resource policy. */
function lambdaPermissionStatement(
  properties: Record<string, unknown>,
  functionArn: string,
  resolve: (v: unknown) => unknown,
) {
  const principal = String(resolve(properties.Principal));
  const condition: Record<string, Record<string, unknown>> = {};
  const put = (operator: string, key: string, value: unknown) => {
    if (value === undefined) return;
    condition[operator] = { ...condition[operator], [key]: resolve(value) };
  };
  put('ArnLike', 'AWS:SourceArn', properties.SourceArn);
  put('StringEquals', 'AWS:SourceAccount', properties.SourceAccount);
  put('StringEquals', 'lambda:FunctionUrlAuthType', properties.FunctionUrlAuthType);
  if (properties.InvokedViaFunctionUrl === true || properties.InvokedViaFunctionUrl === 'true') {
    put('Bool', 'lambda:InvokedViaFunctionUrl', 'true');
  }
  return {
    Effect: 'Allow',
    Principal:
      principal === '*'
        ? '*'
        : principal.endsWith('.amazonaws.com')
          ? { Service: principal }
          : { AWS: principal },
    Action: properties.Action,
    Resource: functionArn,
    ...(Object.keys(condition).length ? { Condition: condition } : {}),
  };
}

export function policiesFromTemplate(template: Template, arns: TemplateArns): TemplatePolicies {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const resolve = (value: unknown) => resolveDeep(value, arns.resolve);
  const identity = new Map<string, NamedPolicy[]>();
  const addIdentity = (roleArn: string, policy: NamedPolicy) =>
    identity.set(roleArn, [...(identity.get(roleArn) ?? []), policy]);
  const byResource = new Map<string, Record<string, unknown>[]>();
  const addStatements = (arn: string, statements: readonly Record<string, unknown>[]) =>
    byResource.set(arn, [...(byResource.get(arn) ?? []), ...statements]);

  for (const [logicalId, { Type: type, Properties: properties = {} }] of Object.entries(resources)) {
    switch (type) {
      case 'AWS::IAM::Role': {
        const roleArn = arns.arnOf(logicalId);
        for (const inline of (properties.Policies ?? []) as {
          PolicyName: string;
          PolicyDocument: unknown;
        }[]) {
          addIdentity(roleArn, {
            name: inline.PolicyName,
            policy: resolve(inline.PolicyDocument) as PolicyDocument,
          });
        }
        for (const managed of (properties.ManagedPolicyArns ?? []) as unknown[]) {
          const name = arns.resolve(managed).replace(/^arn:aws:iam::aws:policy\//, '');
          const policy = MANAGED_POLICIES[name];
          if (!policy)
            throw new Error(`${logicalId} attaches ${name}, a managed policy the local IAM does not know`);
          addIdentity(roleArn, { name, policy });
        }
        break;
      }
      case 'AWS::IAM::Policy': {
        const policy = resolve(properties.PolicyDocument) as PolicyDocument;
        for (const role of (properties.Roles ?? []) as unknown[]) {
          const roleId = logicalIdOf(role);
          if (roleId) addIdentity(arns.arnOf(roleId), { name: logicalId, policy });
        }
        break;
      }
      case 'AWS::SNS::TopicPolicy':
      case 'AWS::SQS::QueuePolicy': {
        const { Statement } = resolve(properties.PolicyDocument) as PolicyDocument;
        const targets = (
          type === 'AWS::SNS::TopicPolicy' ? properties.Topics : properties.Queues
        ) as unknown[];
        for (const target of targets) {
          const targetId = logicalIdOf(target);
          if (targetId) addStatements(arns.arnOf(targetId), Statement);
        }
        break;
      }
      case 'AWS::S3::BucketPolicy': {
        const { Statement } = resolve(properties.PolicyDocument) as PolicyDocument;
        addStatements(`arn:aws:s3:::${arns.resolve(properties.Bucket)}`, Statement);
        break;
      }
      case 'AWS::Lambda::Permission': {
        const functionArn = String(resolve(properties.FunctionName));
        const arn = functionArn.startsWith('arn:')
          ? functionArn
          : arns.arnOf(logicalIdOf(properties.FunctionName) ?? '');
        addStatements(arn, [lambdaPermissionStatement(properties, arn, resolve)]);
        break;
      }
      default:
    }
  }

  return {
    identityPolicies: (roleArn) => identity.get(roleArn) ?? [],
    resourcePolicy: (resourceArn) => {
      // An S3 object is governed by its bucket's policy; a qualified function ARN by the function's.
      const owner = resourceArn.startsWith('arn:aws:s3:::')
        ? `arn:aws:s3:::${resourceArn.slice('arn:aws:s3:::'.length).split('/')[0] ?? ''}`
        : resourceArn.replace(/^(arn:aws:lambda:[^:]+:[^:]+:function:[^:]+):.*$/, '$1');
      const statements = byResource.get(owner);
      return statements ? { Version: '2012-10-17', Statement: statements } : undefined;
    },
    roleOf: (logicalId) => {
      const properties = resources[logicalId]?.Properties ?? {};
      const role = properties.Role ?? properties.RoleArn;
      const roleId = logicalIdOf(role);
      if (!roleId) throw new Error(`${logicalId} has no role in the template`);
      return arns.arnOf(roleId);
    },
  };
}
