/**
 * A user's own CDK app, run locally (`--app`): the documented example app with two
 * `NodejsFunction` subscribers run through the CLI over 20 files; a subscriber that throws
 * on one record (bisected, retried, its pointer in the on-failure queue, every other record
 * delivered once and in order); a subscriber whose role lacks the queue send.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from '#local/media';
import { ingestRecordSchema } from '#shared/ingest/record';
import { loadApp } from '#local/runtime/cloud-assembly';
import { LocalRuntime, LOCAL_CREDENTIALS } from '#local/runtime/runtime';
import type { OnFailureRecord } from '#local/services/dynamodb/stream-event-source-mapping';
import { cli, collected, withStart } from '../helpers/cli.ts';
import { documentedExampleApp, writeApp, type ExampleApp } from '../helpers/example-app.ts';

const MEDIA_APP = path.resolve(import.meta.dirname, '../../examples/media-app');
const LIFECYCLE = ['RECEIVED', 'CREATED', 'UPLOADING', 'UPLOADED', 'READY', 'ANALYZED'];
const FAST = ['--processing-ms', '100', '--analysis-ms', '50', '--retry-ms', '20'];
let files: string;
const apps: ExampleApp[] = [];

beforeAll(async () => {
  files = await mkdtemp(path.join(tmpdir(), 'videogen-app-files-'));
  for (let n = 0; n < 20; n += 1) await writeFile(path.join(files, `photo-${n}.png`), png(n + 2, n + 2));
});
afterAll(async () => {
  await rm(files, { recursive: true, force: true });
  for (const app of apps.splice(0)) await app.remove();
});

/** The lines a subscriber wrote, as the runtime attributes them: `[Label] line`. */
function linesOf(stderr: string, label: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith(`[${label}] `))
    .map((line) => line.slice(label.length + 3));
}

describe('the documented example app, run with run --app', () => {
  it('delivers one record per file entering READY to one subscriber, every status change to the other', async () => {
    const readme = await documentedExampleApp();
    expect(Object.keys(readme).sort()).toEqual([
      'bin/app.ts',
      'subscribers/announce.ts',
      'subscribers/audit.ts',
    ]);
    const app = await writeApp(readme);
    apps.push(app);
    const names = Array.from({ length: 20 }, (_, n) => `photo-${n}.png`);
    const { code, stdout, stderr } = await cli([
      'run',
      '--app',
      app.dir,
      '--json',
      '--deliveries',
      ...FAST,
      ...names.map((name) => path.join(files, name)),
    ]).exit();
    expect(code, stderr.slice(-3000)).toBe(0);
    const records = JSON.parse(stdout) as (Record<string, unknown> & {
      deliveries: { subscriber: string; status: string; outcome: string }[];
    })[];
    expect(records).toHaveLength(20);
    for (const record of records) {
      const parsed = ingestRecordSchema.parse(record);
      expect(parsed.status).toMatch(/READY|ANALYZED/);
    }

    // The READY subscriber: exactly one line per file, naming the file VideoGen made.
    const announced = linesOf(stderr, 'Announcer');
    expect(announced).toHaveLength(20);
    expect(new Set(announced)).toEqual(
      new Set(records.map((record) => `ready ${String(record.key)} ${String(record.fileId)}`)),
    );

    // The default subscriber: each file's status changes once each, in order, from the insert on.
    const audits = linesOf(stderr, 'Auditor');
    for (const record of records) {
      const changes = audits
        .filter((line) => line.startsWith(`audit ${String(record.key)} `))
        .map((line) => line.split(' ').slice(2).join(' '));
      const chain = changes.map((change) => change.split(' -> ') as [string, string]);
      expect(chain[0]?.[0], String(record.key)).toBe('-');
      for (let step = 1; step < chain.length; step += 1) {
        expect(chain[step]?.[0], `${String(record.key)}: ${changes.join(', ')}`).toBe(chain[step - 1]?.[1]);
      }
      expect(chain.at(-1)?.[1]).toBe(record.status);
      expect(new Set(chain.map(([, to]) => to)).size).toBe(chain.length);
      // run --json --deliveries says the same.
      expect(
        record.deliveries
          .filter((delivery) => delivery.subscriber === 'Auditor' && delivery.outcome === 'delivered')
          .map((delivery) => delivery.status),
      ).toEqual(chain.map(([, to]) => to));
      expect(record.deliveries.filter((delivery) => delivery.subscriber === 'Announcer')).toEqual([
        expect.objectContaining({
          status: expect.stringMatching(/^(READY|ANALYZED|ANALYSIS_FAILED)$/),
          outcome: 'delivered',
        }),
      ]);
    }
    expect(stderr).toMatch(/subscribers: Announcer 20 delivered · Auditor \d+ delivered\n/);
    expect(stderr).toMatch(/not run locally: .*deploy-time custom resources/);
  });
});

