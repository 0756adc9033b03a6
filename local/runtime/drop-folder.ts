/**
 * The drop folder of `start`: a file that lands in it is streamed into the drop bucket
 * once it is whole. chokidar watches (inotify here, FSEvents on macOS) and its
 * `awaitWriteFinish` holds a file back until its size has stopped changing, so a file
 * still being copied is never taken half-written. A ledger in the state folder remembers
 * what was put (path, size, mtime), so a restart puts nothing twice. A file removed from
 * the folder stays in the bucket: the bucket is the record of what was dropped. A file
 * changed after its put is put again: a new version of its object, ingested as its own.
 * Skipped, and said so: the names copiers and browsers give a file while they write it,
 * and a symbolic link to nothing.
 */
import { appendFile, lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
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
  /**
   * How long a file's size must stay the same before it is taken: longer than any pause of
   * the slowest writer (a network copy stalls for seconds). @default DEFAULT_SETTLE_MS
   */
  readonly settleMs?: number;
  /** A line about a file it skipped on purpose. @default onError */
  readonly onSkip?: (message: string) => void;
}

/** A network copy (SMB, NFS, a VPN) can stall for a few seconds mid-file. */
export const DEFAULT_SETTLE_MS = 5000;

/**
 * The names a file has while a tool writes it, renamed when whole: browsers (`.crdownload`,
 * `.part`, `.download`), rsync and curl (`.part`, `.tmp`), WinSCP (`.filepart`), editors
 * (`~`). Dotfiles (rsync's `.name.XXXXXX`, editors' swap files) are skipped too.
 */
const PARTIAL_FILE = /(\.(part|partial|crdownload|download|filepart|tmp|temp)|~)$/i;

export function isPartialFileName(file: string): boolean {
  const name = path.basename(file);
  return name.startsWith('.') || PARTIAL_FILE.test(name);
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

/** The file's stats once its size and mtime have not changed for `settleMs`; undefined if it went. */
async function settled(
  file: string,
  settleMs: number,
): Promise<{ size: number; mtimeMs: number } | undefined> {
  let last = await stat(file).catch(() => undefined);
  let since = Date.now();
  while (last) {
    if (Date.now() - since >= settleMs) return last;
    await new Promise((resolve) => setTimeout(resolve, Math.min(100, settleMs)));
    const now = await stat(file).catch(() => undefined);
    if (!now || now.size !== last.size || now.mtimeMs !== last.mtimeMs) since = Date.now();
    last = now;
  }
  return undefined;
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
  const skip = options.onSkip ?? options.onError;
  // chokidar passes over a link to nothing without a word: found here, and said once.
  const dangling = new Set<string>();
  const checkLink = async (file: string): Promise<void> => {
    if (dangling.has(file) || !(await lstat(file).catch(() => undefined))?.isSymbolicLink()) return;
    if (await stat(file).catch(() => undefined)) return;
    dangling.add(file);
    const target = await readlink(file).catch(() => '?');
    skip(`${keyOf(options.directory, file)}: skipped: a symbolic link to ${target}, which does not exist`);
  };
  const settleMs = options.settleMs ?? DEFAULT_SETTLE_MS;
  const watcher: FSWatcher = chokidar.watch(options.directory, {
    ignored: (file) => file !== options.directory && isPartialFileName(file),
    alwaysStat: true,
    // chokidar waits for a file to settle only once ready: the files already there (a copy
    // that began before the start) are found and waited for below.
    ignoreInitial: true,
    awaitWriteFinish: { stabilityThreshold: settleMs, pollInterval: 100 },
  });
  watcher.on('add', take).on('change', take);
  watcher.on('raw', (_event, name, details) => {
    const { watchedPath } = (details ?? {}) as { watchedPath?: string };
    if (!name || !watchedPath) return;
    const file = path.join(watchedPath, name);
    if (file.startsWith(options.directory)) void checkLink(file);
  });
  watcher.on('error', (error) => options.onError(`watching ${options.directory}: ${String(error)}`));
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  // What was there before the watch began: links to nothing said, files taken once settled.
  const existing = await readdir(options.directory, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of existing) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isSymbolicLink()) await checkLink(file);
    const inside = path.relative(options.directory, file).split(path.sep);
    if (!entry.isFile() || inside.some((part) => isPartialFileName(part))) continue;
    const waiting = settled(file, settleMs).then((stats) => {
      if (stats) take(file, stats);
    });
    pending.add(waiting);
    void waiting.finally(() => pending.delete(waiting));
  }
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
