/**
 * What the local runtime derives from the project's sources and keeps between runs: the
 * functions' bundles and the synthesized templates, each under a hash of everything that
 * goes into it (`node_modules/.cache/videogen-ingest/<kind>/<hash>`), so a change to any
 * input is a new entry and an unchanged project never builds twice. Entries unused for a
 * week go when a new one is made (a bundle set is ~15 MB; a week of edits would leave gigabytes).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../lib/handlers.ts';

export const BUILD_CACHE = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'videogen-ingest');

/** The files under a folder of the project (tests left out), sorted. */
export async function sourcesUnder(folder: string): Promise<string[]> {
  const entries = await readdir(path.join(PROJECT_ROOT, folder), { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && !entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/**
 * A hash of the given files (by their path in the project and their bytes), the locked
 * dependencies, and `extra` (settings that change the output).
 */
export async function inputsHash(files: readonly string[], extra = ''): Promise<string> {
  const hash = createHash('sha256').update(extra).update('\0');
  const locked = ['package-lock.json', 'package.json'].map((file) => path.join(PROJECT_ROOT, file));
  for (const file of [...files, ...locked.filter(existsSync)])
    hash
      .update(path.relative(PROJECT_ROOT, file))
      .update('\0')
      .update(await readFile(file));
  return hash.digest('hex').slice(0, 24);
}

/**
 * How long an entry is kept after its last use: not less than a long-running runtime may
 * still read it (a function that starts cold loads its bundle again).
 */
const KEPT_UNUSED_MS = 7 * 24 * 3600 * 1000;

/** Marks an entry (file or folder) as used now. */
export async function markUsed(entry: string): Promise<void> {
  const now = new Date();
  await utimes(entry, now, now).catch(() => undefined);
}

/** Removes the entries of a cache folder unused for a week, `kept` (the one just made) aside. */
export async function pruneUnused(folder: string, kept: string): Promise<void> {
  const entries = await readdir(folder).catch(() => []);
  for (const name of entries) {
    const entry = path.join(folder, name);
    if (entry === kept) continue;
    const used = await stat(entry).catch(() => undefined);
    if (used && Date.now() - used.mtimeMs > KEPT_UNUSED_MS) await rm(entry, { recursive: true, force: true });
  }
}
