/** Every role does exactly its job, and cdk-nag's AwsSolutions pack finds nothing unacknowledged. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/cdk-app.ts';
import { VideoGenIngestStack } from '../../lib/videogen-ingest-stack.ts';
import { LOCAL_STACK_PROPS, synthesizeStack } from '#local/synth';
import { defaultStack, KEY_ARN, actionsOf as actionsIn } from '../helpers/default-stack.ts';

let template: Template;
beforeAll(() => {
  ({ template } = defaultStack());
});
const actionsOf = (handler: string) => actionsIn(template, handler);

describe('least privilege', () => {
  it.each([
    [
      'starter',
      [
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'states:StartExecution',
      ],
    ],
    [
      'prepare',
      ['dynamodb:GetItem', 'dynamodb:PutItem', 's3:GetObject', 's3:GetObjectVersion', 's3:ListBucket'],
    ],
    [
      'transfer',
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        's3:GetObject',
        's3:GetObjectVersion',
        's3:ListBucket',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'states:SendTaskFailure',
        'states:SendTaskSuccess',
      ],
    ],
    ['await-file', ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'states:SendTaskSuccess']],
    [
      'poll',
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ],
    ],
    ['record-failure', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
    [
      'webhook',
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
        'states:SendTaskSuccess',
      ],
    ],
    [
      'register-webhook',
      [
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue', // the API key
        'secretsmanager:GetSecretValue', // the signing secret: endpoints still registered
        'secretsmanager:PutSecretValue',
      ],
    ],
  ])('%s may do exactly its job', (name, expected) => {
    expect(actionsOf(name)).toEqual(expected);
  });

  it('grants no wildcard action, and Resource "*" only for X-Ray and Step Functions log delivery', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (policy) =>
        (
          policy as {
            Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
          }
        ).Properties.PolicyDocument.Statement,
    );
    const actionsOf = (statement: { Action: string | string[] }) =>
      Array.isArray(statement.Action) ? statement.Action : [statement.Action];
    expect(statements.flatMap(actionsOf).filter((action) => action.endsWith('*') || action === '*')).toEqual(
      [],
    );
    const onEveryResource = statements.filter((statement) => statement.Resource === '*').flatMap(actionsOf);
    expect(onEveryResource).toContain('xray:PutTraceSegments');
    expect(
      onEveryResource.filter(
        (action) =>
          !action.startsWith('xray:') &&
          !/^logs:(\w*LogDeliver\w*|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/.test(
            action,
          ),
      ),
    ).toEqual([]);
  });

  it('gives functions secrets by Secrets Manager ARN only, never by value', () => {
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const variables = JSON.stringify(
        (fn as { Properties: { Environment?: unknown } }).Properties.Environment ?? {},
      );
      expect(variables).not.toMatch(/whsec_|api[_-]?key"\s*:\s*"[^a]/i);
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          VIDEOGEN_API_KEY_SECRET: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ WEBHOOK_SECRET: { Ref: Match.stringLikeRegexp('SigningSecret') } }),
      },
    });
  });

  it('reads and lists source objects under the drop prefix only', () => {
    const { template: prefixed } = synthesizeStack({
      ...LOCAL_STACK_PROPS,
      ingest: { keyPrefix: 'incoming/' },
    });
    prefixed.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['s3:GetObject', 's3:GetObjectVersion'],
            Resource: { 'Fn::Join': ['', [Match.anyValue(), '/incoming/*']] },
          }),
          Match.objectLike({
            Action: 's3:ListBucket',
            Condition: { StringLike: { 's3:prefix': 'incoming/*' } },
          }),
        ]),
      },
    });
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in AwsSolutions, with or without an existing bucket and secret', () => {
    // The synth reports instead of throwing, so a finding fails the test by its rule and path.
    const app = testApp({ context: { '@aws-cdk/core:failSynthOnValidationErrors': false } });
    const withSubscriber = new VideoGenIngestStack(app, 'Default', LOCAL_STACK_PROPS);
    const consumer = new LambdaFunction(withSubscriber, 'Consumer', {
      runtime: Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: Code.fromInline('export const handler = async () => ({ batchItemFailures: [] });'),
    });
    // The subscriber is the user's function; its own findings are theirs, not the construct's.
    Validations.of(consumer).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'a test stand-in for a user function',
    });
    Validations.of(consumer).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'a test stand-in for a user function',
    });
    withSubscriber.ingest.addSubscriber(consumer, { statuses: ['READY'] });
    new VideoGenIngestStack(app, 'BringYourOwn', {
      ...LOCAL_STACK_PROPS,
      existingBucketName: 'my-bucket',
      existingBucketKmsKeyArn: KEY_ARN,
      webhookSecretName: 'my-hook',
    });
    expect(awsSolutionsFindings(app)).toEqual([]);
  });

  it('would name a finding by its rule and path: a bare bucket has several', () => {
    const app = testApp({ context: { '@aws-cdk/core:failSynthOnValidationErrors': false } });
    new Bucket(new Stack(app, 'Bare'), 'Plain');
    expect(awsSolutionsFindings(app)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AwsSolutions-S10 Bare\/Plain/)]),
    );
  });
});

/**
 * cdk-nag's AwsSolutions findings of an app that does not fail its synth on them: `rule
 * path` each, from the validation report (which lists only the plugins that found something).
 */
function awsSolutionsFindings(app: ReturnType<typeof testApp>): string[] {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const report = JSON.parse(
    readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'),
  ) as {
    pluginReports: {
      pluginName: string;
      violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
    }[];
  };
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.flatMap((violation) =>
      violation.violatingConstructs.map((construct) => `${violation.ruleName} ${construct.constructPath}`),
    ),
  );
}
