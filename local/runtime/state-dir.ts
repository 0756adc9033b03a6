/**
 * The local runtime's state folder (`start`'s `.videogen-ingest/` by default): the drop
 * bucket's objects, the table, the embedded simulator's files, the runtime's id (so names and ARNs stay the same across
 * restarts) and the drop folder's ledger. One runtime at a time holds it (proper-lockfile:
 * a lock folder whose mtime the holder refreshes, so a crashed holder's lock goes stale).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { DELIVERIES_LOG, deliveriesLogIn } from '../../ops/deliveries-log.ts';

export class StateDirInUseError extends Error {
  override readonly name = 'StateDirInUseError';
}

export interface StateDir {
  readonly directory: string;
  /** The id the runtime names its resources with, the same on every start. */
  readonly runtimeId: string;
  readonly s3Directory: string;
  readonly dynamoDirectory: string;
  /** What the drop folder has put into the bucket already (`drop-folder.ts`). */
  readonly dropLedger: string;
  /** Where each stream subscriber's mapping has got to (`stream-mappings.ts`). */
  readonly streamCheckpoints: string;
  /** What each subscriber's mapping did with each record (JSON Lines), for `show KEY`. */
  readonly deliveriesLog: string;
  /** The embedded VideoGen simulator's files, endpoints and port (`simulator/state-file.ts`). */
  readonly simulatorState: string;
  /** Whether it held state from an earlier start. */
  readonly resumed: boolean;
  release(): Promise<void>;
}

const SIMULATOR_STATE = 'videogen-simulator.jsonl';

/** What a fresh start removes; the lock and anything else a person put there stay. */
const STATE_ENTRIES = [
  'runtime.json',
  's3',
  'dynamodb',
  'dropped.jsonl',
  'local.json',
  'stream-checkpoints.json',
  DELIVERIES_LOG,
  SIMULATOR_STATE,
] as const;

export async function openStateDir(directory: string, options: { fresh?: boolean } = {}): Promise<StateDir> {
  await mkdir(directory, { recursive: true });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(directory, {
      lockfilePath: path.join(directory, 'runtime.lock'),
      stale: 15_000,
      update: 5_000,
      // A lock that cannot be refreshed is lost: say so rather than run unguarded.
      onCompromised: (error) => console.error(`[runtime] state folder lock lost: ${error.message}`),
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new StateDirInUseError(
        `${directory} is in use by another "videogen-ingest-local start": stop it, or pass --state-dir DIR`,
      );
    }
    throw error;
  }
  if (options.fresh) {
    for (const entry of STATE_ENTRIES)
      await rm(path.join(directory, entry), { recursive: true, force: true });
  }
  const idFile = path.join(directory, 'runtime.json');
  const saved = await readFile(idFile, 'utf8').then(
    (text) => (JSON.parse(text) as { runtimeId?: string }).runtimeId,
    () => undefined,
  );
  const runtimeId = saved ?? randomBytes(4).toString('hex');
  if (!saved) await writeFile(idFile, `${JSON.stringify({ runtimeId }, null, 2)}\n`);
  return {
    directory,
    runtimeId,
    s3Directory: path.join(directory, 's3'),
    dynamoDirectory: path.join(directory, 'dynamodb'),
    dropLedger: path.join(directory, 'dropped.jsonl'),
    streamCheckpoints: path.join(directory, 'stream-checkpoints.json'),
    deliveriesLog: deliveriesLogIn(directory),
    simulatorState: path.join(directory, SIMULATOR_STATE),
    resumed: saved !== undefined,
    release: async () => {
      await release().catch(() => undefined);
    },
  };
}
