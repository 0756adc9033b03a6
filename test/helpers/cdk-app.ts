import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Stack, type AppProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { VideoGenIngest, type SubscriberOptions } from '../../lib/videogen-ingest.ts';
import { afterAll } from 'vitest';
import { cdkJsonContext } from '#local/synth';

const outdirs: string[] = [];
afterAll(() => {
  for (const outdir of outdirs.splice(0)) rmSync(outdir, { recursive: true, force: true });
});

/**
 * A CDK app whose synth output goes to a temp folder removed after the test file (an App
 * without an outdir leaves a cdk.out folder in the temp dir on every synth), with cdk.json's
 * feature flags. No bundling.
 */
export function testApp(props: AppProps = {}): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'videogen-test-cdk-'));
  outdirs.push(outdir);
  return new App({
    ...props,
    outdir,
    // The feature flags cdk synth applies, so the templates tested are the ones deployed.
    context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...props.context },
  });
}

/** A stack with one VideoGenIngest and one subscriber (`addSubscriber(consumer, options)`). */
export function stackWithSubscriber(options?: SubscriberOptions): {
  template: Template;
  ingest: VideoGenIngest;
} {
  const stack = new Stack(testApp(), 'Subscribed');
  const ingest = new VideoGenIngest(stack, 'Ingest', {
    apiKeySecret: Secret.fromSecretNameV2(stack, 'Key', 'k'),
  });
  const consumer = new LambdaFunction(stack, 'Consumer', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('export const handler = async () => ({ batchItemFailures: [] });'),
  });
  ingest.addSubscriber(consumer, options);
  return { template: Template.fromStack(stack), ingest };
}
