import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { testApp } from '../helpers/cdk-app.ts';
import { stackPropsFromContext } from '../../lib/app-config.ts';
import { VideoGenIngestStack } from '../../lib/videogen-ingest-stack.ts';
import { SAMPLE_LAMBDA_ENV } from '../fixtures/lambda-env.ts';
import { deployedBundles } from '#local/runtime/bundles';

const execFileAsync = promisify(execFile);

describe('CDK context of bin/app.ts', () => {
  it('defaults to a stack that needs only the API key secret', () => {
    expect(stackPropsFromContext(() => undefined)).toEqual({
      stackName: 'VideoGenIngest',
      apiKeySecretName: 'videogen/api-key',
      ingest: {},
    });
  });

  it('reads every option, as strings from -c key=value', () => {
    const context: Record<string, string> = {
      stackName: 'Media',
      apiKeySecretName: 'prod/videogen',
      videoGenApiUrl: 'https://api.example.com',
      existingBucketName: 'uploads',
      existingBucketKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      webhookSecretName: 'prod/hook',
      keyPrefix: 'in/',
      keySuffixes: '.mp4, .mov',
      readiness: 'playback',
      maxFileSizeMiB: '2048',
      maxConcurrentTransfers: '4',
      maxQueueWaitHours: '48',
      maxConcurrentWebhooks: '3',
      pollAfterSeconds: '120',
      maxWaitSeconds: '7200',
      removalPolicy: 'destroy',
      alarmEmail: 'ops@example.com',
    };
    expect(stackPropsFromContext((key) => context[key])).toEqual({
      stackName: 'Media',
      apiKeySecretName: 'prod/videogen',
      existingBucketName: 'uploads',
      existingBucketKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      webhookSecretName: 'prod/hook',
      alarmEmail: 'ops@example.com',
      ingest: {
        videoGenApiUrl: 'https://api.example.com',
        keyPrefix: 'in/',
        keySuffixes: ['.mp4', '.mov'],
        readiness: 'playback',
        maxFileSize: Size.mebibytes(2048),
        maxConcurrentTransfers: 4,
        maxQueueWait: Duration.minutes(2880),
        maxConcurrentWebhooks: 3,
        pollAfter: Duration.seconds(120),
        maxWait: Duration.seconds(7200),
        removalPolicy: RemovalPolicy.DESTROY,
      },
    });
  });

  it('subscribes the alarm e-mail to the alarm topic', () => {
    const app = testApp();
    const stack = new VideoGenIngestStack(app, 'Mail', {
      ...stackPropsFromContext((key) => ({ alarmEmail: 'ops@example.com' })[key]),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: Match.stringLikeRegexp('AlarmTopic') },
    });
  });

  it('names the bad key', () => {
    expect(() =>
      stackPropsFromContext((key) =>
        key === 'readiness' ? 'soon' : key === 'maxWaitSeconds' ? 'forever' : undefined,
      ),
    ).toThrow(/-c readiness: .*-c maxWaitSeconds/);
  });
});

describe('the functions’ bundles, as `cdk synth` makes them (the local runtime runs these)', () => {
  it('bundles every handler into one ESM file with the AWS SDK inside, offline and without credentials', async () => {
    // `npm ci` made them (the `prepare` script) with the synth `cdk synth` runs; cached by content.
    const bundles = Object.values(await deployedBundles());
    expect(bundles).toHaveLength(8);
    for (const bundle of bundles) {
      const code = readFileSync(bundle, 'utf8');
      expect(code).not.toMatch(/from\s*"@aws-sdk\//);
      // The Lambda-only credential chain replaced the default one (and its SSO/STS clients).
      expect(code).not.toContain('defaultProvider::fromSSO');
      expect(code).not.toContain('AssumeRoleWithWebIdentity');
      expect(existsSync(`${bundle}.map`)).toBe(true);
      expect(statSync(bundle).size).toBeGreaterThan(1000);
    }
    // Each bundle starts on plain Node 22, as Lambda starts it: its module init runs and exports `handler`.
    const loaded = await Promise.all(
      bundles.map((bundle) =>
        execFileAsync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`,
          ],
          { env: { ...SAMPLE_LAMBDA_ENV, PATH: process.env.PATH }, encoding: 'utf8' },
        ),
      ),
    );
    for (const [index, { stdout, stderr }] of loaded.entries()) {
      expect(stderr, bundles[index]).toBe('');
      expect(stdout.trim(), bundles[index]).toBe('function');
    }
  }, 120_000);
});
