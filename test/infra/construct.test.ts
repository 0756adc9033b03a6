import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type CfnElement, Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { stackWithSubscriber, testApp } from '../helpers/cdk-app.ts';
import {
  VideoGenIngest,
  type VideoGenIngestProps,
  TRANSFER_MAX_RECEIVE_COUNT,
} from '../../lib/videogen-ingest.ts';
import { PERMANENT_ERRORS, STATE } from '../../lib/ingest-workflow.ts';
import { HANDLER_METADATA_KEY, type HandlerName } from '../../lib/handlers.ts';
import { VideoGenIngestStack } from '../../lib/videogen-ingest-stack.ts';
import { ENVIRONMENTS } from '../../lambdas/shared/environments.ts';
import { WEBHOOK_EVENT_TYPES } from '../../lambdas/shared/videogen/contract.ts';
import { LOCAL_STACK_PROPS, synthesizeStack } from '#local/synth';
import { definitionFromTemplate, placeholderFor, type AslDefinition } from '#local/definition-from-template';
import { stackSettings, stackTemplate, synthesize } from '#local/runtime/local-stack';

let template: Template;
let definition: AslDefinition;
beforeAll(() => {
  template = synthesizeStack().template;
  definition = definitionFromTemplate(template, placeholderFor);
});

/** A project function's logical ID, by the handler its metadata names. */
function functionIdOf(handler: string): string {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).find(
    ([, resource]) =>
      (resource as { Metadata?: Record<string, unknown> }).Metadata?.[HANDLER_METADATA_KEY] === handler,
  );
  if (!found) throw new Error(`no function for handler ${handler}`);
  return found[0];
}

/** Every IAM statement of a function's role, by its handler. */
function statementsOf(handler: string): { Action: string | string[]; Resource: unknown }[] {
  const fnId = functionIdOf(handler);
  const fn = template.findResources('AWS::Lambda::Function')[fnId] as {
    Properties: { Role: { 'Fn::GetAtt': [string, string] } };
  };
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      JSON.stringify((policy as { Properties: { Roles: unknown } }).Properties.Roles).includes(roleId),
    )
    .flatMap(
      (policy) =>
        (
          policy as {
            Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } };
          }
        ).Properties.PolicyDocument.Statement,
    );
}

function actionsOf(serviceName: string): string[] {
  return statementsOf(serviceName)
    .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]))
    .filter((action) => !action.startsWith('xray:') && !action.startsWith('logs:'))
    .sort();
}

describe('the drop bucket', () => {
  it('is private, encrypted, versioned, TLS-only, logged, and sends events to EventBridge', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'drop-bucket/' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
    });
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('routes Object Created events of this bucket through EventBridge to the queue, with a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: Match.stringLikeRegexp('DropBucket') }] } },
      },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue() })],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      RedrivePolicy: { maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
  });
});

describe('the table', () => {
  it('is on demand with PITR, encryption, a NEW_AND_OLD_IMAGES stream, TTL and a status index', () => {
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      Replicas: [
        Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      ],
      GlobalSecondaryIndexes: [Match.objectLike({ IndexName: 'byStatus' })],
    });
  });
});

