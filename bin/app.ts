#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { stackPropsFromContext } from '../lib/app-config.ts';
import { VideoGenIngestStack } from '../lib/videogen-ingest-stack.ts';

const app = new App();
const props = stackPropsFromContext((key) => app.node.tryGetContext(key));
new VideoGenIngestStack(app, props.stackName, {
  ...props,
  env: {
    ...(process.env.CDK_DEFAULT_ACCOUNT ? { account: process.env.CDK_DEFAULT_ACCOUNT } : {}),
    ...(process.env.CDK_DEFAULT_REGION ? { region: process.env.CDK_DEFAULT_REGION } : {}),
  },
});
