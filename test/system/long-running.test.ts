/**
 * `start` as people leave it running: long names from the drop folder and from the AWS
 * CLI, and a stop while the embedded VideoGen simulator is still processing, then a start
 * again on the same state folder. Each through the commands as a user runs them.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mp4, png } from '#local/media';
import { LOCAL_REGION } from '#local/cfn';
import { awsCli } from '../helpers/aws-cli.ts';
import { cli } from '../helpers/cli.ts';
import { closedPort } from '../helpers/net.ts';

const FAST_FLAGS = ['--processing-ms', '100', '--analysis-ms', '50', '--poll-after', '2', '--retry-ms', '20'];
const DONE = /^(READY|ANALYZED)$/;

interface StatusRecord {
  key: string;
  status: string;
  fileId?: string;
}

const homes: string[] = [];
afterEach(async () => {
  for (const home of homes.splice(0)) await rm(home, { recursive: true, force: true });
});

async function newHome(name: string): Promise<string> {
  const home = await mkdtemp(path.join(tmpdir(), `videogen-${name}-`));
  homes.push(home);
  return home;
}

/** `start` in `home`, once its banner is printed: its S3 endpoint and bucket as printed. */
async function started(home: string, flags: string[]) {
  const running = cli(['start', ...flags], {}, home);
  await expect.poll(() => running.output().stdout, { timeout: 90_000 }).toContain('Copy files into');
  const banner = /S3 endpoint:\s+(\S+)\s+bucket: (\S+)/.exec(running.output().stdout);
  if (!banner?.[1] || !banner[2]) throw new Error(`no S3 line in the banner:\n${running.output().stdout}`);
  return { ...running, s3Endpoint: banner[1], bucket: banner[2] };
}

async function stopped(running: ReturnType<typeof cli>) {
  running.child.kill('SIGINT');
  const exit = await running.exit();
  expect(exit.code, exit.stderr.slice(-2000)).toBe(0);
  return exit;
}

async function statusOf(home: string): Promise<StatusRecord[]> {
  const status = await cli(['status', '--json'], {}, home).exit();
  return status.code === 0 ? (JSON.parse(status.stdout) as StatusRecord[]) : [];
}

describe('start, given names as long as S3 takes', () => {
  it('ingests a 250-character file name and a 1,000-byte key, refuses a longer key, and starts again on them', async () => {
    const home = await newHome('long-names');
    const fileName = `${'n'.repeat(246)}.png`; // 250 characters: near the 255 a file name may have
    const longKey = `library/${'é'.repeat(300)}/${'k'.repeat(380)}.mp4`; // 994 bytes in UTF-8
    await mkdir(path.join(home, 'drop'), { recursive: true });
    // There before the start, as after a crash-loop: the start itself must survive it.
    await writeFile(path.join(home, 'drop', fileName), png(4, 4));
    const flags = ['--s3-port', String(await closedPort()), '--settle', '0.5', ...FAST_FLAGS];

    const first = await started(home, flags);
    const target = { endpoint: first.s3Endpoint, region: LOCAL_REGION, home };
    const clip = path.join(home, 'clip.mp4');
    await writeFile(clip, mp4(4096));
    await awsCli(target, 's3', 'cp', clip, `s3://${first.bucket}/${longKey}`);
    const tooLong = await awsCli(target, 's3', 'cp', clip, `s3://${first.bucket}/${'z'.repeat(1025)}`).catch(
      (error: unknown) => String(error),
    );
    expect(tooLong).toContain('KeyTooLongError');

    await expect
      .poll(async () => (await statusOf(home)).filter((record) => DONE.test(record.status)).length, {
        timeout: 60_000,
        interval: 1000,
      })
      .toBe(2);
    expect((await statusOf(home)).map((record) => record.key).sort()).toEqual([fileName, longKey].sort());
    const listed = String(await awsCli(target, 's3', 'ls', '--recursive', `s3://${first.bucket}/`));
    expect(listed).toContain(longKey);
    expect(listed).toContain(fileName);
    const { stderr } = await stopped(first);
    expect(stderr).not.toMatch(/ENAMETOOLONG|Unhandled/);

    // Started again on the same state folder: nothing to crash on, nothing sent twice.
    const second = await started(home, flags);
    try {
      const records = await statusOf(home);
      expect(records).toHaveLength(2);
      expect(records.every((record) => DONE.test(record.status))).toBe(true);
    } finally {
      await stopped(second);
    }
  }, 240_000);
});

describe('start with the embedded simulator, stopped while VideoGen is processing, and started again', () => {
  it('finishes every file on the VideoGen files it made before the stop: none sent twice, none lost', async () => {
    const home = await newHome('resume-embedded');
    const names = Array.from({ length: 4 }, (_, index) => `clip-${index}.mp4`);
    const flags = [
      '--s3-port',
      String(await closedPort()),
      '--settle',
      '0.5',
      ...FAST_FLAGS,
      // Long enough that the stop comes while VideoGen still holds every file.
      '--processing-ms',
      '15000',
    ];
    const first = await started(home, flags);
    for (const [index, name] of names.entries())
      await writeFile(path.join(home, 'drop', name), mp4(2048 + index));
    await expect
      .poll(() => (first.output().stdout.match(/clip-\d\.mp4: UPLOADED/g) ?? []).length, { timeout: 60_000 })
      .toBe(names.length);
    const before = await statusOf(home);
    const { stderr } = await stopped(first);
    expect(stderr).toMatch(/stopping: \d+ files? in flight, resumed on the next start/);
    const uploaded: unknown = expect.objectContaining({ status: 'UPLOADED', fileId: expect.any(String) });
    expect(before).toEqual(names.map(() => uploaded));

    const second = await started(home, flags);
    try {
      await expect
        .poll(async () => (await statusOf(home)).filter((record) => DONE.test(record.status)).length, {
          timeout: 90_000,
          interval: 1000,
        })
        .toBe(names.length);
      const after = await statusOf(home);
      // The same VideoGen file for each: resumed at VideoGen, not created and uploaded again.
      const fileIds = (records: StatusRecord[]) =>
        Object.fromEntries(records.map((record) => [record.key, record.fileId]));
      expect(fileIds(after)).toEqual(fileIds(before));
      expect(second.output().stdout).not.toMatch(/FAILED|VideoGenNotFound/);
    } finally {
      await stopped(second);
    }
  }, 240_000);
});
