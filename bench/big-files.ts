/**
 * `npm run bench:big-files`: the embedded default with real-sized videos and a whole
 * folder at once, as a user runs it (the CLI in a process of its own, VideoGen apart so
 * its received bytes can be checked). Writes `bench/results/big-files.json` and `.md`:
 * - `run FILE` with a 1 GiB and a 4.5 GiB file: READY, the SHA-256 VideoGen received equal
 *   to the file's, the CLI's peak RSS (constant memory: it streams);
 * - the same 4.5 GiB file copied into `start`'s drop folder: the same checks;
 * - 1,000 small files copied into the drop folder at once: copy -> first and last upload.
 *
 *   npm run bench:big-files -- --sizes 1,4.5 --drop-files 1000
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { mp4 } from '../local/media.ts';
import { VideoGenSimulator } from '../local/simulator/simulator.ts';
import { round } from './stats.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,4.5' },
    'drop-files': { type: 'string', default: '1000' },
  },
});
const SIZES_GIB = values.sizes.split(',').filter(Boolean).map(Number);
const DROP_FILES = Number(values['drop-files']);
const BIN = path.resolve('local/bin.mjs');
const RESULTS_JSON = 'bench/results/big-files.json';
const RESULTS_MD = 'bench/results/big-files.md';
const GIB = 1024 ** 3;

/** A video of `bytes`: an MP4 header, then a sparse tail (fast to write, read as zeros). */
async function bigVideo(file: string, bytes: number): Promise<string> {
  await writeFile(file, mp4(4096));
  await truncate(file, bytes);
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 8 * 1024 * 1024 }), hash);
  return hash.digest('hex');
}

/** The CLI as a user runs it, with its peak RSS (VmHWM) read until it exits. */
function cli(args: string[], env: NodeJS.ProcessEnv, cwd: string) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', () => undefined);
  let peakRss = 0;
  const sample = async (): Promise<void> => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    peakRss = Math.max(peakRss, hwm);
  };
  const sampler = setInterval(() => void sample(), 200);
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code) => {
      clearInterval(sampler);
      resolve(code ?? 1);
    }),
  );
  return { child, stdout: () => stdout, peakRss: () => peakRss, exited };
}

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface BigFileResult {
  readonly how: 'run' | 'drop folder';
  readonly gib: number;
  readonly ready: boolean;
  readonly bytesVerified: boolean;
  readonly peakRssMb: number;
  readonly seconds: number;
}

function received(videoGen: VideoGenSimulator, name: string) {
  return videoGen.files().find((file) => file.file.displayName === name && file.received)?.received;
}

async function throughRun(videoGen: VideoGenSimulator, work: string, gib: number): Promise<BigFileResult> {
  const name = `run-${gib}gib.mp4`;
  const file = path.join(work, name);
  const sha256 = await bigVideo(file, Math.round(gib * GIB));
  const started = Date.now();
  const run = cli(['run', '--retry-ms', '200', file], { VIDEOGEN_API_URL: videoGen.url }, work);
  const code = await run.exited;
  const seconds = (Date.now() - started) / 1000;
  await rm(file, { force: true });
  return {
    how: 'run',
    gib,
    ready: code === 0 && /: (READY|ANALYZED)/.test(run.stdout()),
    bytesVerified: received(videoGen, name)?.sha256 === sha256,
    peakRssMb: round(run.peakRss() / 1e6, 0),
    seconds: round(seconds, 1),
  };
}

/** Starts `start` in `work` with its own drop and state folders; answers once it is ready. */
async function startRuntime(videoGen: VideoGenSimulator, work: string) {
  const drop = path.join(work, 'drop');
  const port = 47_000 + Math.floor(Math.random() * 1000);
  const started = cli(
    ['start', '--drop', drop, '--fresh', '--s3-port', String(port), '--poll-after', '2', '--retry-ms', '200'],
    { VIDEOGEN_API_URL: videoGen.url },
    work,
  );
  await until(() => started.stdout().includes('Ctrl-C stops'), 120_000, 'start');
  return { ...started, drop };
}

async function throughDropFolder(
  videoGen: VideoGenSimulator,
  work: string,
  gib: number,
): Promise<BigFileResult> {
  const name = `dropped-${gib}gib.mp4`;
  const source = path.join(work, name);
  const sha256 = await bigVideo(source, Math.round(gib * GIB));
  const runtime = await startRuntime(videoGen, work);
  const started = Date.now();
  await copyFile(source, path.join(runtime.drop, name));
  try {
    await until(() => /: (READY|ANALYZED)/.test(runtime.stdout()), 30 * 60_000, `${name} ready`);
  } finally {
    runtime.child.kill('SIGINT');
    await runtime.exited;
    await rm(source, { force: true });
    await rm(runtime.drop, { recursive: true, force: true });
  }
  return {
    how: 'drop folder',
    gib,
    ready: /: (READY|ANALYZED)/.test(runtime.stdout()),
    bytesVerified: received(videoGen, name)?.sha256 === sha256,
    peakRssMb: round(runtime.peakRss() / 1e6, 0),
    seconds: round((Date.now() - started) / 1000, 1),
  };
}

