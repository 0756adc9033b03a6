/**
 * How writes to a table with a stream become its records: each write runs while no other
 * write to the same item does, its own answer carrying one image of the item and a consistent
 * read the other (both reads where the answer cannot), so its record carries the images it
 * made. A write that fails (a condition) yields none.
 * `BatchWriteItem` is its writes one by one: each item gets its record, as on DynamoDB.
 */
import { crc32 } from 'node:zlib';
import type { AttributeValue, KeySchemaElement, WriteRequest } from '@aws-sdk/client-dynamodb';
import type { DynaliteCalls } from './dynalite-calls.ts';
import type { Item } from './dynamodb-items.ts';
import type { LocalStreams } from './dynamodb-streams.ts';

/** An operation's answer as the front sends it. */
export interface FrontAnswer {
  readonly status: number;
  readonly headers?: Record<string, string | string[] | undefined>;
  readonly body: Buffer | string;
}

type Json = Record<string, unknown>;

/**
 * The image of a write's record its own answer can carry, with the `ReturnValues` that
 * asks for it: a put's or delete's old item, an update's new one (or its old, when that is
 * what the caller asked). Undefined for what only the caller's own choice may answer
 * (`UPDATED_*`, a value DynamoDB refuses): that write reads both images.
 */
function imageInAnswer(
  operation: 'PutItem' | 'UpdateItem' | 'DeleteItem',
  asked: unknown,
): { image: 'before' | 'after'; returnValues: 'ALL_OLD' | 'ALL_NEW' } | undefined {
  if (asked !== undefined && asked !== 'NONE' && asked !== 'ALL_OLD' && asked !== 'ALL_NEW') return undefined;
  if (operation !== 'UpdateItem') {
    return asked === 'ALL_NEW' ? undefined : { image: 'before', returnValues: 'ALL_OLD' };
  }
  return asked === 'ALL_OLD'
    ? { image: 'before', returnValues: 'ALL_OLD' }
    : { image: 'after', returnValues: 'ALL_NEW' };
}

/**
 * Whether a write asks, should its condition fail, for the item as the condition saw it
 * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`): the error then carries it as `Item`.
 * dynalite ignores the parameter (architect/dynalite#182).
 */
export function asksForItemOnFailure(request: Json): boolean {
  return request.ReturnValuesOnConditionCheckFailure === 'ALL_OLD';
}

/** A failed condition's answer, with the item it was checked against where the write asked for it. */
export function withItemOnConditionFailure(
  answer: FrontAnswer,
  request: Json,
  item: Item | undefined,
): FrontAnswer {
  if (answer.status === 200 || !item || !asksForItemOnFailure(request)) return answer;
  const parsed = JSON.parse(answer.body.toString()) as Json;
  if (!String(parsed.__type).endsWith('#ConditionalCheckFailedException')) return answer;
  return withBody(answer, JSON.stringify({ ...parsed, Item: item }));
}

/**
 * An answer with another body, and the `x-amz-crc32` DynamoDB sends with every body made
 * anew (botocore, so the AWS CLI, checks it and retries on a mismatch).
 */
export function withBody(answer: FrontAnswer, body: string): FrontAnswer {
  return {
    ...answer,
    headers: { ...answer.headers, 'x-amz-crc32': String(crc32(body)) },
    body,
  };
}

export class StreamCapture {
  readonly #direct: DynaliteCalls;
  readonly #streams: LocalStreams;
  /** The write now running on each item, by table and key: the next one waits for it. */
  readonly #itemLocks = new Map<string, Promise<unknown>>();
  /** Key attribute names of tables without a stream, as DescribeTable gave them. */
  readonly #keyNames = new Map<string, string[]>();

  constructor(direct: DynaliteCalls, streams: LocalStreams) {
    this.#direct = direct;
    this.#streams = streams;
  }

  /** Whether writes to this table yield stream records. */
  streamed(tableName: unknown): tableName is string {
    return typeof tableName === 'string' && this.#streams.of(tableName) !== undefined;
  }

