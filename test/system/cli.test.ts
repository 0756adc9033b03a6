import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFile, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestRecordSchema } from '#shared/ingest/record';
import { VideoGenSimulator } from '#local/simulator/simulator';
import { mp4, png, text } from '#local/media';
import { closedPort } from '../helpers/net.ts';
import { cli, withStart } from '../helpers/cli.ts';

const FAST_FLAGS = ['--processing-ms', '100', '--analysis-ms', '50', '--poll-after', '2', '--retry-ms', '20'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'videogen-cli-'));
  await writeFile(path.join(dir, 'photo.png'), png(6, 6));
  await writeFile(path.join(dir, 'clip.mp4'), mp4());
  await writeFile(path.join(dir, 'notes.txt'), text());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('videogen-ingest-local run', () => {
  it('--json prints the records on stdout and exits 0 when nothing failed (a rejection is expected)', async () => {
    const { code, stdout, stderr } = await cli([
      'run',
      '--json',
      ...FAST_FLAGS,
      ...['photo.png', 'clip.mp4', 'notes.txt'].map((name) => path.join(dir, name)),
    ]).exit();

    expect(code, stderr).toBe(0);
    const records = (JSON.parse(stdout) as unknown[]).map((record) => ingestRecordSchema.parse(record));
    expect(Object.fromEntries(records.map((record) => [record.key, record.status]))).toEqual({
      'photo.png': expect.stringMatching(/READY|ANALYZED/),
      'clip.mp4': expect.stringMatching(/READY|ANALYZED/),
      'notes.txt': 'REJECTED',
    });
    expect(records.every((record) => record.taskToken === undefined)).toBe(true);
    expect(stderr).toContain('photo.png: ');
  });

  it('--json --verbose keeps stdout JSON: every line the functions (and the webhook registration) write goes to stderr', async () => {
    const { code, stdout, stderr } = await cli([
      'run',
      '--json',
      '--verbose',
      ...FAST_FLAGS,
      path.join(dir, 'photo.png'),
    ]).exit();

    expect(code, stderr).toBe(0);
    const records = JSON.parse(stdout) as unknown[];
    expect(records.map((record) => ingestRecordSchema.parse(record).key)).toEqual(['photo.png']);
    // Powertools' INFO lines of the handlers, the registration's among them, are there, on stderr.
    expect(stderr).toMatch(/"level":"INFO"/);
    expect(stderr).toMatch(/"service":"[^"]*"/);
  });

  it('exits 1 when a file ends FAILED', async () => {
    const { code, stdout } = await cli([
      'run',
      ...FAST_FLAGS,
      '--fault',
      'fail_processing',
      path.join(dir, 'clip.mp4'),
    ]).exit();
    expect(code).toBe(1);
    expect(stdout).toContain(
      'clip.mp4: FAILED (VIDEOGEN_PROCESSING_FAILED: VideoGen reported the file as FAILED)',
    );
  });

  it('exits 1 with a clear message when the API refuses the key, and never prints the key', async () => {
    const sim = await VideoGenSimulator.start({ apiKey: 'the-right-key' });
    try {
      const { code, stderr } = await cli(['run', ...FAST_FLAGS, path.join(dir, 'photo.png')], {
        VIDEOGEN_API_URL: sim.url,
        VIDEOGEN_API_KEY: 'a-wrong-key',
      }).exit();
      expect(code).toBe(1);
      expect(stderr).toContain('POST /v1/webhooks/endpoints answered 401');
      expect(stderr).not.toContain('a-wrong-key');
    } finally {
      await sim.close();
    }
  });

  it('exits 2 on a usage error', async () => {
    expect((await cli(['run']).exit()).code).toBe(2);
    expect((await cli(['run', '--ready-on', 'soon', path.join(dir, 'photo.png')]).exit()).stderr).toContain(
      '--ready-on takes one of upload, playback, download, analysis',
    );
    expect((await cli(['run', path.join(dir, 'missing.png')]).exit()).code).toBe(2);
    expect((await cli(['frobnicate']).exit()).code).toBe(2);
  });

  it('refuses each bad setting before anything starts: its name, what it takes, exit 2', async () => {
    const photo = path.join(dir, 'photo.png');
    const refusals: [string[], NodeJS.ProcessEnv, string][] = [
      [
        ['run', photo],
        { VIDEOGEN_API_URL: 'not a url' },
        'VIDEOGEN_API_URL takes an http:// or https:// URL',
      ],
      [['run', photo], { VIDEOGEN_API_URL: 'ftp://videogen.example/' }, 'got "ftp://videogen.example/"'],
      [
        ['start', '--s3-port', '99999', '--drop', path.join(dir, 'never-made')],
        {},
        '--s3-port takes a whole number from 1 to 65535, got "99999"',
      ],
      [
        ['run', '--max-concurrent-transfers', '-3', photo],
        {},
        '--max-concurrent-transfers takes a whole number from 2 to 1000, got "-3"',
      ],
      [['run', dir], {}, `${dir} is a folder: run takes files`],
    ];
    for (const [args, env, message] of refusals) {
      const { code, stderr } = await cli(args, env).exit();
      expect(code, args.join(' ')).toBe(2);
      expect(stderr, args.join(' ')).toContain(message);
      expect(stderr).not.toMatch(/TypeError|RangeError|at .*\.ts:\d+/);
    }
    expect(existsSync(path.join(dir, 'never-made'))).toBe(false);
  });
});

