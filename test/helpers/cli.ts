/** The `videogen-ingest` command as a user runs it: its own process, a user's environment. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { closedPort } from './net.ts';
import type { Readable } from 'node:stream';

const BIN = path.resolve(import.meta.dirname, '../../local/bin.mjs');

/** A process's output as it comes, and its exit code with all of it. */
export function collected(child: ChildProcessByStdio<null, Readable, Readable>) {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    child,
    output: () => ({ stdout, stderr }),
    exit: async () => {
      const [code] = (await once(child, 'exit')) as [number];
      return { code, stdout, stderr };
    },
  };
}

/**
 * `options.terminal`: in a process group of its own, as a terminal runs a command, so
 * `interrupt()` is Ctrl-C: SIGINT to the command and every process it started.
 */
export function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
  options: { terminal?: boolean } = {},
) {
  // The environment a user has: none of the Powertools switches vitest sets for its own process.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('POWERTOOLS_')),
  );
  const running = collected(
    spawn(process.execPath, [BIN, ...args], {
      env: { ...inherited, VIDEOGEN_API_URL: '', VIDEOGEN_API_KEY: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.terminal === true,
      ...(cwd ? { cwd } : {}),
    }),
  );
  return {
    ...running,
    interrupt: () => {
      if (options.terminal && running.child.pid !== undefined) process.kill(-running.child.pid, 'SIGINT');
      else running.child.kill('SIGINT');
    },
  };
}

/**
 * `start` in a folder of its own (a free S3 port, `args(home)` besides), ready once its
 * banner says so; `use` runs against it, then Ctrl-C and the folder removed.
 */
export async function withStart(
  args: (home: string) => string[],
  use: (started: ReturnType<typeof cli>, home: string) => Promise<void>,
): Promise<void> {
  const home = await mkdtemp(path.join(tmpdir(), 'videogen-start-'));
  const started = cli(['start', '--s3-port', String(await closedPort()), ...args(home)], {}, home);
  try {
    await expect.poll(() => started.output().stdout, { timeout: 90_000 }).toContain('Copy files into');
    await use(started, home);
  } finally {
    started.child.kill('SIGINT');
    await started.exit();
    await rm(home, { recursive: true, force: true });
  }
}
