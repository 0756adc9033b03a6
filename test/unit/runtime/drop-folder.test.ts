import { appendFile, mkdir, mkdtemp, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { watchDropFolder, type DropFolder } from '#local/runtime/drop-folder';

let dir: string;
let folder: DropFolder | undefined;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'videogen-drop-folder-'));
});
afterEach(async () => {
  await folder?.close();
  folder = undefined;
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the drop folder', () => {
  it('never takes a file still being written: one put, of the whole file, once its size settles', async () => {
    const drop = path.join(dir, 'drop');
    await mkdir(drop);
    const puts: { key: string; size: number }[] = [];
    folder = await watchDropFolder({
      directory: drop,
      settleMs: 400,
      put: async (key, file) => {
        puts.push({ key, size: (await stat(file)).size });
      },
      onError: (message) => {
        throw new Error(message);
      },
    });
    const file = path.join(drop, 'growing.mp4');
    // A slow copy: a chunk every 150 ms for a while, each gap shorter than the settle time.
    for (let chunk = 0; chunk < 10; chunk++) {
      await appendFile(file, Buffer.alloc(64 * 1024, chunk));
      await sleep(150);
    }
    await expect.poll(() => puts.length, { timeout: 5_000 }).toBe(1);
    await folder.idle();
    expect(puts).toEqual([{ key: 'growing.mp4', size: 10 * 64 * 1024 }]);
  });

  it('puts each file once across restarts (its ledger), again only when it changes; a removal deletes nothing', async () => {
    const ledger = path.join(dir, 'dropped.jsonl');
    const drop = path.join(dir, 'drop');
    await mkdir(path.join(drop, 'nested'), { recursive: true });
    await writeFile(path.join(drop, 'a.png'), 'a');
    await writeFile(path.join(drop, 'nested', 'b.png'), 'b');
    await writeFile(path.join(drop, '.partial'), 'an editor’s temporary file');
    const puts: string[] = [];
    const watch = () =>
      watchDropFolder({
        directory: drop,
        ledger,
        settleMs: 200,
        put: (key) => {
          puts.push(key);
          return Promise.resolve();
        },
        onError: () => undefined,
      });
    folder = await watch();
    await expect.poll(() => [...puts].sort(), { timeout: 5_000 }).toEqual(['a.png', 'nested/b.png']);
    await folder.close();

    folder = await watch(); // a restart: the ledger says both are in the bucket
    await sleep(800);
    expect(puts).toHaveLength(2);
    await writeFile(path.join(drop, 'a.png'), 'a, edited');
    await unlink(path.join(drop, 'nested', 'b.png'));
    await expect.poll(() => puts.length, { timeout: 5_000 }).toBe(3);
    expect(puts[2]).toBe('a.png');
  });

  it('skips the names tools write under and links to nothing, saying so; takes the file once renamed whole', async () => {
    const drop = path.join(dir, 'drop');
    await mkdir(drop);
    await symlink(path.join(dir, 'gone-before.png'), path.join(drop, 'before.png'));
    const puts: string[] = [];
    const skipped: string[] = [];
    folder = await watchDropFolder({
      directory: drop,
      settleMs: 200,
      put: (key) => {
        puts.push(key);
        return Promise.resolve();
      },
      onError: (message) => skipped.push(message),
    });
    for (const partial of [
      'movie.mp4.crdownload',
      'clip.mp4.part',
      'a.png.tmp',
      'b.png~',
      'c.mov.filepart',
    ]) {
      await writeFile(path.join(drop, partial), 'half');
    }
    await symlink(path.join(dir, 'gone-after.png'), path.join(drop, 'after.png'));
    await rename(path.join(drop, 'clip.mp4.part'), path.join(drop, 'clip.mp4'));
    await expect.poll(() => puts, { timeout: 5_000 }).toEqual(['clip.mp4']);
    await expect.poll(() => skipped.length, { timeout: 5_000 }).toBe(2);
    expect(skipped.sort()).toEqual([
      `after.png: skipped: a symbolic link to ${path.join(dir, 'gone-after.png')}, which does not exist`,
      `before.png: skipped: a symbolic link to ${path.join(dir, 'gone-before.png')}, which does not exist`,
    ]);
    await sleep(300);
    expect(puts).toEqual(['clip.mp4']);
  });
});