describe('the functions', () => {
  it('all run Node 22 on arm64 with X-Ray, JSON logs and a log group of their own', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => (fn as { Metadata?: Record<string, unknown> }).Metadata?.[HANDLER_METADATA_KEY] !== undefined,
    );
    expect(functions).toHaveLength(8);
    for (const fn of functions) {
      expect((fn as { Properties: unknown }).Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', LogGroup: expect.anything() },
      });
    }
    template.resourcePropertiesCountIs(
      'AWS::IAM::Role',
      {
        ManagedPolicyArns: Match.anyValue(),
        AssumeRolePolicyDocument: Match.objectLike({
          Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
        }),
      },
      2,
    );
  });

  it('gives each function every variable its handler reads at cold start, and none of another’s', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as {
      Metadata?: Record<string, unknown>;
      Properties: { Environment: { Variables: Record<string, unknown> } };
    }[];
    const runtimeVariables = ['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'];
    for (const fn of functions) {
      const handler = fn.Metadata?.[HANDLER_METADATA_KEY] as HandlerName | undefined;
      if (!handler) continue;
      const variables = Object.keys(fn.Properties.Environment.Variables).filter(
        (name) => !runtimeVariables.includes(name),
      );
      expect({ handler, variables: variables.sort() }).toEqual({
        handler,
        variables: Object.keys(ENVIRONMENTS[handler]).sort(),
      });
    }
  });

  it('reserves no concurrency by default, so the stack deploys on an account whose quota is 10', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions.filter((fn) => 'ReservedConcurrentExecutions' in fn.Properties)).toEqual([]);
    expect(
      template.findResources('AWS::Lambda::Function')[functionIdOf('transfer')]?.Properties,
    ).toMatchObject({
      Timeout: 900,
      MemorySize: 1024,
    });
  });

  it('reserves no concurrency by default: a new account with a quota of 10 can deploy it', () => {
    expect(
      Object.values(template.findResources('AWS::Lambda::Function')).filter(
        (fn) => 'ReservedConcurrentExecutions' in fn.Properties,
      ),
    ).toEqual([]);
  });

  it('caps transfers with the transfer queue mapping’s maximum concurrency, one message per invocation', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionIdOf('transfer') },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 10 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const { template: capped } = synthesizeStack({
      ...LOCAL_STACK_PROPS,
      ingest: { maxConcurrentTransfers: 4 },
    });
    capped.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ScalingConfig: { MaximumConcurrency: 4 },
    });
  });

  it('keeps a transfer message hidden past the worker’s timeout, for the max queue wait, then dead-letters it', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    const transferQueue = Object.entries(queues).find(([id]) => /TransferQueue/.test(id))?.[1];
    expect(transferQueue?.Properties).toMatchObject({
      VisibilityTimeout: 960,
      MessageRetentionPeriod: Duration.hours(48).toSeconds(),
      RedrivePolicy: { maxReceiveCount: TRANSFER_MAX_RECEIVE_COUNT },
    });
  });

  it('reserves concurrency for webhooks when asked to', () => {
    const { template: reserved } = synthesizeStack({
      ...LOCAL_STACK_PROPS,
      ingest: { maxConcurrentWebhooks: 6 },
    });
    const byHandler = Object.values(reserved.findResources('AWS::Lambda::Function'))
      .filter((fn) => 'ReservedConcurrentExecutions' in fn.Properties)
      .map((fn) => [
        (fn as { Metadata?: Record<string, unknown> }).Metadata?.[HANDLER_METADATA_KEY],
        (fn.Properties as { ReservedConcurrentExecutions: number }).ReservedConcurrentExecutions,
      ]);
    expect(Object.fromEntries(byHandler)).toEqual({ webhook: 6 });
  });

  it('serves the webhook from a throttled HTTP API route (its bulkhead), authenticated by its signature', () => {
    template.resourceCountIs('AWS::Lambda::Url', 0);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /',
      AuthorizationType: 'NONE',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 10 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [functionIdOf('webhook'), 'Arn'] },
    });
    // API Gateway may invoke the webhook function, from this API's POST / only.
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'apigateway.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [functionIdOf('webhook'), 'Arn'] },
      SourceArn: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('/\\*/\\*/$')])],
      }),
    });
  });
});

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
        'dynamodb:DeleteItem',
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