/** The example app with one subscriber of its own in place of the documented two. */
async function appWith(subscriber: {
  construct: string;
  handler: string;
  imports?: string;
}): Promise<ExampleApp> {
  const readme = await documentedExampleApp();
  const bin = (readme['bin/app.ts'] ?? '').replace(/\/\/ Told once per file[\s\S]*$/, subscriber.construct);
  const app = await writeApp({
    'bin/app.ts': `${subscriber.imports ?? ''}${bin}`,
    'subscribers/subscriber.ts': subscriber.handler,
  });
  apps.push(app);
  return app;
}

describe('a subscriber that throws on one record', () => {
  it('is bisected down to that record, retried, and its pointer sent to the on-failure queue; every other record is delivered once, in order', async () => {
    const app = await appWith({
      construct: `const fragile = new NodejsFunction(stack, 'Fragile', {
  entry: 'subscribers/subscriber.ts',
  runtime: Runtime.NODEJS_22_X,
});
ingest.addSubscriber(fragile, { retryAttempts: 2, batchSize: 100 });
`,
      handler: `import type { DynamoDBStreamEvent } from 'aws-lambda';
import { ingestChangeOf } from 'videogen-ingest/record';

export const handler = async (event: DynamoDBStreamEvent) => {
  const changes = event.Records.map((record) => ingestChangeOf(record));
  // The whole batch is checked before any of it is acted on.
  if (changes.some((change) => change?.current?.key === 'poison.png' && change.previous === undefined)) {
    throw new Error('cannot catalog poison.png');
  }
  for (const change of changes) console.log(\`delivered \${change?.current?.key} \${change?.current?.status}\`);
};
`,
    });
    const loaded = await loadApp(app.dir);
    const runtime = await LocalRuntime.start({
      app: loaded,
      retryPauseMs: 20,
      simulator: { processingMs: 100, analysisMs: 50 },
    });
    try {
      const keys = ['a.png', 'b.png', 'poison.png', 'c.png', 'd.png', 'e.png'];
      await Promise.all(keys.map((key, n) => runtime.drop(key, png(n + 2, n + 3))));
      await runtime.idle(120_000);
      const records = await runtime.records();
      expect(records.map((record) => record.status).every((status) => /READY|ANALYZED/.test(status))).toBe(
        true,
      );

      const deliveries = runtime.deliveries.filter((delivery) => delivery.subscriber === 'Fragile');
      const poisonInsert = deliveries.find(
        (delivery) =>
          delivery.key === 'poison.png' &&
          delivery.status === 'RECEIVED' &&
          delivery.outcome === 'sent-to-on-failure',
      );
      expect(poisonInsert).toBeDefined();
      // Bisected: batches holding the record failed, the last ones with that record alone (1 try + 2 retries).
      const failed = runtime.deliveries.filter((delivery) => delivery.outcome === 'failed');
      expect(failed.some((delivery) => delivery.key !== 'poison.png')).toBe(true);
      expect(
        failed.filter((delivery) => delivery.sequenceNumber === poisonInsert?.sequenceNumber).length,
      ).toBeGreaterThanOrEqual(3);
      // Every other record: delivered once, and each file's in the order of its changes.
      const delivered = deliveries.filter((delivery) => delivery.outcome === 'delivered');
      const seen = delivered.map((delivery) => delivery.sequenceNumber);
      expect(new Set(seen).size).toBe(seen.length);
      for (const key of keys) {
        const statuses = delivered
          .filter((delivery) => delivery.key === key)
          .map((delivery) => delivery.status);
        // In lifecycle order (each status once), ending where the record ended.
        const positions = statuses.map((status) => LIFECYCLE.indexOf(status ?? ''));
        expect(positions, `${key}: ${statuses.join(', ')}`).toEqual(
          [...new Set(positions)].sort((a, b) => a - b),
        );
        expect(statuses.at(-1), key).toBe(records.find((record) => record.key === key)?.status);
        const sequences = delivered
          .filter((delivery) => delivery.key === key)
          .map((delivery) => BigInt(delivery.sequenceNumber));
        expect(sequences, key).toEqual([...sequences].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      }
      expect(delivered.some((delivery) => delivery.key === 'poison.png')).toBe(true);

      // The on-failure queue holds the documented invocation record, a pointer to read back.
      const subscriber = runtime.subscribers[0];
      const messages = subscriber?.onFailureQueue?.receive(10) ?? [];
      expect(messages).toHaveLength(1);
      const pointer = JSON.parse(messages[0]?.message.body ?? '{}') as OnFailureRecord;
      expect(pointer).toMatchObject({
        requestContext: {
          condition: 'RetryAttemptsExhausted',
          functionArn: subscriber?.function.functionArn,
        },
        DDBStreamBatchInfo: {
          startSequenceNumber: poisonInsert?.sequenceNumber,
          endSequenceNumber: poisonInsert?.sequenceNumber,
          batchSize: 1,
          shardId: subscriber?.mapping.shardId,
        },
      });
      const streams = new DynamoDBStreamsClient({
        endpoint: runtime.dynamoEndpoint,
        region: 'us-east-1',
        credentials: LOCAL_CREDENTIALS,
      });
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: pointer.DDBStreamBatchInfo.streamArn,
          ShardId: pointer.DDBStreamBatchInfo.shardId,
          ShardIteratorType: 'AT_SEQUENCE_NUMBER',
          SequenceNumber: pointer.DDBStreamBatchInfo.startSequenceNumber,
        }),
      );
      const { Records } = await streams.send(new GetRecordsCommand({ ShardIterator, Limit: 1 }));
      expect(Records?.[0]?.dynamodb?.NewImage?.key).toEqual({ S: 'poison.png' });
      streams.destroy();
    } finally {
      await runtime.stop();
      await loaded.dispose();
    }
  });
});

