/**
 * `npm run bench:stream`: what a downstream system waits for. Two parts, written to
 * `bench/results/stream.json` and `.md`:
 *
 * - subscribers: `examples/media-app` run locally (its two subscribers, each in its own
 *   Lambda environments) over N files dropped at once; per subscriber, the delay from a
 *   change's write (`updatedAt`) to the invocation that delivered it, p50/p95, and records
 *   delivered a second.
 * - stream: the DynamoDB emulator's stream and one mapping alone (no Lambda, the
 *   invocation answers at once): M items written by 16 writers, delay from each write's
 *   answer to its invocation, and records a second. The floor under the first part.
 *
 *   npm run bench:stream [-- --files 100 --items 5000]
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { startDynamoDBProcess } from '../local/services/dynamodb/dynamodb-process.ts';
import { png } from '../local/media.ts';
import { loadApp } from '../local/runtime/cloud-assembly.ts';
import { LocalRuntime, LOCAL_CREDENTIALS } from '../local/runtime/runtime.ts';
import { StreamEventSourceMapping } from '../local/services/dynamodb/stream-event-source-mapping.ts';
import { streamReader } from '../local/services/dynamodb/stream-mappings.ts';
import { percentile, round } from './stats.ts';

const RESULTS_JSON = 'bench/results/stream.json';
const RESULTS_MD = 'bench/results/stream.md';
const MEDIA_APP = path.resolve(import.meta.dirname, '../examples/media-app');

interface Delays {
  readonly records: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
  readonly recordsPerSecond: number;
}

function delays(pairs: readonly { writtenAt: number; invokedAt: number }[], spanMs: number): Delays {
  const values = pairs.map((pair) => pair.invokedAt - pair.writtenAt);
  return {
    records: values.length,
    p50Ms: Math.round(percentile(values, 50)),
    p95Ms: Math.round(percentile(values, 95)),
    maxMs: Math.round(Math.max(...values)),
    recordsPerSecond: round(values.length / (spanMs / 1000), 1),
  };
}

async function measureSubscribers(files: number): Promise<Record<string, Delays>> {
  const app = await loadApp(MEDIA_APP, { log: (line) => console.error(line) });
  const runtime = await LocalRuntime.start({
    app,
    simulator: { processingMs: 200, analysisMs: 100 },
    onFunctionOutput: () => undefined,
  });
  try {
    const started = Date.now();
    await Promise.all(Array.from({ length: files }, (_, n) => runtime.drop(`bench/${n}.png`, png(n + 2, 3))));
    await runtime.idle(600_000);
    const spanMs = Date.now() - started;
    const result: Record<string, Delays> = {};
    for (const subscriber of runtime.subscribers) {
      const label = subscriber.function.label;
      const pairs = runtime.deliveries
        .filter(
          (delivery) =>
            delivery.subscriber === label && delivery.outcome === 'delivered' && delivery.writtenAt,
        )
        .map((delivery) => ({
          writtenAt: Date.parse(delivery.writtenAt ?? ''),
          invokedAt: Date.parse(delivery.at),
        }));
      result[label] = delays(pairs, spanMs);
    }
    return result;
  } finally {
    await runtime.stop();
    await app.dispose();
  }
}

async function measureStream(items: number): Promise<Delays> {
  const dynamo = await startDynamoDBProcess();
  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  const streams = new DynamoDBStreamsClient({
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    const { TableDescription } = await client.send(
      new CreateTableCommand({
        TableName: 'bench',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const streamArn = TableDescription?.LatestStreamArn ?? '';
    const written = new Map<string, number>();
    const pairs: { writtenAt: number; invokedAt: number }[] = [];
    const mapping = new StreamEventSourceMapping({
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench',
      streamArn,
      reader: streamReader(streams, streamArn),
      batchSize: 100,
      startingPosition: 'TRIM_HORIZON',
      invoke: (event) => {
        const invokedAt = Date.now();
        for (const record of event.Records) {
          const pk = record.dynamodb?.Keys?.pk?.S ?? '';
          pairs.push({ writtenAt: written.get(pk) ?? invokedAt, invokedAt });
        }
        return Promise.resolve();
      },
    });
    await mapping.start();
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let n = next++; n < items; n = next++) {
          await client.send(
            new PutItemCommand({ TableName: 'bench', Item: { pk: { S: `item-${n}` }, n: { N: String(n) } } }),
          );
          written.set(`item-${n}`, Date.now());
        }
      }),
    );
    await mapping.idle(120_000);
    mapping.close();
    return delays(pairs, Date.now() - started);
  } finally {
    client.destroy();
    streams.destroy();
    await dynamo.close();
  }
}

const { values } = parseArgs({
  options: { files: { type: 'string', default: '100' }, items: { type: 'string', default: '5000' } },
});
const files = Number(values.files);
const items = Number(values.items);
const subscribers = await measureSubscribers(files);
const stream = await measureStream(items);
const results = {
  machine: { cpus: availableParallelism(), node: process.version, measuredAt: new Date().toISOString() },
  subscribers: { files, ...subscribers },
  stream: { items, ...stream },
};
writeFileSync(RESULTS_JSON, `${JSON.stringify(results, null, 2)}\n`);
const row = (name: string, figures: Delays) =>
  `| ${name} | ${figures.records} | ${figures.p50Ms} | ${figures.p95Ms} | ${figures.maxMs} | ${figures.recordsPerSecond} |`;
writeFileSync(
  RESULTS_MD,
  [
    '# Stream delivery',
    '',
    `Measured ${results.machine.measuredAt} on ${results.machine.cpus} cores, Node ${results.machine.node} (\`npm run bench:stream\`).`,
    '',
    "Delay: from a change written to the invocation that delivered it. Lambda polls a stream shard four times a second, so about 125 ms of the median is the poll itself, as on AWS. Records a second: delivered over the whole run; for the subscribers that is the pipeline's own pace (every file dropped at once, 2 cores shared with it), for the stream alone it is what the emulator and one mapping carry.",
    '',
    '| what | records | p50 ms | p95 ms | max ms | records/s |',
    '| --- | --- | --- | --- | --- | --- |',
    ...Object.entries(subscribers).map(([label, figures]) =>
      row(`subscriber ${label} (${files} files, examples/media-app)`, figures),
    ),
    row(`stream and mapping alone (${items} items, 16 writers, no Lambda)`, stream),
    '',
  ].join('\n'),
);
console.log(JSON.stringify(results, null, 2));