  /** The key attributes of an item (or of a `Key`), by its table's key schema. */
  async keyOf(tableName: string, item: Item): Promise<Item> {
    let names =
      this.#streams.of(tableName)?.keySchema.map(({ AttributeName: name = '' }) => name) ??
      this.#keyNames.get(tableName);
    if (!names) {
      const { Table } = await this.#direct.send<{ Table?: { KeySchema?: KeySchemaElement[] } }>(
        'DescribeTable',
        { TableName: tableName },
      );
      names = (Table?.KeySchema ?? []).map((key) => key.AttributeName ?? '');
      this.#keyNames.set(tableName, names);
    }
    return Object.fromEntries(names.map((name) => [name, item[name] as AttributeValue]));
  }

  /** The item as it is now (a consistent read), for a record's images. */
  async current(tableName: string, key: Item): Promise<Item | undefined> {
    const { Item: item } = await this.#direct.send<{ Item?: Item }>('GetItem', {
      TableName: tableName,
      Key: key,
      ConsistentRead: true,
    });
    return item;
  }

  /** Appends the record of a write already made (a transaction's items). */
  record(tableName: string, before: Item | undefined, after: Item | undefined): void {
    this.#streams.record(tableName, before, after);
  }

  /**
   * One `PutItem`, `UpdateItem` or `DeleteItem` from a caller, run alone on its item, its
   * record appended when it succeeded and changed the item. The write's own answer carries one
   * of the record's images (`ReturnValues`), so only the other is read. The caller gets the
   * answer it asked for.
   */
  async writeItem(
    tableName: string,
    key: Item,
    operation: 'PutItem' | 'UpdateItem' | 'DeleteItem',
    request: Json,
    raw: Buffer | string,
  ): Promise<FrontAnswer> {
    const asked = request.ReturnValues;
    const carried = imageInAnswer(operation, asked);
    if (!carried) return this.write(tableName, key, () => this.#direct.call(operation, raw), request);
    return this.#onItem(tableName, key, async () => {
      const before = carried.image === 'after' ? await this.current(tableName, key) : undefined;
      const answer = await this.#direct.call(
        operation,
        JSON.stringify({ ...request, ReturnValues: carried.returnValues }),
      );
      if (answer.status !== 200) {
        const seen =
          before ?? (asksForItemOnFailure(request) ? await this.current(tableName, key) : undefined);
        return withItemOnConditionFailure(answer, request, seen);
      }
      const parsed = JSON.parse(answer.body.toString()) as Json & { Attributes?: Item };
      const image = parsed.Attributes;
      if (carried.image === 'after') this.#streams.record(tableName, before, image);
      else {
        // dynalite keeps a put's item as it was sent, as DynamoDB keeps it: no read to learn it.
        const after =
          operation === 'DeleteItem'
            ? undefined
            : operation === 'PutItem'
              ? (request.Item as Item)
              : await this.current(tableName, key);
        this.#streams.record(tableName, image, after);
      }
      if (asked === carried.returnValues) return answer;
      delete parsed.Attributes;
      return withBody(answer, JSON.stringify(parsed));
    });
  }

  /**
   * Runs one item's write alone on its item, between reads of it, and appends its record
   * when it succeeded and changed the item; `request`: the caller's, for a failed condition's answer.
   */
  async write(
    tableName: string,
    key: Item,
    perform: () => Promise<FrontAnswer>,
    request: Json = {},
  ): Promise<FrontAnswer> {
    return this.#onItem(tableName, key, async () => {
      const before = await this.current(tableName, key);
      const answer = await perform();
      if (answer.status !== 200) return withItemOnConditionFailure(answer, request, before);
      this.#streams.record(tableName, before, await this.current(tableName, key));
      return answer;
    });
  }

  /**
   * A write to a table without a stream that asks for the item its condition saw, read right
   * after a refusal. Only the writes that ask run one at a time on their item there: one that
   * does not ask could land between the refusal and the read (DynamoDB reads it atomically).
   */
  async writeUnstreamed(
    tableName: string,
    key: Item,
    operation: string,
    request: Json,
    raw: Buffer | string,
  ): Promise<FrontAnswer> {
    return this.#onItem(tableName, key, async () => {
      const answer = await this.#direct.call(operation, raw);
      if (answer.status === 200) return answer;
      return withItemOnConditionFailure(answer, request, await this.current(tableName, key));
    });
  }

  /** `BatchWriteItem`: each request as its own write, so each item gets its record. */
  async batchWrite(request: { RequestItems?: Record<string, WriteRequest[]> }): Promise<FrontAnswer> {
    for (const [tableName, writes] of Object.entries(request.RequestItems ?? {})) {
      for (const write of writes) {
        if (!this.streamed(tableName)) {
          await (write.PutRequest
            ? this.#direct.send('PutItem', { TableName: tableName, Item: write.PutRequest.Item })
            : this.#direct.send('DeleteItem', { TableName: tableName, Key: write.DeleteRequest?.Key }));
          continue;
        }
        const key = write.PutRequest?.Item
          ? await this.keyOf(tableName, write.PutRequest.Item)
          : (write.DeleteRequest?.Key ?? {});
        await this.write(tableName, key, async () => {
          if (write.PutRequest) {
            await this.#direct.send('PutItem', { TableName: tableName, Item: write.PutRequest.Item });
          } else {
            await this.#direct.send('DeleteItem', { TableName: tableName, Key: key });
          }
          return { status: 200, body: '{}' };
        });
      }
    }
    return { status: 200, body: JSON.stringify({ UnprocessedItems: {} } satisfies Json) };
  }

  async #onItem<T>(tableName: string, key: Item, task: () => Promise<T>): Promise<T> {
    const id = `${tableName}\u0000${JSON.stringify(Object.entries(key).sort(([a], [b]) => a.localeCompare(b)))}`;
    const previous = this.#itemLocks.get(id) ?? Promise.resolve();
    const running = previous.catch(() => undefined).then(task);
    this.#itemLocks.set(id, running);
    try {
      return await running;
    } finally {
      if (this.#itemLocks.get(id) === running) this.#itemLocks.delete(id);
    }
  }
}
