/** Each prop of VideoGenIngest: its default, its effect, and a clear error for a bad value. */
import { type CfnElement, Duration, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { testApp } from '../helpers/cdk-app.ts';
import { VideoGenIngest, type VideoGenIngestProps } from '../../lib/videogen-ingest.ts';
import { KEY_ARN } from '../helpers/default-stack.ts';

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
