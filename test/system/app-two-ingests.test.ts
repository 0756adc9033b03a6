/**
 * A user's app whose stack holds two `VideoGenIngest`s (a library and an archive, each with
 * its own subscriber), run locally: each ingest runs as deployed, with its own bucket,
 * table, workflow, queues and webhook, and its subscribers see its records only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '#local/media';
import { loadApp, type AppStack } from '#local/runtime/cloud-assembly';
import { LocalRuntime } from '#local/runtime/runtime';
import { cli } from '../helpers/cli.ts';
import { closedPort } from '../helpers/net.ts';
import { writeApp, type ExampleApp } from '../helpers/example-app.ts';

const SUBSCRIBER = `import type { DynamoDBStreamEvent } from 'aws-lambda';
import { ingestChangeOf } from 'videogen-ingest/record';

export const handler = async (event: DynamoDBStreamEvent) => {
  for (const record of event.Records) {
    const file = ingestChangeOf(record)?.current;
    if (file) console.log(\`ready \${file.key}\`);
  }
};
`;

const BIN = `import { App, Stack } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { VideoGenIngest } from 'videogen-ingest';

const app = new App();
const stack = new Stack(app, 'TwoIngests');
const apiKeySecret = Secret.fromSecretNameV2(stack, 'ApiKey', 'videogen/api-key');
const library = new VideoGenIngest(stack, 'Library', { apiKeySecret });
const archive = new VideoGenIngest(stack, 'Archive', { apiKeySecret, keySuffixes: ['.png'] });
for (const [ingest, id] of [[library, 'Librarian'], [archive, 'Archivist']] as const) {
  const subscriber = new NodejsFunction(stack, id, { entry: 'subscribers/ready.ts', runtime: Runtime.NODEJS_22_X });
  ingest.addSubscriber(subscriber, { statuses: ['READY'] });
}
`;

let app: ExampleApp;
let loaded: AppStack;
beforeAll(async () => {
  app = await writeApp({ 'bin/app.ts': BIN, 'subscribers/ready.ts': SUBSCRIBER });
  loaded = await loadApp(app.dir);
}, 120_000);
afterAll(async () => {
  await loaded.dispose();
  await app.remove();
});

describe('an app with two VideoGenIngests in one stack, run locally', () => {
  it('runs each with its own bucket, table, workflow and webhook; each subscriber sees its own ingest only', async () => {
    const runtime = await LocalRuntime.start({
      app: loaded,
      retryPauseMs: 20,
      simulator: { processingMs: 100, analysisMs: 50 },
    });
    try {
      // The first in the app is the primary one; the other's names carry its construct id.
      const [library, archive] = runtime.ingests;
      if (!archive || !library) throw new Error(`expected two ingests, got ${runtime.ingests.length}`);
      expect([library.id, archive.id]).toEqual(['Library', 'Archive']);
      expect(archive.tableName).toBe(`${library.tableName}-archive`);
      expect(new Set([archive.bucket, library.bucket]).size).toBe(2);
      expect(new Set([archive.tableName, library.tableName]).size).toBe(2);
      expect(new Set([archive.stateMachineArn, library.stateMachineArn]).size).toBe(2);
      expect(new Set([archive.webhookUrl, library.webhookUrl]).size).toBe(2);

      const toLibrary = ['shelf/one.png', 'shelf/two.png', 'shelf/three.png'];
      const toArchive = ['old/a.png', 'old/b.png'];
      await Promise.all([
        ...toLibrary.map((key, n) => runtime.drop(key, png(n + 2, 3), { bucket: library.bucket })),
        ...toArchive.map((key, n) => runtime.drop(key, png(3, n + 2), { bucket: archive.bucket })),
        // The archive takes .png only (its keySuffixes): this one never becomes a record there.
        runtime.drop('old/notes.txt', 'text', { bucket: archive.bucket }),
      ]);
      await runtime.idle(120_000);

      const keysOf = async (tableName: string) =>
        (await runtime.records(tableName)).map((record) => `${record.key} ${record.status}`).sort();
      expect(await keysOf(library.tableName)).toEqual(
        [...toLibrary]
          .sort()
          .map((key) => expect.stringMatching(new RegExp(`^${key} (READY|ANALYZED)$`)) as unknown),
      );
      expect(await keysOf(archive.tableName)).toEqual(
        [...toArchive]
          .sort()
          .map((key) => expect.stringMatching(new RegExp(`^${key} (READY|ANALYZED)$`)) as unknown),
      );
      // Each file's readiness came by its own ingest's webhook: both endpoints are registered.
      const endpoints = runtime.simulator?.endpoints().filter((endpoint) => !endpoint.deleted) ?? [];
      expect(endpoints.map((endpoint) => endpoint.url).sort()).toEqual(
        [archive.webhookUrl, library.webhookUrl].sort(),
      );

      const delivered = (subscriber: string) =>
        runtime.deliveries
          .filter((delivery) => delivery.subscriber === subscriber && delivery.outcome === 'delivered')
          .map((delivery) => delivery.key)
          .sort();
      expect(delivered('Librarian')).toEqual([...toLibrary].sort());
      expect(delivered('Archivist')).toEqual([...toArchive].sort());
      // The handlers of the second ingest are named for it in logs and figures.
      expect(Object.keys(runtime.lambdas.invocations)).toEqual(
        expect.arrayContaining(['transfer', 'Archive/transfer']),
      );
    } finally {
      await runtime.stop();
    }
  });

  it('start --app names every ingest in its banner: the drop folder feeds the first, the others take aws s3 cp', async () => {
    const started = cli(['start', '--app', app.dir, '--s3-port', String(await closedPort())], {}, app.dir);
    try {
      await expect.poll(() => started.output().stdout, { timeout: 90_000 }).toContain('Copy files into');
      const { stdout, stderr } = started.output();
      expect(stdout).toMatch(
        /Also Archive: +bucket videogen-drop-\w+-archive \(aws s3 cp FILE s3:\/\/videogen-drop-\w+-archive\//,
      );
      expect(stderr).toContain(
        "2 VideoGenIngests in the stack (Library, Archive): each runs with its own bucket, table, workflow and webhook; the drop folder, run and the ops commands use Library's",
      );
    } finally {
      started.child.kill('SIGINT');
      await started.exit();
    }
  });
});