describe('the workflow', () => {
  it('is a Standard state machine with X-Ray, full logging without execution data, and a timeout past the max wait', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
    // Its log group's vended-logs name (test/infra/redeploy.test.ts) keeps Step Functions out of
    // the account's CloudWatch Logs resource policy.
    // The max queue wait (24 h), the max wait (6 h) and an hour.
    expect(definition.TimeoutSeconds).toBe(Duration.hours(31).toSeconds());
  });

  it('runs Prepare → Transfer (queued) → WaitForFile, and ends Ready, Duplicate or Rejected', () => {
    expect(definition.StartAt).toBe(STATE.prepare);
    expect(definition.States[STATE.prepare]?.Next).toBe(STATE.prepared);
    expect(definition.States[STATE.prepared]?.Default).toBe(STATE.transfer);
    expect(definition.States[STATE.transfer]?.Next).toBe(STATE.waitForFile);
    expect(definition.States[STATE.transfer]?.ResultPath).toBe('$.upload');
    for (const end of [STATE.ready, STATE.duplicate, STATE.rejected])
      expect(definition.States[end]?.Type).toBe('Succeed');
  });

  it('waits for the transfer in the queue with its token, up to the max queue wait', () => {
    expect(definition.States[STATE.transfer]).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::sqs:sendMessage.waitForTaskToken',
      TimeoutSeconds: Duration.hours(24).toSeconds(),
      Parameters: { MessageBody: { 'pk.$': '$.prepared.pk', 'taskToken.$': '$$.Task.Token' } },
    });
  });

  it('records a wait in the queue past its maximum as TransferQueueTimeoutError, and every other failure', () => {
    expect(definition.States[STATE.transfer]?.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: null, Next: STATE.transferQueueTimedOut },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.recordFailure },
    ]);
    expect(definition.States[STATE.transferQueueTimedOut]).toMatchObject({
      Type: 'Pass',
      Result: { Error: 'TransferQueueTimeoutError' },
      ResultPath: '$.error',
      Next: STATE.recordFailure,
    });
    expect(definition.States[STATE.prepare]?.Catch?.[0]?.Next).toBe(STATE.recordFailureBeforeClaim);
    expect(definition.States[STATE.recordFailure]?.Next).toBe(STATE.failed);
    expect(definition.States[STATE.failed]?.Type).toBe('Fail');
  });

  it('never retries a permanent error, backs a 429 off longer, and retries the rest with jitter', () => {
    const retry = definition.States[STATE.prepare]?.Retry ?? [];
    expect(retry.find((rule) => rule.MaxAttempts === 0)?.ErrorEquals).toEqual([...PERMANENT_ERRORS]);
    expect(retry.find((rule) => rule.ErrorEquals.includes('VideoGenRateLimitedError'))).toMatchObject({
      JitterStrategy: 'FULL',
      MaxDelaySeconds: 60,
    });
    expect(retry.at(-1)).toMatchObject({ ErrorEquals: ['States.ALL'], JitterStrategy: 'FULL' });
    // A throttle (the account's concurrency is shared) is retried a bounded number of times:
    // no state waits its turn by retrying any more, the transfer queue does that.
    const throttled = retry.find((rule) => rule.ErrorEquals.includes('Lambda.TooManyRequestsException'));
    expect(throttled).toMatchObject({ MaxAttempts: 10, JitterStrategy: 'FULL', MaxDelaySeconds: 60 });
  });

  it('waits for a task token with the poll interval as timeout, then polls until ready or timed out', () => {
    const wait = definition.States[STATE.waitForFile];
    expect(wait).toMatchObject({
      Resource: 'arn:<AWS::Partition>:states:::lambda:invoke.waitForTaskToken',
      TimeoutSeconds: 600,
      Parameters: { Payload: { 'pk.$': '$.prepared.pk', 'taskToken.$': '$$.Task.Token' } },
    });
    expect(wait?.Catch?.[0]).toEqual({ ErrorEquals: ['States.Timeout'], ResultPath: null, Next: STATE.poll });
    const choices = definition.States[STATE.readiness]?.Choices?.map((choice) => [
      choice.StringEquals,
      choice.Next,
    ]);
    expect(choices).toEqual([
      ['READY', STATE.ready],
      ['WAITING', STATE.waitForFile],
      ['TIMED_OUT', STATE.timedOut],
    ]);
    expect(definition.States[STATE.readiness]?.Default).toBe(STATE.processingFailed);
  });

  it("keeps the presigned URL out of the execution: Transfer's result is the worker's answer", () => {
    // `$.upload` is what the transfer worker answers (its file id, bytes and when they were
    // accepted: `test/e2e/ingest.test.ts` reads an execution's), and later states read only those.
    expect(definition.States[STATE.transfer]?.ResultPath).toBe('$.upload');
    const references = new Set(JSON.stringify(definition).match(/\$\.upload[.\w]*/g));
    expect([...references].sort()).toEqual(['$.upload', '$.upload.fileId', '$.upload.uploadedAt']);
    expect(JSON.stringify(definition)).not.toContain('uploadUrl');
  });
});