describe('videogen-ingest-local start', () => {
  it('refuses a taken S3 port at once, exit 2, and starts nothing', async () => {
    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    const drop = path.join(dir, 'taken-drop');
    try {
      const result = await cli(['start', '--drop', drop, '--s3-port', String(port)]).exit();
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`port ${port} is taken`);
      expect(existsSync(drop)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('prints its endpoints, ingests what lands in the drop folder with a line per status, answers the ops commands, and stops on Ctrl-C', async () => {
    const drop = path.join(dir, 'drop');
    const s3Port = await closedPort();
    // In a folder of its own: the ops commands find the runtime through ./.videogen-ingest/local.json.
    const started = cli(['start', '--drop', drop, '--s3-port', String(s3Port), ...FAST_FLAGS], {}, dir);
    try {
      await expect
        .poll(() => started.output().stdout, { timeout: 30_000 })
        .toContain('Copy files into the drop folder');
      expect(started.output().stdout).toContain(
        `S3 endpoint:   http://127.0.0.1:${s3Port}   bucket: videogen-drop`,
      );
      await writeFile(path.join(drop, 'dropped.png'), png(3, 3));
      await expect
        .poll(() => started.output().stdout, { timeout: 30_000 })
        .toMatch(/dropped\.png: (READY|ANALYZED) \(vg_file_/);

      const status = await cli(['status', '--json'], {}, dir).exit();
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout)).toEqual([
        expect.objectContaining({ key: 'dropped.png', status: expect.stringMatching(/READY|ANALYZED/) }),
      ]);
      const shown = await cli(['show', 'dropped.png'], {}, dir).exit();
      expect(shown.stdout).toContain('History:');
      const refused = await cli(['retry', 'dropped.png'], {}, dir).exit();
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        /videogen-ingest-local: s3:\/\/videogen-drop\/dropped\.png is (READY|ANALYZED); only FAILED or TIMED_OUT/,
      );
    } finally {
      started.child.kill('SIGINT');
    }
    const { code, stderr } = await started.exit();
    expect(code).toBe(0);
    expect(stderr).toContain('stopped');
    // Stopped: the state file is gone, and the ops commands say so.
    const after = await cli(['status'], {}, dir).exit();
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('no local runtime here (.videogen-ingest/local.json not found)');
  }, 120_000);

  it('with --state-dir: the banner prints the ops command that reaches it, and each ops command takes --state-dir', async () => {
    await withStart(
      (home) => ['--state-dir', path.join(home, 'runs', 'library')],
      async (started, home) => {
        const stateDir = path.join(home, 'runs', 'library');
        const printed = `npx videogen-ingest status --state-dir ${stateDir}`;
        expect(started.output().stdout).toContain(`Operations:    ${printed}`);
        // As printed, from any folder.
        const status = await cli(['status', '--state-dir', stateDir], {}, tmpdir()).exit();
        expect(status.code, status.stderr).toBe(0);
        expect(status.stdout).toContain('no ingests in the local runtime');
        for (const command of [
          ['reconcile', '--dry-run'],
          ['show', 'nothing.png'],
        ]) {
          const answered = await cli([...command, '--state-dir', stateDir], {}, tmpdir()).exit();
          expect(answered.stderr, command[0]).not.toContain('no local runtime here');
        }
        const without = await cli(['status'], {}, tmpdir()).exit();
        expect(without.code).toBe(1);
        expect(without.stderr).toContain('pass --state-dir DIR for one started with it');
      },
    );
  });
});

describe('videogen-ingest retry --status', () => {
  it('lists every FAILED ingest in a dry run, retrying none; then retries them all', async () => {
    // The first two processings fail (an outage); the retries' processings do not.
    const outage = ['--fault', 'fail_processing:nth=1', '--fault', 'fail_processing:nth=2'];
    await withStart(
      () => [...FAST_FLAGS, ...outage],
      async (started, home) => {
        await writeFile(path.join(home, 'drop', 'outage-1.mp4'), mp4(3000));
        await writeFile(path.join(home, 'drop', 'outage-2.mp4'), mp4(3001));
        await expect
          .poll(() => (started.output().stdout.match(/outage-\d\.mp4: FAILED/g) ?? []).length, {
            timeout: 60_000,
          })
          .toBe(2);
        const dry = await cli(['retry', '--status', 'FAILED', '--dry-run'], {}, home).exit();
        expect(dry.code, dry.stderr).toBe(0);
        expect(dry.stdout).toMatch(
          /outage-1\.mp4 is FAILED \(VIDEOGEN_PROCESSING_FAILED: [^)]+\): would be retried/,
        );
        expect(dry.stdout).toContain('2 FAILED ingests in the local runtime; --dry-run: none retried');
        const still = await cli(['status', '--status', 'FAILED', '--json'], {}, home).exit();
        expect(JSON.parse(still.stdout)).toHaveLength(2);

        const retried = await cli(['retry', '--status', 'FAILED'], {}, home).exit();
        expect(retried.stdout).toContain('2 of 2 FAILED ingests retried in the local runtime');
        await expect
          .poll(() => (started.output().stdout.match(/outage-\d\.mp4: (READY|ANALYZED)/g) ?? []).length, {
            timeout: 60_000,
          })
          .toBeGreaterThanOrEqual(2);
        const failed = await cli(['status', '--status', 'FAILED', '--json'], {}, home).exit();
        expect(JSON.parse(failed.stdout)).toEqual([]);
      },
    );
  });
});

