import { App, Stack } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { VideoGenIngest } from 'videogen-ingest';

const app = new App();
const stack = new Stack(app, 'MediaStack');
const ingest = new VideoGenIngest(stack, 'Ingest', {
  apiKeySecret: Secret.fromSecretNameV2(stack, 'ApiKey', 'videogen/api-key'),
});
// Told once per file, when it becomes READY.
const announcer = new NodejsFunction(stack, 'Announcer', {
  entry: 'subscribers/announce.ts',
  runtime: Runtime.NODEJS_22_X,
});
ingest.addSubscriber(announcer, { statuses: ['READY'] });
// Told every status change.
const auditor = new NodejsFunction(stack, 'Auditor', {
  entry: 'subscribers/audit.ts',
  runtime: Runtime.NODEJS_22_X,
});
ingest.addSubscriber(auditor);
