/**
 * DynamoDB on loopback: dynalite, behind a thin front that adds what the ingest code needs
 * and dynalite lacks: `TransactWriteItems`, and streams (`dynamodb-streams.ts`: the records
 * of every write to a table created with a `StreamSpecification`, and the Streams API).
 *
 * Written by hand because no maintained JavaScript emulator implements transactions or
 * streams (DynamoDB Local needs a Java download from outside the npm registry); the
 * transactions are `dynamodb-transactions.ts`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeySchemaElement, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { sendJsonAnswer } from '../../http/json-gate.ts';
import { DynaliteCalls } from './dynalite-calls.ts';
import { rememberExpressionParses } from './expression-parses.ts';
import {
  asksForItemOnFailure,
  StreamCapture,
  withBody,
  type FrontAnswer,
} from './dynamodb-stream-capture.ts';
import { errorBody, TransactionLock, Transactions } from './dynamodb-transactions.ts';
import type { Item } from './dynamodb-items.ts';
import { LocalStreams, StreamsApiError, type StreamViewType } from './dynamodb-streams.ts';

/** The region and account the emulator's ARNs name (the local runtime's, `cfn.ts`). */
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const STREAMS_TARGET_PREFIX = 'DynamoDBStreams_20120810.';

export interface LocalDynamoDB {
  /** `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_DYNAMODB` or a client's `endpoint`. */
  readonly endpoint: string;
  /** The emulator's process, when it runs in one of its own (benchmarks read its memory). */
  readonly pid?: number;
  /**
   * One call as the endpoint answers it (`target`: the `X-Amz-Target` header), without HTTP:
   * what the runtime's IAM gate forwards each function's call through.
   */
  call(target: string, body: Buffer): Promise<FrontAnswer>;
  close(): Promise<void>;
}

/**
 * The emulator counts requests by operation, and `GetItem`s read eventually consistent also
 * as `EVENTUAL_GET`; `POST /_local/stats` answers them (benchmarks read it).
 */
export type OperationCounts = Record<string, number>;
export const EVENTUAL_GET = 'GetItem.eventuallyConsistent';

export async function readOperationCounts(endpoint: string): Promise<OperationCounts> {
  const response = await fetch(`${endpoint}/_local/stats`, { method: 'POST' });
  return (await response.json()) as OperationCounts;
}

type Json = Record<string, unknown>;