describe('a subscriber whose role may not send to its on-failure queue', () => {
  it('stops the start as CreateEventSourceMapping refuses it on AWS', async () => {
    const app = await appWith({
      imports: `import { ManagedPolicy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Code, Function } from 'aws-cdk-lib/aws-lambda';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
`,
      construct: `// A role managed elsewhere: it reads the stream, and the construct cannot add to it.
const role = new Role(stack, 'NarrowRole', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
role.addManagedPolicy(ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'));
role.addToPolicy(new PolicyStatement({
  actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
  resources: ['*'],
}));
const narrow = new NodejsFunction(stack, 'Narrow', {
  entry: 'subscribers/subscriber.ts',
  runtime: Runtime.NODEJS_22_X,
  role: role.withoutPolicyUpdates(),
});
ingest.addSubscriber(narrow);
// Outside the model, named at start: a Python subscriber, and a table of the app's own.
ingest.addSubscriber(
  new Function(stack, 'PythonAuditor', {
    runtime: Runtime.PYTHON_3_12,
    handler: 'index.handler',
    code: Code.fromInline('def handler(event, context):\\n    return None'),
  }),
);
new Table(stack, 'Catalog', { partitionKey: { name: 'id', type: AttributeType.STRING } });
`,
      handler: `export const handler = async () => undefined;\n`,
    });
    const { code, stderr } = await cli([
      'run',
      '--app',
      app.dir,
      ...FAST,
      path.join(files, 'photo-0.png'),
    ]).exit();
    expect(code).toBe(1);
    expect(stderr).toContain(
      'InvalidParameterValueException: The provided execution role does not have permissions to call SendMessage on SQS',
    );
    expect(stderr).toMatch(/is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:/);
    expect(stderr).toContain(
      'not run locally: function PythonAuditor: python3.12: only Node.js functions run locally',
    );
    expect(stderr).toContain(
      'not emulated: AWS::DynamoDB::Table (no local emulator serves it; calls to it fail)',
    );
  });
});