describe('webhook registration and alarms', () => {
  it('registers the webhook URL with a custom resource that keeps the secret, the event types its properties', () => {
    // The types are a property: a release that subscribes to another changes it, and the deploy re-registers.
    template.hasResourceProperties('Custom::VideoGenWebhookEndpoint', {
      WebhookUrl: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('WebhookEndpointApi') }])],
      }),
      SecretId: { Ref: Match.stringLikeRegexp('SigningSecret') },
      Events: [...WEBHOOK_EVENT_TYPES],
    });
  });

  it('alarms on failed and overdue executions, timed-out files and a non-empty DLQ', () => {
    for (const metricName of [
      'ExecutionsFailed',
      'ExecutionsTimedOut',
      'FilesTimedOut',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metricName,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });

  it('outputs what a user needs', () => {
    for (const output of [
      'BucketName',
      'WebhookUrl',
      'TableName',
      'TableStreamArn',
      'StateMachineArn',
      'IngestQueueUrl',
      'DeadLetterQueueUrl',
      'AlarmTopicArn',
      'DashboardName',
    ]) {
      template.hasOutput(output, {});
    }
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

describe('props', () => {
  function build(props: Partial<VideoGenIngestProps>): Template {
    const stack = new Stack(testApp(), 'Props');
    new VideoGenIngest(stack, 'Ingest', {
      apiKeySecret: Secret.fromSecretNameV2(stack, 'Key', 'k'),
      ...props,
    });
    return Template.fromStack(stack);
  }

  it('takes another throttle, and refuses one that cannot work', () => {
    const custom = build({ webhookThrottle: { rateLimit: 200, burstLimit: 100 } });
    custom.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 100 },
    });
    expect(() => build({ webhookThrottle: { rateLimit: 0, burstLimit: 10 } })).toThrow(
      'webhookThrottle.rateLimit must be a whole number from 1 to 10000, got 0',
    );
  });

  it.each<[string, Partial<VideoGenIngestProps>, string]>([
    [
      'readiness',
      { readiness: 'soon' as never },
      'readiness must be one of upload, playback, download, analysis, got "soon"',
    ],
    [
      'an http URL',
      { videoGenApiUrl: 'http://api.videogen.io' },
      'videoGenApiUrl must be an https:// URL, got "http://api.videogen.io"',
    ],
    ['a prefix with a leading slash', { keyPrefix: '/in' }, 'keyPrefix must not start with "/", got "/in"'],
    [
      'a wildcard suffix',
      { keySuffixes: ['*.mp4'] },
      'keySuffixes must be plain endings such as ".mp4", got "*.mp4"',
    ],
    [
      'a file size over 5 GiB',
      { maxFileSize: Size.gibibytes(6) },
      'maxFileSize must be from 1 byte to 5 GiB (the single-PUT ceiling), got 6442450944 bytes',
    ],
    [
      'one transfer at a time (a mapping’s maximum concurrency is at least 2)',
      { maxConcurrentTransfers: 1 },
      'maxConcurrentTransfers must be a whole number from 2 to 1000, got 1',
    ],
    [
      'a max queue wait past what the queue keeps',
      { maxQueueWait: Duration.days(14) },
      'maxQueueWait must be from 1 minute to 13 days (the transfer queue keeps a message at most 14 days), got 14 days',
    ],
    [
      'a max wait under the poll interval',
      { pollAfter: Duration.minutes(10), maxWait: Duration.minutes(5) },
      'maxWait (5 minutes) must be at least pollAfter (10 minutes)',
    ],
    [
      'waits and polls that outgrow a Standard execution’s history',
      { pollAfter: Duration.seconds(5), maxWait: Duration.hours(6) },
      'maxWait (6 hours) over pollAfter (5 seconds) is 4320 wait-and-poll rounds of ~13 history events each, and a Standard execution stops at 25,000 events: allow at most 1846 rounds (raise pollAfter to at least 12 seconds, or lower maxWait)',
    ],
    [
      'a sub-second poll interval',
      { pollAfter: Duration.millis(500) },
      'pollAfter must be at least 1 second',
    ],
  ])('refuse %s with a clear message', (_what, props, message) => {
    expect(() => build(props)).toThrow(message);
  });

  it('use an existing bucket and a supplied secret without creating either', () => {
    const stack = new Stack(testApp(), 'Byo');
    new VideoGenIngest(stack, 'Ingest', {
      apiKeySecret: Secret.fromSecretNameV2(stack, 'Key', 'k'),
      bucket: Bucket.fromBucketName(stack, 'Existing', 'my-drop'),
      webhookSecret: Secret.fromSecretNameV2(stack, 'Hook', 'hook'),
      keySuffixes: ['.mp4', '.MOV'],
    });
    const byo = Template.fromStack(stack);
    byo.resourceCountIs('AWS::S3::Bucket', 0);
    // Its EventBridge delivery is turned on by the stack, its other notifications kept (Managed: false).
    byo.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'my-drop',
      NotificationConfiguration: { EventBridgeConfiguration: {} },
      Managed: false,
    });
    byo.resourceCountIs('Custom::VideoGenWebhookEndpoint', 0);
    byo.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        detail: {
          bucket: { name: ['my-drop'] },
          object: {
            key: [{ suffix: { 'equals-ignore-case': '.mp4' } }, { suffix: { 'equals-ignore-case': '.MOV' } }],
          },
        },
      },
    });
  });

  it('let the source readers decrypt an SSE-KMS bucket with its key', () => {
    const stack = new Stack(testApp(), 'Kms');
    const ingest = new VideoGenIngest(stack, 'Ingest', {
      apiKeySecret: Secret.fromSecretNameV2(stack, 'Key', 'k'),
      bucket: Bucket.fromBucketName(stack, 'Existing', 'my-drop'),
      bucketEncryptionKey: Key.fromKeyArn(stack, 'BucketKey', KEY_ARN),
    });
    const decrypters = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).filter(
      (policy) =>
        JSON.stringify(policy).includes('"kms:Decrypt"') && JSON.stringify(policy).includes(KEY_ARN),
    );
    const roles = decrypters.map((policy) => JSON.stringify((policy.Properties as { Roles: unknown }).Roles));
    for (const reader of [ingest.functions.prepare, ingest.functions.transfer]) {
      const roleId = stack.getLogicalId(reader.role?.node.defaultChild as CfnElement);
      expect(roles.some((list) => list.includes(roleId))).toBe(true);
    }
    expect(decrypters).toHaveLength(2);
  });

  it('pass readiness, limits and timing to the handlers', () => {
    const custom = build({
      readiness: 'analysis',
      maxFileSize: Size.mebibytes(100),
      maxWait: Duration.hours(2),
      maxUploadUrlAttempts: 5,
    });
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ READINESS: 'analysis', MAX_FILE_BYTES: String(100 * 1024 * 1024) }),
      },
    });
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MAX_WAIT_SECONDS: '7200' }) },
    });
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ MAX_UPLOAD_URL_ATTEMPTS: '5' }) },
    });
  });
});

