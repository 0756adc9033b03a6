/**
 * `TransactWriteItems`, which dynalite lacks: the writes in order while no other request
 * runs (`TransactionLock`), undone on a failed condition and answered
 * `TransactionCanceledException` with per-item reasons, as DynamoDB does; each item's
 * stream record appended once the whole transaction committed.
 */
import type { AttributeValue, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { DynaliteCalls } from './dynalite-calls.ts';
import { asksForItemOnFailure, type StreamCapture } from './dynamodb-stream-capture.ts';
import type { Item } from './dynamodb-items.ts';

type Json = Record<string, unknown>;

export function errorBody(type: string, message: string, extra: Json = {}): Json {
  return { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message, ...extra };
}

/**
 * A readers-writer lock: every other request runs concurrently (dynalite keeps single
 * items consistent), a transaction runs alone, so nothing sees it half done.
 */
export class TransactionLock {
  #shared = 0;
  #exclusive: Promise<void> | undefined;
  #waiters: (() => void)[] = [];

  async shared<T>(task: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    this.#shared += 1;
    try {
      return await task();
    } finally {
      this.#shared -= 1;
      if (this.#shared === 0) for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  async exclusive<T>(task: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    let release: () => void = () => undefined;
    this.#exclusive = new Promise((resolve) => (release = resolve));
    try {
      while (this.#shared > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
      return await task();
    } finally {
      this.#exclusive = undefined;
      release();
    }
  }
}

export class Transactions {
  readonly #direct: DynaliteCalls;
  readonly #capture: StreamCapture;

  constructor(direct: DynaliteCalls, capture: StreamCapture) {
    this.#direct = direct;
    this.#capture = capture;
  }

  /** Runs the writes in order; on a failure, undoes the ones done and says why, item by item. */
  async write(request: { TransactItems?: TransactWriteItem[] }): Promise<{ status: number; body: Json }> {
    const items = request.TransactItems ?? [];
    const undo: {
      tableName: string;
      key: Record<string, AttributeValue>;
      before: Record<string, AttributeValue> | undefined;
    }[] = [];
    const changes: { tableName: string; before: Item | undefined; after: Item | undefined }[] = [];
    for (const [index, entry] of items.entries()) {
      let seen: Item | undefined;
      try {
        if (entry.ConditionCheck)
          throw Object.assign(new Error('ConditionCheck is not supported by the local emulator'), {
            name: 'ValidationException',
          });
        const tableName = entry.Put?.TableName ?? entry.Update?.TableName ?? entry.Delete?.TableName ?? '';
        const key = entry.Put
          ? await this.#capture.keyOf(tableName, entry.Put.Item ?? {})
          : (entry.Update?.Key ?? entry.Delete?.Key ?? {});
        const before = await this.#capture.current(tableName, key);
        seen = before;
        if (entry.Put) await this.#direct.send('PutItem', { ...entry.Put });
        else if (entry.Update) await this.#direct.send('UpdateItem', { ...entry.Update });
        else if (entry.Delete) await this.#direct.send('DeleteItem', { ...entry.Delete });
        undo.push({ tableName, key, before });
        if (this.#capture.streamed(tableName)) {
          changes.push({ tableName, before, after: await this.#capture.current(tableName, key) });
        }
      } catch (error) {
        for (const done of undo.reverse()) {
          if (done.before)
            await this.#direct.send('PutItem', { TableName: done.tableName, Item: done.before });
          else await this.#direct.send('DeleteItem', { TableName: done.tableName, Key: done.key });
        }
        const name = error instanceof Error ? error.name : 'InternalServerError';
        if (name !== 'ConditionalCheckFailedException') {
          return {
            status: 400,
            body: errorBody(name, error instanceof Error ? error.message : String(error)),
          };
        }
        const write = entry.Put ?? entry.Update ?? entry.Delete ?? {};
        const reasons = items.map((_, position) =>
          position === index
            ? {
                Code: 'ConditionalCheckFailed',
                Message: 'The conditional request failed',
                ...(seen && asksForItemOnFailure(write) ? { Item: seen } : {}),
              }
            : { Code: 'None' },
        );
        return {
          status: 400,
          body: errorBody(
            'TransactionCanceledException',
            `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((reason) => reason.Code).join(', ')}]`,
            { CancellationReasons: reasons },
          ),
        };
      }
    }
    // Committed: each item's record, in the order of the transaction's items.
    for (const change of changes) this.#capture.record(change.tableName, change.before, change.after);
    return { status: 200, body: {} };
  }
}
