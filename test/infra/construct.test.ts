/** The default stack's resources: the bucket, the table, the functions, the workflow, the webhook registration and the alarms. */
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { VideoGenIngest, TRANSFER_MAX_RECEIVE_COUNT } from '../../lib/videogen-ingest.ts';
import { PERMANENT_ERRORS, STATE } from '../../lib/ingest-workflow.ts';
import { HANDLER_METADATA_KEY, type HandlerName } from '../../lib/handlers.ts';
import { ENVIRONMENTS } from '../../lambdas/shared/environments.ts';
import { WEBHOOK_EVENT_TYPES } from '../../lambdas/shared/videogen/contract.ts';
import { LOCAL_STACK_PROPS, synthesizeStack } from '#local/synth';
import { stackSettings, stackTemplate, synthesize } from '#local/runtime/local-stack';
import { defaultStack, functionIdOf as functionIdIn } from '../helpers/default-stack.ts';
import type { AslDefinition } from '#local/services/step-functions/definition-from-template';

let template: Template;
let definition: AslDefinition;
beforeAll(() => {
  ({ template, definition } = defaultStack());
});
const functionIdOf = (handler: string) => functionIdIn(template, handler);

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
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 20 },
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
