/** The commands as npx runs them in this repository, on the machine's own Node. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { collected } from '../helpers/cli.ts';

describe('npx videogen-ingest', () => {
  it('prints no npm engine warnings, whatever Node npm itself runs on (its first run, an empty npx cache)', async () => {
    const cache = await mkdtemp(path.join(tmpdir(), 'videogen-npx-cache-'));
    try {
      // npx as a user runs it: npm on the machine's Node (Node 20 on CI), the project's bin.
      const machinePath = (process.env.PATH ?? '')
        .split(path.delimiter)
        .filter((entry) => !entry.includes('node_modules'))
        .join(path.delimiter);
      const { code, stdout, stderr } = await collected(
        spawn('npx', ['videogen-ingest', '--help'], {
          env: {
            ...process.env,
            PATH: machinePath,
            npm_config_cache: cache,
            npm_config_update_notifier: 'false',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      ).exit();
      expect(stderr).not.toContain('EBADENGINE');
      expect(code).toBe(0);
      expect(stdout).toContain('Usage: videogen-ingest <command>');
    } finally {
      await rm(cache, { recursive: true, force: true });
    }
  });
});
