import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inputsHash, pruneUnused } from '#local/build-cache';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'videogen-build-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the build cache', () => {
  it('keys an entry by every input byte and the settings', async () => {
    const source = path.join(dir, 'handler.ts');
    await writeFile(source, 'export const a = 1;');
    const before = await inputsHash([source], '{"pollAfterSeconds":5}');
    expect(await inputsHash([source], '{"pollAfterSeconds":5}')).toBe(before);
    expect(await inputsHash([source], '{"pollAfterSeconds":6}')).not.toBe(before);
    await writeFile(source, 'export const a = 2;');
    expect(await inputsHash([source], '{"pollAfterSeconds":5}')).not.toBe(before);
  });

  it('removes entries unused for a week when a new one is made, and only those', async () => {
    const weekAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    for (const name of ['stale', 'fresh', 'new']) await mkdir(path.join(dir, name));
    await utimes(path.join(dir, 'stale'), weekAgo, weekAgo);
    await utimes(path.join(dir, 'new'), weekAgo, weekAgo);
    await pruneUnused(dir, path.join(dir, 'new'));
    expect((await readdir(dir)).sort()).toEqual(['fresh', 'new']);
  });
});