interface FolderResult {
  readonly files: number;
  /** The last file put into the bucket (the drop folder's ledger), from the copy's start. */
  readonly allInBucketSeconds: number;
  readonly firstUploadSeconds: number;
  readonly lastUploadSeconds: number;
  readonly uploadedOnce: boolean;
  readonly peakRssMb: number;
}

async function wholeFolder(videoGen: VideoGenSimulator, work: string, files: number): Promise<FolderResult> {
  const staging = path.join(work, 'library');
  await mkdir(staging, { recursive: true });
  const names = Array.from({ length: files }, (_, index) => `library-${String(index).padStart(5, '0')}.mp4`);
  for (const [index, name] of names.entries()) await writeFile(path.join(staging, name), mp4(2048 + index));
  const runtime = await startRuntime(videoGen, work);
  const before = new Set(videoGen.uploads().map((upload) => upload.fileId));
  const copied = Date.now();
  // As `cp library/* drop/` does: one file after another, as fast as the disk goes.
  for (const name of names) await copyFile(path.join(staging, name), path.join(runtime.drop, name));
  const uploadsOfLibrary = () =>
    videoGen
      .uploads()
      .filter((upload) => upload.status === 200 && !before.has(upload.fileId))
      .map((upload) => ({ at: Date.parse(upload.at), name: videoGen.file(upload.fileId)?.file.displayName }));
  const ledger = path.join(work, '.videogen-ingest', 'dropped.jsonl');
  const inBucket = async () =>
    (await readFile(ledger, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
  let allInBucketSeconds: number;
  try {
    await until(async () => (await inBucket()) >= files, 30 * 60_000, 'every library file in the bucket');
    allInBucketSeconds = round((Date.now() - copied) / 1000, 1);
    await until(() => uploadsOfLibrary().length >= files, 30 * 60_000, 'every library file uploaded');
  } finally {
    runtime.child.kill('SIGINT');
    await runtime.exited;
    await rm(staging, { recursive: true, force: true });
  }
  const uploads = uploadsOfLibrary();
  const times = uploads.map((upload) => upload.at).sort((a, b) => a - b);
  return {
    files,
    allInBucketSeconds,
    firstUploadSeconds: round(((times[0] ?? copied) - copied) / 1000, 1),
    lastUploadSeconds: round(((times.at(-1) ?? copied) - copied) / 1000, 1),
    uploadedOnce: new Set(uploads.map((upload) => upload.name)).size === files && uploads.length === files,
    peakRssMb: round(runtime.peakRss() / 1e6, 0),
  };
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'videogen-big-files-'));
  const videoGen = await VideoGenSimulator.start({ port: 0, processingMs: 500, analysisMs: 100 });
  try {
    const bigFiles: BigFileResult[] = [];
    for (const gib of SIZES_GIB) {
      bigFiles.push(await throughRun(videoGen, work, gib));
      console.error(JSON.stringify(bigFiles.at(-1)));
    }
    if (SIZES_GIB.length > 0) {
      bigFiles.push(await throughDropFolder(videoGen, work, Math.max(...SIZES_GIB)));
      console.error(JSON.stringify(bigFiles.at(-1)));
    }
    const folder = await wholeFolder(videoGen, work, DROP_FILES);
    console.error(JSON.stringify(folder));
    const results = {
      at: new Date().toISOString(),
      machine: `${os.cpus().length} cores, ${round(os.totalmem() / GIB, 0)} GiB`,
      bigFiles,
      folder,
    };
    console.error(`wrote ${RESULTS_JSON}`);
    await mkdir('bench/results', { recursive: true });
    await writeFile(RESULTS_JSON, `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(
      RESULTS_MD,
      [
        '# Big files and whole folders through the embedded default',
        '',
        `${results.at}, ${results.machine}. \`npm run bench:big-files\`; the CLI in its own process, VideoGen a simulator apart.`,
        '',
        '| how | size | ready | bytes verified at VideoGen | peak RSS of the CLI | wall |',
        '| --- | --- | --- | --- | --- | --- |',
        ...bigFiles.map(
          (row) =>
            `| ${row.how} | ${row.gib} GiB | ${row.ready ? 'yes' : 'NO'} | ${row.bytesVerified ? 'yes (SHA-256)' : 'NO'} | ${row.peakRssMb} MB | ${row.seconds} s |`,
        ),
        '',
        `${folder.files} files copied into the drop folder at once: all in the bucket ${folder.allInBucketSeconds} s after the copy began; first upload to VideoGen at ${folder.firstUploadSeconds} s, last at ${folder.lastUploadSeconds} s (10 transfers at once, as deployed); each uploaded once: ${folder.uploadedOnce ? 'yes' : 'NO'}; peak RSS ${folder.peakRssMb} MB.`,
        '',
      ].join('\n'),
    );
    console.log(await readFile(RESULTS_MD, 'utf8'));
  } finally {
    await videoGen.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