describe('videogen-ingest-local start, with a slow writer', () => {
  it('takes a file written in pieces with 2.5 s pauses once, whole, at the default settle time; says it skipped a link to nothing', async () => {
    await withStart(
      () => FAST_FLAGS,
      async (started, home) => {
        // A link to nothing, among what a user drops: skipped, and said so.
        await symlink(path.join(home, 'moved-away.mp4'), path.join(home, 'drop', 'alias.mp4'));
        const whole = mp4(64 * 1024);
        const file = path.join(home, 'drop', 'slow.mp4');
        for (let piece = 0; piece < 4; piece += 1) {
          const bounds = [piece, piece + 1].map((at) => Math.floor((at * whole.length) / 4));
          await appendFile(file, whole.subarray(bounds[0], bounds[1]));
          if (piece < 3) await new Promise((resolve) => setTimeout(resolve, 2500));
        }
        await expect
          .poll(() => started.output().stdout, { timeout: 30_000 })
          .toMatch(/slow\.mp4: (READY|ANALYZED)/);
        const status = await cli(['status', '--json'], {}, home).exit();
        const records = JSON.parse(status.stdout) as { key: string; size: number }[];
        expect(records).toEqual([expect.objectContaining({ key: 'slow.mp4', size: whole.length })]);
        expect(started.output().stderr).toContain(
          `[drop] alias.mp4: skipped: a symbolic link to ${path.join(home, 'moved-away.mp4')}, which does not exist`,
        );
      },
    );
  });
});

