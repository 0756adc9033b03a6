/**
 * Runs the example consumer locally, end to end: a catalog service on loopback (it prints
 * each announcement it gets), then the example app (`app.ts`) through `videogen-ingest-local run
 * --app`, over the files given or a few generated ones. Each READY file is announced once.
 *
 *   npm run example:stream-consumer [-- FILE...]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mp4, png } from '../../local/media.ts';
import type { CatalogEntry } from './catalog.ts';

const announced: CatalogEntry[] = [];
const catalog = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const entry = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CatalogEntry;
    announced.push(entry);
    console.log(`catalog: ${entry.source} is ready as ${entry.fileId} (${entry.type ?? 'unknown type'})`);
    response.writeHead(201).end();
  });
});
await new Promise<void>((resolve) => catalog.listen(0, '127.0.0.1', resolve));
const catalogUrl = `http://127.0.0.1:${(catalog.address() as AddressInfo).port}/entries`;

let files = process.argv.slice(2).map((file) => path.resolve(file));
const samples = files.length === 0 ? await mkdtemp(path.join(tmpdir(), 'videogen-catalog-')) : undefined;
if (samples) {
  files = [
    path.join(samples, 'poster.png'),
    path.join(samples, 'teaser.mp4'),
    path.join(samples, 'logo.png'),
  ];
  await writeFile(files[0] as string, png(8, 6));
  await writeFile(files[1] as string, mp4());
  await writeFile(files[2] as string, png(4, 4));
}
console.error(`catalog service on ${catalogUrl}; running the example app over ${files.length} files…`);
const cli = spawn(
  process.execPath,
  [
    path.join(import.meta.dirname, '../../local/bin.mjs'),
    'run',
    '--app',
    import.meta.dirname,
    '--processing-ms',
    '200',
    '--analysis-ms',
    '100',
    ...files,
  ],
  { env: { ...process.env, CATALOG_URL: catalogUrl }, stdio: ['ignore', 'inherit', 'inherit'] },
);
const [code] = (await once(cli, 'exit')) as [number];
catalog.close();
if (samples) await rm(samples, { recursive: true, force: true });
console.log(`${announced.length} announcement${announced.length === 1 ? '' : 's'} for ${files.length} files`);
process.exitCode = code;
