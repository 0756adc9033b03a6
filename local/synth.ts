/**
 * The deployable stack synthesized in-process, without bundling the Lambdas (the local
 * runtime and the tests run the handlers' source directly). The local runtime takes the
 * table and the workflow from this template, so it runs what `cdk deploy` would deploy.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VideoGenIngestStack, type VideoGenIngestStackProps } from '../lib/videogen-ingest-stack.ts';

export const LOCAL_STACK_PROPS: VideoGenIngestStackProps = { apiKeySecretName: 'videogen/api-key' };

export function synthesizeStack(props: VideoGenIngestStackProps = LOCAL_STACK_PROPS): {
  stack: VideoGenIngestStack;
  template: Template;
} {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new VideoGenIngestStack(app, 'VideoGenIngest', props);
  return { stack, template: Template.fromStack(stack) };
}
