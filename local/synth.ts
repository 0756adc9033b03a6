/**
 * The deployable stack synthesized in-process, without bundling the Lambdas (the local
 * runtime and the tests run the handlers' source directly). The local runtime takes the
 * table and the workflow from this template, so it runs what `cdk deploy` would deploy.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VideoGenIngestStack, type VideoGenIngestStackProps } from '../lib/videogen-ingest-stack.ts';

export const LOCAL_STACK_PROPS: VideoGenIngestStackProps = { apiKeySecretName: 'videogen/api-key' };

/** The feature flags of `cdk.json`, so the template here is the one `cdk synth` makes. */
function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export function synthesizeStack(props: VideoGenIngestStackProps = LOCAL_STACK_PROPS): {
  stack: VideoGenIngestStack;
  template: Template;
} {
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const stack = new VideoGenIngestStack(app, 'VideoGenIngest', props);
  return { stack, template: Template.fromStack(stack) };
}