describe('videogen-ingest-local start, stopped with Ctrl-C at a terminal', () => {
  it('counts the files still at VideoGen before anything stops', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'videogen-ctrl-c-'));
    const started = cli(
      ['start', '--s3-port', String(await closedPort()), '--processing-ms', '30000', '--retry-ms', '20'],
      {},
      home,
      { terminal: true },
    );
    try {
      await expect.poll(() => started.output().stdout, { timeout: 30_000 }).toContain('Copy files into');
      for (let index = 0; index < 3; index += 1)
        await writeFile(path.join(home, 'drop', `held-${index}.png`), png(3 + index, 3));
      await expect
        .poll(() => (started.output().stdout.match(/held-\d\.png: UPLOADED/g) ?? []).length, {
          timeout: 30_000,
        })
        .toBe(3);
      // Ctrl-C: the whole process group, the DynamoDB emulator's process included.
      started.interrupt();
      const { code, stderr } = await started.exit();
      expect(code).toBe(0);
      expect(stderr).toContain('stopping: 3 files in flight, resumed on the next start');
      expect(stderr).not.toContain('ECONNREFUSED');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('videogen-ingest-local start, stopped with files in flight and started again', () => {
  it('continues every file where it stopped: each uploaded to VideoGen exactly once, all ready, a second start refused meanwhile', async () => {
    // VideoGen outlives the runtime, as the real API does: a simulator of its own.
    const videoGen = await VideoGenSimulator.start({ port: 0, processingMs: 4000, analysisMs: 50 });
    const home = await mkdtemp(path.join(tmpdir(), 'videogen-restart-'));
    const drop = path.join(home, 'drop');
    const env = { VIDEOGEN_API_URL: videoGen.url };
    const flags = ['--drop', drop, '--s3-port', String(await closedPort()), ...FAST_FLAGS];
    const names = Array.from({ length: 6 }, (_, index) => `clip-${index}.mp4`);
    try {
      const first = cli(['start', ...flags], env, home);
      await expect.poll(() => first.output().stdout, { timeout: 30_000 }).toContain('Copy files into');
      // One runtime per state folder: a second start on it fails at once.
      const second = await cli(
        ['start', '--drop', drop, '--s3-port', String(await closedPort())],
        env,
        home,
      ).exit();
      expect(second.code).toBe(2);
      expect(second.stderr).toContain('is in use by another "videogen-ingest-local start"');

      for (const [index, name] of names.entries()) await writeFile(path.join(drop, name), mp4(2048 + index));
      // Stop while the first files wait for VideoGen's processing and the others are behind them.
      await expect.poll(() => first.output().stdout, { timeout: 30_000 }).toMatch(/: UPLOADED/);
      first.child.kill('SIGINT');
      const stopped = await first.exit();
      expect(stopped.code).toBe(0);
      expect(stopped.stderr).toMatch(/stopping: \d+ files? in flight, resumed on the next start/);
      const readyBefore = (stopped.stdout.match(/: READY/g) ?? []).length;
      expect(readyBefore).toBeLessThan(names.length);

      const again = cli(['start', ...flags], env, home);
      try {
        await expect
          .poll(() => again.output().stderr, { timeout: 30_000 })
          .toMatch(/unfinished files? resumed/);
        await expect
          .poll(
            async () => {
              const status = await cli(['status', '--json'], {}, home).exit();
              return status.code === 0
                ? (JSON.parse(status.stdout) as { status: string }[]).filter((record) =>
                    /^(READY|ANALYZED)$/.test(record.status),
                  ).length
                : 0;
            },
            { timeout: 60_000, interval: 1000 },
          )
          .toBe(names.length);
      } finally {
        again.child.kill('SIGINT');
        await again.exit();
      }
      // Exactly one complete upload per source: nothing sent twice, nothing lost.
      const uploadedNames = videoGen
        .uploads()
        .filter((upload) => upload.status === 200)
        .map((upload) => videoGen.file(upload.fileId)?.file.displayName);
      expect(uploadedNames.sort()).toEqual([...names].sort());
      // The drop folder's files were put into the bucket once: no new records after the restart.
      const status = await cli(['status', '--json'], {}, home).exit();
      expect(status.code).toBe(1); // nothing runs now
    } finally {
      await videoGen.close();
      await rm(home, { recursive: true, force: true });
    }
  }, 180_000);
});