describe('start --app, and show KEY', () => {
  it("shows a file's status changes reaching each subscriber, as they happened", async () => {
    await withStart(
      () => ['--app', MEDIA_APP, ...FAST],
      async (started, home) => {
        await writeFile(path.join(home, 'drop', 'poster.png'), png(9, 4));
        await expect
          .poll(() => started.output().stderr, { timeout: 60_000 })
          .toMatch(/\[Announcer\] ready poster\.png vg_file_/);
        // The last change (ANALYZED) may reach the auditor a poll later than the announcer's.
        await expect
          .poll(async () => (await cli(['show', 'poster.png'], {}, home).exit()).stdout, { timeout: 30_000 })
          .toMatch(/Auditor {2}ANALYZED {2}delivered/);
        const shown = await cli(['show', 'poster.png', '--json'], {}, home).exit();
        const { deliveries } = JSON.parse(shown.stdout) as {
          deliveries: {
            subscriber: string;
            status: string;
            outcome: string;
            at: string;
            writtenAt: string;
          }[];
        };
        expect(
          deliveries
            .filter((delivery) => delivery.subscriber === 'Auditor')
            .map((delivery) => delivery.status),
        ).toEqual(
          LIFECYCLE.filter((status) =>
            deliveries.some((delivery) => delivery.status === status && delivery.subscriber === 'Auditor'),
          ),
        );
        expect(deliveries.filter((delivery) => delivery.subscriber === 'Announcer')).toHaveLength(1);
        for (const delivery of deliveries)
          expect(Date.parse(delivery.at)).toBeGreaterThanOrEqual(Date.parse(delivery.writtenAt));
      },
    );
  });
});

describe('examples/stream-consumer, run locally', () => {
  it('announces each file that becomes ready to the catalog it starts, once', async () => {
    const { code, stdout, stderr } = await collected(
      spawn(process.execPath, ['--import', 'tsx', 'examples/stream-consumer/run.ts'], {
        cwd: path.resolve(import.meta.dirname, '../..'),
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ).exit();
    expect(code, stderr.slice(-2000)).toBe(0);
    const announcements = stdout.split('\n').filter((line) => line.startsWith('catalog: '));
    expect(announcements.map((line) => line.split(' ')[1]?.split('/').pop()).sort()).toEqual([
      'logo.png',
      'poster.png',
      'teaser.mp4',
    ]);
    expect(stdout).toContain('3 announcements for 3 files');
  });
});

describe('--app at the command line', () => {
  it('refuses a folder that is neither an app nor a cloud assembly, and the stack-setting flags, exit 2', async () => {
    const empty = await mkdtemp(path.join(tmpdir(), 'videogen-not-an-app-'));
    try {
      const notApp = await cli(['run', '--app', empty, path.join(files, 'photo-0.png')]).exit();
      expect(notApp.code).toBe(2);
      expect(notApp.stderr).toContain('is neither');
      const flags = await cli([
        'run',
        '--app',
        empty,
        '--max-wait',
        '30',
        path.join(files, 'photo-0.png'),
      ]).exit();
      expect(flags.code).toBe(2);
      expect(flags.stderr).toContain("with --app, your app's VideoGenIngest props set them");
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('runs a cloud assembly (cdk.out) as it is', async () => {
    const loaded = await loadApp(MEDIA_APP);
    try {
      const assembly = await loadApp(loaded.assemblyDir);
      expect(assembly.stackName).toBe('MediaStack');
      expect(JSON.stringify(assembly.template)).toBe(JSON.stringify(loaded.template));
      expect(await readFile(path.join(loaded.assemblyDir, 'manifest.json'), 'utf8')).toContain('MediaStack');
    } finally {
      await loaded.dispose();
    }
  });
});