async function listen(server: http.Server, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export async function startDynamoDB(
  options: {
    port?: number;
    /** Keep the tables in this folder (LevelDB) instead of memory. */ directory?: string;
  } = {},
): Promise<LocalDynamoDB> {
  rememberExpressionParses();
  const backend = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.directory ? { path: options.directory } : {}),
  });
  // Listening only so that its close closes the tables as dynalite does it; calls go to its handler in-process.
  await listen(backend, 0);
  const direct = new DynaliteCalls(backend);
  const lock = new TransactionLock();
  const streams = new LocalStreams({
    region: REGION,
    account: ACCOUNT,
    ...(options.directory ? { directory: options.directory } : {}),
  });
  const capture = new StreamCapture(direct, streams);

  const transactions = new Transactions(direct, capture);
  const counts: OperationCounts = {};

  /** To dynalite as it came, its whole answer kept for the front to read or amend. */
  function forwardBuffered(operation: string, body: Buffer | string): Promise<FrontAnswer> {
    return direct.call(operation, body).catch(internalError);
  }

  function internalError(error: unknown): FrontAnswer {
    return {
      status: 500,
      body: JSON.stringify(
        errorBody('InternalServerError', error instanceof Error ? error.message : String(error)),
      ),
    };
  }

  /** A table description with its stream, as DynamoDB describes a table that has one. */
  function withStream(answer: FrontAnswer, field: 'Table' | 'TableDescription'): FrontAnswer {
    if (answer.status !== 200) return answer;
    const parsed = JSON.parse(answer.body.toString()) as Record<string, Json | undefined>;
    const table = parsed[field];
    const stream = typeof table?.TableName === 'string' ? streams.of(table.TableName) : undefined;
    if (!table || !stream) return answer;
    Object.assign(table, {
      StreamSpecification: { StreamEnabled: true, StreamViewType: stream.viewType },
      LatestStreamArn: stream.arn,
      LatestStreamLabel: stream.label,
    });
    return withBody(answer, JSON.stringify(parsed));
  }

  /** The operations the front changes or adds; everything else goes to dynalite as it came. */
  async function dispatch(operation: string, raw: Buffer): Promise<FrontAnswer | undefined> {
    let body: Json;
    try {
      body = JSON.parse(raw.toString('utf8')) as Json;
    } catch {
      return undefined; // dynalite answers malformed requests itself
    }
    switch (operation) {
      case 'CreateTable': {
        const { StreamSpecification: spec, ...rest } = body as Json & {
          StreamSpecification?: { StreamEnabled?: boolean; StreamViewType?: StreamViewType };
        };
        const answer = await forwardBuffered(operation, JSON.stringify(rest));
        if (answer.status === 200 && spec?.StreamEnabled && spec.StreamViewType) {
          streams.enable(String(body.TableName), spec.StreamViewType, body.KeySchema as KeySchemaElement[]);
        }
        return withStream(answer, 'TableDescription');
      }
      case 'DescribeTable':
        return withStream(await forwardBuffered(operation, raw), 'Table');
      case 'UpdateTable': {
        const { StreamSpecification: spec, ...rest } = body as Json & {
          StreamSpecification?: { StreamEnabled?: boolean; StreamViewType?: StreamViewType };
        };
        if (!spec) return undefined;
        const tableName = String(body.TableName);
        const described = await forwardBuffered(operation, JSON.stringify({ TableName: tableName }));
        if (described.status !== 200) return described;
        const { Table: table } = JSON.parse(described.body.toString()) as {
          Table: { KeySchema: KeySchemaElement[] };
        };
        if (spec.StreamEnabled && spec.StreamViewType)
          streams.enable(tableName, spec.StreamViewType, table.KeySchema);
        else if (spec.StreamEnabled === false) streams.disable(tableName);
        // Anything else the update asks for is dynalite's; the stream alone needs no call to it.
        const answer =
          Object.keys(rest).length > 1 ? await forwardBuffered(operation, JSON.stringify(rest)) : undefined;
        if (answer && answer.status !== 200) return answer;
        return withStream(
          answer ?? { status: 200, body: JSON.stringify({ TableDescription: table }) },
          'TableDescription',
        );
      }
      case 'DeleteTable': {
        const answer = await forwardBuffered(operation, raw);
        if (answer.status === 200) streams.disable(String(body.TableName));
        return answer;
      }
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem': {
        const tableName = body.TableName;
        const streamed = capture.streamed(tableName);
        if (!streamed && !asksForItemOnFailure(body)) return undefined;
        if (typeof tableName !== 'string') return undefined; // dynalite answers the malformed request
        const key = await capture.keyOf(tableName, (operation === 'PutItem' ? body.Item : body.Key) as Item);
        return (
          streamed
            ? capture.writeItem(tableName, key, operation, body, raw)
            : capture.writeUnstreamed(tableName, key, operation, body, raw)
        ).catch(internalError);
      }
      case 'BatchWriteItem': {
        const tables = Object.keys(body.RequestItems ?? {});
        if (!tables.some((table) => capture.streamed(table))) return undefined;
        return capture
          .batchWrite(body as Parameters<StreamCapture['batchWrite']>[0])
          .catch((error: unknown) => ({
            status: 400,
            body: JSON.stringify(
              errorBody(
                error instanceof Error ? error.name : 'ValidationException',
                error instanceof Error ? error.message : String(error),
              ),
            ),
          }));
      }
      case 'GetItem':
        // Billed at half the read units of a consistent one: the cost model counts them apart.
        if (body.ConsistentRead !== true) counts[EVENTUAL_GET] = (counts[EVENTUAL_GET] ?? 0) + 1;
        return undefined;
      default:
        return undefined;
    }
  }

  function streamsAnswer(operation: string, raw: Buffer): FrontAnswer {
    try {
      return {
        status: 200,
        body: streams.handle(operation, raw.length ? (JSON.parse(raw.toString('utf8')) as Json) : {}),
      };
    } catch (error) {
      if (error instanceof StreamsApiError) {
        return {
          status: 400,
          body: JSON.stringify({
            __type: `com.amazonaws.dynamodb.v20120810#${error.type}`,
            message: error.message,
          }),
        };
      }
      return internalError(error);
    }
  }

  /** One call, by its `X-Amz-Target`: the front's answer, as the HTTP endpoint sends it. */
  function answer(target: string, body: Buffer): Promise<FrontAnswer> {
    const operation = target.split('.').pop() ?? 'unknown';
    counts[operation] = (counts[operation] ?? 0) + 1;
    if (target.startsWith(STREAMS_TARGET_PREFIX)) return Promise.resolve(streamsAnswer(operation, body));
    if (!target.endsWith('.TransactWriteItems')) {
      return lock.shared(async () => {
        const answer = await dispatch(operation, body).catch(internalError);
        return answer ?? (await forwardBuffered(operation, body));
      });
    }
    return lock.exclusive(async () => {
      let result: { status: number; body: Json };
      try {
        result = await transactions.write(
          JSON.parse(body.toString('utf8')) as { TransactItems?: TransactWriteItem[] },
        );
      } catch (error) {
        result = {
          status: 500,
          body: errorBody('InternalServerError', error instanceof Error ? error.message : String(error)),
        };
      }
      return { status: result.status, body: JSON.stringify(result.body) };
    });
  }

  const front = http.createServer((request, response) => {
    if (request.url === '/_local/stats') {
      request.resume();
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(counts));
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void answer(String(request.headers['x-amz-target'] ?? ''), Buffer.concat(chunks)).then((answered) =>
        sendJsonAnswer(response, answered),
      );
    });
  });
  const port = await listen(front, options.port ?? 0);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    call: answer,
    close: async () => {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await new Promise<void>((resolve) => backend.close(() => resolve()));
      streams.close();
    },
  };
}
