/**
 * The state folder's log of what each stream subscriber's mapping did with each record
 * (JSON Lines), written by the runtime and read by `show KEY`.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const DELIVERIES_LOG = 'deliveries.jsonl';

export function deliveriesLogIn(stateDir: string): string {
  return path.join(stateDir, DELIVERIES_LOG);
}

/** What was done with each record, for the live view and `show` (the file's key, its status, the subscriber). */
export interface SubscriberDelivery {
  readonly subscriber: string;
  readonly outcome: 'delivered' | 'failed' | 'sent-to-on-failure' | 'filtered-out';
  readonly key: string | undefined;
  readonly status: string | undefined;
  readonly sequenceNumber: string;
  /** When the change was written (the record's `updatedAt`). */
  readonly writtenAt: string | undefined;
  /** When the invocation with the record began (for records given up, when they were). */
  readonly at: string;
  readonly reason?: string;
}

/** Appends deliveries to the state folder's log, where `show KEY` finds a file's. */
export function recordDeliveries(file: string, deliveries: readonly SubscriberDelivery[]): void {
  appendFileSync(file, deliveries.map((delivery) => `${JSON.stringify(delivery)}\n`).join(''));
}

/** The deliveries of one file's records, from a state folder's log (none when there is no log). */
export function deliveriesFromLog(file: string, key: string): SubscriberDelivery[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as SubscriberDelivery];
      } catch {
        return []; // a line cut short by a crash
      }
    })
    .filter((delivery) => delivery.key === key);
}
