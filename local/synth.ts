/**
 * The deployable stack synthesized in-process. Without `bundleInto`, the Lambdas are not
 * bundled (fast, for tests of the template); with it, they are bundled into that folder as
 * `cdk synth` does (for the local runtime's function environments). The local runtime
 * takes the table and the workflow from this template, so it runs what `cdk deploy` would deploy.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VideoGenIngestStack, type VideoGenIngestStackProps } from '../lib/videogen-ingest-stack.ts';

export const LOCAL_STACK_PROPS: VideoGenIngestStackProps = { apiKeySecretName: 'videogen/api-key' };

/** The feature flags of `cdk.json`, so the template here is the one `cdk synth` makes. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export function synthesizeStack(
  props: VideoGenIngestStackProps = LOCAL_STACK_PROPS,
  options: {
    readonly bundleInto?: string;
    /**
     * The CDK's built-in CloudFormation validation of the synthesized template (a WebAssembly
     * engine, ~3 s to load in a process, ~0.6 s a template). @default true
     */
    readonly validate?: boolean;
  } = {},
): {
  stack: VideoGenIngestStack;
  template: Template;
} {
  const context = options.bundleInto
    ? { ...cdkJsonContext(), 'aws:cdk:enable-asset-metadata': true }
    : { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] };
  // An App without an outdir leaves a cdk.out folder in the temp dir on every synth: this
  // one is removed as soon as the template is read (it is held in memory).
  const outdir = options.bundleInto ?? mkdtempSync(path.join(tmpdir(), 'videogen-synth-'));
  try {
    const app = new App({ context, outdir, builtinCloudFormationValidation: options.validate ?? true });
    const stack = new VideoGenIngestStack(app, 'VideoGenIngest', props);
    if (options.bundleInto) app.synth();
    return { stack, template: Template.fromStack(stack) };
  } finally {
    if (!options.bundleInto) rmSync(outdir, { recursive: true, force: true });
  }
}