const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('operations: dashboard, alarms to a topic, stream subscribers', () => {
  it('sends every alarm, and its recovery, to the topic the construct exposes', () => {
    const { template, ingest } = stackWithSubscriber();
    const topicId = Stack.of(ingest).getLogicalId(ingest.alarmTopic.node.defaultChild as CfnElement);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(6);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({
        AlarmActions: [{ Ref: topicId }],
        OKActions: [{ Ref: topicId }],
      });
    }
  });

  it('alarms on a spike of webhook signature failures of this deployment', () => {
    const { template, ingest } = stackWithSubscriber();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'VideoGenIngest',
      MetricName: 'WebhookSignatureFailures',
      Dimensions: [{ Name: 'service', Value: ingest.metricsService }],
      Threshold: 10,
      Statistic: 'Sum',
    });
  });

  it('graphs the ingest metrics, the dead-letter queue depth and its oldest message on a dashboard', () => {
    const { template, ingest } = stackWithSubscriber();
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.Properties);
    for (const metricName of [
      'ExecutionsStarted',
      'FilesReady',
      'FilesRejected',
      'FilesFailed',
      'FilesTimedOut',
      'DropToReadyLatency',
      'BytesTransferred',
      'WebhookDeliveries',
      'VideoGenErrors',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
    ]) {
      expect(body).toContain(metricName);
    }
    expect(body).toContain(ingest.metricsService);
    // Every function publishes under the one service name the dashboard reads.
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      if ((fn as { Metadata?: Record<string, unknown> }).Metadata?.[HANDLER_METADATA_KEY] === undefined)
        continue;
      expect(JSON.stringify(fn)).toContain(`"POWERTOOLS_SERVICE_NAME":"${ingest.metricsService}"`);
    }
  });

  it('wires a subscriber to the stream: ingest records entering the statuses asked for, bisect, bounded retries, on-failure queue', () => {
    const { template } = stackWithSubscriber({ statuses: ['READY', 'FAILED'] });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('IngestTable'), 'StreamArn'] },
      StartingPosition: 'LATEST',
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 86_400,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('SubscriberFailures'), 'Arn'] } },
      },
      // What the filters let through is evaluated as Lambda does in test/e2e/subscriptions.test.ts.
      FilterCriteria: { Filters: Match.anyValue() },
    });
    // The consumer may read the stream and send to its failure queue, nothing of the table's items.
    const consumerPolicy = Object.values(template.findResources('AWS::IAM::Policy')).find((policy) =>
      JSON.stringify(policy).includes('ConsumerServiceRole'),
    );
    const actions = JSON.stringify(consumerPolicy);
    expect(actions).toContain('dynamodb:GetRecords');
    expect(actions).toContain('sqs:SendMessage');
    expect(actions).not.toContain('dynamodb:PutItem');
  });

  it('refuses subscriber options that cannot work, saying why', () => {
    expect(() => stackWithSubscriber({ statuses: ['DONE' as never] })).toThrow(
      /"DONE" is not an ingest status/,
    );
    expect(() => stackWithSubscriber({ statuses: [] })).toThrow('statuses must name at least one status');
    expect(() => stackWithSubscriber({ maxRecordAge: Duration.seconds(5) })).toThrow(
      /maxRecordAge must be from 1 minute to 7 days/,
    );
  });
});

describe('the package entry', () => {
  it('exports the construct, the stack and the metric names to CDK apps that install it', async () => {
    const entry = await import('videogen-ingest');
    expect(entry.VideoGenIngest).toBe(VideoGenIngest);
    expect(entry.METRIC.filesReady).toBe('FilesReady');
    expect(typeof entry.VideoGenIngestStack).toBe('function');
  });
});

describe('the local runtime', () => {
  it('runs the template a synth of the current code makes, cached or not', async () => {
    const settings = stackSettings({ pollAfterSeconds: 3, maxConcurrentTransfers: 4 });
    const cached = await stackTemplate(settings);
    expect(await stackTemplate(settings)).toEqual(cached);
    expect(cached).toEqual(await synthesize(settings));
    expect(JSON.stringify(cached)).toContain('"MaximumConcurrency":4');
  });
});
