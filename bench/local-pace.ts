/**
 * `npm run bench:pace`: the local runtime as its users run it, against a VideoGen API in a
 * process of its own (the simulator, `videogen-ingest-local sim`, answering at once), so
 * every figure is the runtime's own cost. Writes `bench/results/local-pace.json` and `.md`:
 *
 * - `run`: 505 files through `videogen-ingest-local run --json`, from the command's start
 *   to its exit, and the peak RSS of its processes;
 * - `start`: 1,000 files copied into the drop folder of a running `start` (the default
 *   settle time included), until VideoGen has stored all their bytes.
 *
 *   npm run bench:pace -- --run-files 505 --drop-files 1000
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { png } from '../local/media.ts';
import { sampleRss } from './cpu-figures.ts';

const { values } = parseArgs({
  options: {
    'run-files': { type: 'string', default: '505' },
    'drop-files': { type: 'string', default: '1000' },
  },
});
const RUN_FILES = Number(values['run-files']);
const DROP_FILES = Number(values['drop-files']);
const CLI = path.resolve('local/bin.mjs');
const RESULTS_JSON = 'bench/results/local-pace.json';
const RESULTS_MD = 'bench/results/local-pace.md';

/** Every process under `pid`, from `/proc` (none where there is no `/proc`). */
function descendants(pid: number): number[] {
  const found: number[] = [];
  const visit = (parent: number) => {
    let children: string[] = [];
    try {
      for (const task of readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').split(' '))
        if (task.trim()) children.push(task.trim());
    } catch {
      children = [];
    }
    for (const child of children.map(Number)) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

/** The peak RSS of `child` and everything it started, sampled every 250 ms (Linux). */
function trackRss(child: ChildProcess): () => number {
  let peak = 0;
  const sample = () => {
    if (child.pid === undefined) return;
    const pids = [child.pid, ...descendants(child.pid)];
    peak = Math.max(peak, sampleRss(pids));
  };
  const timer = setInterval(sample, 250);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A folder of `count` distinct small PNGs. */
function pngFolder(count: number, prefix: string): { dir: string; files: string[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), `pace-${prefix}-`));
  const files = Array.from({ length: count }, (_, index) => {
    const file = path.join(dir, `${prefix}-${index}.png`);
    writeFileSync(file, png((index % 64) + 1, 2 + Math.floor(index / 64)));
    return file;
  });
  return { dir, files };
}

/** How VideoGen's webhook deliveries went: attempts answered 2xx, refused (4xx, a throttle), not answered within its timeout, and events it gave up on. */
interface DeliveryCounts {
  /** Events sent (their first attempts). */
  events: number;
  delivered: number;
  refused: number;
  timedOut: number;
  givenUp: number;
}

/** Counts one line of the simulator's log (`deliver <type> <file> #N -> <outcome> …`) into `counts`. */
function countDelivery(line: string, counts: DeliveryCounts): void {
  const match = /deliver \S+ \S+ #(\d+) -> (delivered|failed)( 4\d\d)?( \(no answer within)?/.exec(line);
  if (!match) return;
  if (match[1] === '1') counts.events += 1;
  if (match[2] === 'delivered') counts.delivered += 1;
  else if (match[3]) counts.refused += 1;
  else if (match[4]) counts.timedOut += 1;
  if (line.endsWith(', given up')) counts.givenUp += 1;
}

/** The simulator in a process of its own; counts the uploads it stored and its webhook deliveries. */
async function startApi(): Promise<{
  url: string;
  stored: () => number;
  deliveries: () => DeliveryCounts;
  onStored: (n: number) => Promise<void>;
  stop: () => Promise<void>;
}> {
  const child = spawn(
    process.execPath,
    [CLI, 'sim', '--port', '0', '--processing-ms', '0', '--analysis-ms', '0'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stored = 0;
  const deliveries: DeliveryCounts = { events: 0, delivered: 0, refused: 0, timedOut: 0, givenUp: 0 };
  const waiters: { count: number; resolve: () => void }[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    countDelivery(line, deliveries);
    if (!/PUT \/upload\/\S+ -> 200 stored/.test(line)) return;
    stored += 1;
    for (const waiter of waiters.filter((candidate) => candidate.count <= stored)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /listening on (\S+)/.exec(line);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`the simulator exited with ${code}`)));
  });
  return {
    url,
    stored: () => stored,
    deliveries: () => ({ ...deliveries }),
    onStored: (count) =>
      new Promise((resolve) => (stored >= count ? resolve() : waiters.push({ count, resolve }))),
    stop: () => {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      return exited;
    },
  };
}

async function measureRun(apiUrl: string): Promise<Record<string, number>> {
  const { dir, files } = pngFolder(RUN_FILES, 'run');
  try {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, 'run', '--json', ...files], {
      env: { ...process.env, VIDEOGEN_API_URL: apiUrl },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const peakRss = trackRss(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const wallMs = performance.now() - started;
    const records = JSON.parse(output || '[]') as { status: string }[];
    return {
      files: RUN_FILES,
      exitCode: code ?? -1,
      ready: records.filter((record) => ['READY', 'ANALYZED'].includes(record.status)).length,
      wallSeconds: Math.round(wallMs / 100) / 10,
      peakRssMb: Math.round(peakRss() / 1_000_000),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The delivery counts once every event sent was delivered or given up (VideoGen retries for about 31 s), or after 2 minutes. */
async function settledDeliveries(api: Awaited<ReturnType<typeof startApi>>): Promise<DeliveryCounts> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    const counts = api.deliveries();
    if (counts.delivered + counts.givenUp >= counts.events || performance.now() > deadline) return counts;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function measureDropFolder(api: Awaited<ReturnType<typeof startApi>>): Promise<Record<string, number>> {
  const { dir: source, files } = pngFolder(DROP_FILES, 'drop');
  const work = mkdtempSync(path.join(os.tmpdir(), 'pace-start-'));
  const drop = path.join(work, 'drop');
  mkdirSync(drop);
  const child = spawn(
    process.execPath,
    [
      CLI,
      'start',
      '--fresh',
      '--drop',
      drop,
      '--state-dir',
      path.join(work, 'state'),
      '--s3-port',
      String(await freePort()),
    ],
    { env: { ...process.env, VIDEOGEN_API_URL: api.url }, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const peakRss = trackRss(child);
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.includes('is running locally')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`start exited with ${code}`)));
    });
    const before = api.stored();
    const deliveriesBefore = api.deliveries();
    const started = performance.now();
    // As `cp` copies a library into the folder: one file after another, at disk speed.
    for (const file of files) copyFileSync(file, path.join(drop, path.basename(file)));
    const copiedMs = performance.now() - started;
    await api.onStored(before + DROP_FILES);
    const allUploadedMs = performance.now() - started;
    const peakRssMb = Math.round(peakRss() / 1_000_000);
    const deliveries = await settledDeliveries(api);
    return {
      files: DROP_FILES,
      copiedSeconds: Math.round(copiedMs / 100) / 10,
      allUploadedSeconds: Math.round(allUploadedMs / 100) / 10,
      peakRssMb,
      ...Object.fromEntries(
        Object.entries(deliveries).map(([name, count]) => [
          `webhook_${name}`,
          count - deliveriesBefore[name as keyof DeliveryCounts],
        ]),
      ),
    };
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGINT');
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
    rmSync(source, { recursive: true, force: true });
  }
}

const api = await startApi();
try {
  console.error(`run: ${RUN_FILES} files through videogen-ingest-local run against ${api.url}…`);
  const run = await measureRun(api.url);
  console.error(`start: ${DROP_FILES} files copied into the drop folder…`);
  const start = await measureDropFolder(api);
  const figures = {
    machine: { cpus: os.availableParallelism(), node: process.version, measuredAt: new Date().toISOString() },
    run,
    start,
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(RESULTS_JSON, `${JSON.stringify(figures, null, 2)}\n`);
  const markdown = `# The local runtime's pace, as its users run it

Measured ${figures.machine.measuredAt} on ${figures.machine.cpus} cores, Node ${figures.machine.node} (\`npm run bench:pace\`), against the simulator in a process of its own, answering at once (processing 0 ms).

| what | target | measured |
| --- | --- | --- |
| \`run --json\` of ${run.files} files, start to exit | ≤ 20 s, peak RSS ≤ 1 GB | ${run.wallSeconds} s, ${run.peakRssMb} MB (exit ${run.exitCode}, ${run.ready} ready) |
| ${start.files} files copied into a running \`start\`'s drop folder, until all stored at VideoGen | ≤ 30 s | ${start.allUploadedSeconds} s (copied in ${start.copiedSeconds} s; the drop folder's 5 s settle included), peak RSS ${start.peakRssMb} MB |

The drop's webhook deliveries, as VideoGen saw them: ${start.webhook_events} events, ${start.webhook_delivered} delivered, ${start.webhook_refused} attempts refused (the stage's throttle, or every webhook environment busy past a second), ${start.webhook_timedOut} not answered within VideoGen's 5 s, ${start.webhook_givenUp} events given up after VideoGen's retries (their files then wait for their poll).
`;
  writeFileSync(RESULTS_MD, markdown);
  console.log(markdown);
} finally {
  await api.stop();
}
