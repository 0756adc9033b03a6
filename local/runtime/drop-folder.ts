/**
 * The drop folder of `start`: a file that lands in it is streamed into the drop bucket
 * once it is whole. chokidar watches (inotify here, FSEvents on macOS) and its
 * `awaitWriteFinish` holds a file back until its size has stopped changing, so a file
 * still being copied is never taken half-written. A ledger in the state folder remembers
 * what was put (path, size, mtime), so a restart puts nothing twice. A file removed from
 * the folder stays in the bucket: the bucket is the record of what was dropped.
 */
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import pLimit from 'p-limit';

export interface DropFolderOptions {
  readonly directory: string;
  /** Streams one file into the bucket under `key`. */
  readonly put: (key: string, file: string) => Promise<void>;
  /** A JSON-lines file of what was put already; nothing is remembered across starts without it. */
  readonly ledger?: string;
  /** A file that could not be put, and why. */
  readonly onError: (message: string) => void;
  /** Puts at once. @default 8 */
  readonly concurrency?: number;
  /** How long a file's size must stay the same before it is taken. @default 1000 */
  readonly settleMs?: number;
}

export interface DropFolder {
  /** Files put since the watch began. */
  readonly put: number;
  /** Resolves when every file seen so far is put (or failed). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface LedgerEntry {
  readonly key: string;
  readonly signature: string;
}

/** Path inside the folder, with `/` whatever the platform: the object key. */
function keyOf(directory: string, file: string): string {
  return path.relative(directory, file).split(path.sep).join('/');
}

async function readLedger(file: string | undefined): Promise<Map<string, string>> {
  const ledger = new Map<string, string>();
  if (!file) return ledger;
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const entry = JSON.parse(line) as LedgerEntry;
      ledger.set(entry.key, entry.signature);
    } catch {
      // A line cut short by a crash: its file is put again, which the table deduplicates.
    }
  }
  return ledger;
}

export async function watchDropFolder(options: DropFolderOptions): Promise<DropFolder> {
  const ledger = await readLedger(options.ledger);
  const limit = pLimit(options.concurrency ?? 8);
  const pending = new Set<Promise<void>>();
  let put = 0;
  const take = (file: string, stats: { size: number; mtimeMs: number } | undefined): void => {
    const key = keyOf(options.directory, file);
    const signature = stats ? `${stats.size}:${Math.round(stats.mtimeMs)}` : '';
    if (ledger.get(key) === signature) return;
    ledger.set(key, signature);
    const job = limit(async () => {
      try {
        await options.put(key, file);
        put += 1;
        if (options.ledger) await appendFile(options.ledger, `${JSON.stringify({ key, signature })}\n`);
      } catch (error) {
        ledger.delete(key);
        options.onError(
          `${key}: not put into the bucket: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    });
    pending.add(job);
    void job.finally(() => pending.delete(job));
  };
  const watcher: FSWatcher = chokidar.watch(options.directory, {
    // Dotfiles are editors' and copiers' temporary files.
    ignored: (file) => path.basename(file).startsWith('.') && file !== options.directory,
    alwaysStat: true,
    awaitWriteFinish: { stabilityThreshold: options.settleMs ?? 1000, pollInterval: 100 },
  });
  watcher.on('add', take).on('change', take);
  watcher.on('error', (error) => options.onError(`watching ${options.directory}: ${String(error)}`));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  return {
    get put() {
      return put;
    },
    idle: async () => {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    close: async () => {
      await watcher.close();
      await Promise.allSettled([...pending]);
    },
  };
}
