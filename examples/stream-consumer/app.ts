/**
 * The consumer deployed: a stack with a VideoGenIngest and this handler subscribed to the
 * files that become READY, announcing them to the catalog at `CATALOG_URL` (read when the
 * app is synthesized). `npm run example:stream-consumer` runs it locally (`run.ts`).
 */
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { VideoGenIngest } from 'videogen-ingest';

const catalogUrl = process.env.CATALOG_URL;
if (!catalogUrl) throw new Error('CATALOG_URL must name the catalog service to announce READY files to');

const app = new App();
const stack = new Stack(app, 'CatalogStack');
const ingest = new VideoGenIngest(stack, 'Ingest', {
  apiKeySecret: Secret.fromSecretNameV2(stack, 'ApiKey', 'videogen/api-key'),
});
const consumer = new NodejsFunction(stack, 'CatalogAnnouncer', {
  entry: path.join(import.meta.dirname, 'handler.ts'),
  runtime: Runtime.NODEJS_22_X,
  environment: { CATALOG_URL: catalogUrl },
});
ingest.addSubscriber(consumer, { statuses: ['READY'] });
