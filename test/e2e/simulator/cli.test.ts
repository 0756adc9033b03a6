import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { VideoGenClient, uploadToPresignedUrl } from '#shared/videogen/index';
import { simulatorOptionsFromArgs } from '#local/simulator/cli';
import { png } from '#local/media';

const TSX = path.resolve('node_modules/.bin/tsx');

function launch(args: string[]) {
  const child = spawn(TSX, ['local/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, output: () => ({ stdout, stderr }) };
}

describe('videogen-ingest-local sim', () => {
  it('prints its URL and serves the contract to an outside client until SIGTERM', async () => {
    const { child, output } = launch([
      'sim',
      '--port',
      '0',
      '--api-key',
      'cli-key',
      '--processing-ms',
      '20',
      '--fault',
      'rate_limit@create:nth=1',
    ]);
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no URL printed: ${JSON.stringify(output())}`)),
        20_000,
      );
      child.stdout.on('data', () => {
        const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output().stdout);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });

    try {
      const client = new VideoGenClient({ baseUrl: url, apiKey: 'cli-key' });
      await expect(client.createFile({ displayName: 'a.png' })).rejects.toMatchObject({
        name: 'VideoGenRateLimitedError',
      });
      const { fileId, uploadUrl } = await client.createFile({ displayName: 'a.png' });
      const bytes = png();
      await uploadToPresignedUrl({
        url: uploadUrl,
        body: Readable.from([bytes]),
        contentLength: bytes.length,
      });
      await expect.poll(async () => (await client.getFile(fileId)).status, { timeout: 5000 }).toBe('READY');
      await expect(
        new VideoGenClient({ baseUrl: url, apiKey: 'other' }).getFile(fileId),
      ).rejects.toMatchObject({ status: 401 });
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output().stderr).toContain('[sim] POST /v1/files/upload -> 429 (fault rate_limit)');
  });

  it('exits 2 with the usage on a bad option', async () => {
    const { child, output } = launch(['sim', '--fault', 'explode']);
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(output().stderr).toContain('fault "explode"');
    expect(output().stderr).toContain('Usage: videogen-ingest-local sim');
  });
});

describe('simulatorOptionsFromArgs', () => {
  it('reads every knob', async () => {
    const faultsFile = path.join(tmpdir(), `faults-${process.pid}.json`);
    await writeFile(faultsFile, JSON.stringify([{ fault: 'fail_analysis', rate: 0.5 }]));

    const { options } = await simulatorOptionsFromArgs([
      '--port=4011',
      '--processing-ms=10',
      '--playback-ms=5',
      '--analysis-ms=7',
      '--upload-url-ttl-ms=1000',
      '--delivery-timeout-ms=300',
      '--delivery-retry-ms=10,20',
      '--seed=3',
      '--fault=slow@get:delayMs=50',
      `--faults=${faultsFile}`,
    ]);

    expect(options).toEqual({
      port: 4011,
      processingMs: 10,
      playbackMs: 5,
      analysisMs: 7,
      uploadUrlTtlMs: 1000,
      deliveryTimeoutMs: 300,
      deliveryRetryDelaysMs: [10, 20],
      seed: 3,
      faults: [
        { fault: 'slow', on: 'get', delayMs: 50 },
        { fault: 'fail_analysis', rate: 0.5 },
      ],
    });
  });

  it('says which option is wrong', async () => {
    await expect(simulatorOptionsFromArgs(['--port=abc'])).rejects.toThrow(
      '--port takes a whole number, got "abc"',
    );
    await expect(simulatorOptionsFromArgs(['--bogus'])).rejects.toThrow(/bogus/);
    await expect(simulatorOptionsFromArgs(['--faults=/nonexistent.json'])).rejects.toThrow(
      /--faults \/nonexistent.json/,
    );
  });
});
