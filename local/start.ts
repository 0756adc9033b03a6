/**
 * `videogen-ingest start`: drop files into ./drop and watch each become a VideoGen file.
 *
 * This is the direct path: the VideoGen client uploads each dropped file to the
 * simulator (or the API at VIDEOGEN_API_URL) and a local webhook endpoint verifies and
 * prints every lifecycle event. The Step Functions workflow on the local emulators
 * replaces the upload loop here once the local runtime lands (see the README's roadmap).
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  createWebhookVerifier,
  uploadToPresignedUrl,
  VideoGenClient,
  WEBHOOK_EVENT_TYPES,
} from '#shared/videogen/index';
import { UsageError } from './simulator/cli.ts';
import { VideoGenSimulator } from './simulator/simulator.ts';
import { untilStopped } from './signals.ts';

export const START_USAGE = `Usage: videogen-ingest start [--drop DIR]

Starts the VideoGen simulator (unless VIDEOGEN_API_URL is set) and a local webhook
endpoint, then uploads every file that appears in DIR and prints its lifecycle.

Options:
  --drop DIR    the folder to watch   [default: ./drop]
  -h, --help    this text

Environment:
  VIDEOGEN_API_URL, VIDEOGEN_API_KEY   use this VideoGen-compatible API instead of the simulator`;

export async function runStart(args: readonly string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { drop: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(START_USAGE);
    return;
  }
  const dropDir = path.resolve(values.drop ?? 'drop');
  await mkdir(dropDir, { recursive: true });

  const externalUrl = process.env.VIDEOGEN_API_URL;
  const sim = externalUrl ? undefined : await VideoGenSimulator.start({ port: 0 });
  const apiUrl = externalUrl ?? sim?.url ?? '';
  const client = new VideoGenClient({
    baseUrl: apiUrl,
    apiKey: process.env.VIDEOGEN_API_KEY ?? 'local-dev-key',
  });

  // Listen first (registration needs the URL), then verify with the secret it answers.
  const receiver = http.createServer();
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/videogen`;
  const endpoint = await client.createWebhookEndpoint({ url: webhookUrl, events: [...WEBHOOK_EVENT_TYPES] });
  const verify = createWebhookVerifier(endpoint.secret);
  receiver.on('request', (request: http.IncomingMessage, response: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        const { event } = verify({
          headers: request.headers as Record<string, string>,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        const file = event.data.file;
        console.log(
          `${file.displayName ?? file.fileId}: ${event.type} (${file.status}, ${file.type ?? 'type pending'})`,
        );
        response.writeHead(204).end();
      } catch (error) {
        console.error(`webhook refused: ${error instanceof Error ? error.message : String(error)}`);
        response.writeHead(401).end();
      }
    });
  });

  console.log(`VideoGen API:  ${apiUrl}${sim ? ' (simulator)' : ''}`);
  console.log(`Webhook URL:   ${webhookUrl}`);
  console.log(`Drop folder:   ${dropDir}`);
  console.log('Copy files into the drop folder; Ctrl-C stops.');

  const seen = new Set<string>();
  const uploadNew = async (): Promise<void> => {
    for (const name of await readdir(dropDir)) {
      if (seen.has(name) || name.startsWith('.')) continue;
      const fullPath = path.join(dropDir, name);
      const info = await stat(fullPath);
      if (!info.isFile()) continue;
      // A file still being copied grows between two looks; take it on the next scan.
      await new Promise((resolve) => setTimeout(resolve, 200));
      if ((await stat(fullPath)).size !== info.size) continue;
      seen.add(name);
      try {
        const { fileId, uploadUrl } = await client.createFile({ displayName: name });
        await uploadToPresignedUrl({
          url: uploadUrl,
          body: createReadStream(fullPath),
          contentLength: info.size,
        });
        console.log(`${name}: uploaded ${info.size} bytes as ${fileId}`);
      } catch (error) {
        console.error(
          `${name}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        );
      }
    }
  };
  let scanning = Promise.resolve();
  const scan = (): void => {
    scanning = scanning.then(uploadNew).catch((error: unknown) => {
      console.error(`scan failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  };
  scan();
  const interval = setInterval(scan, 1000);

  await untilStopped();
  clearInterval(interval);
  await scanning;
  await client.deleteWebhookEndpoint(endpoint.id).catch(() => undefined);
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  await sim?.close();
  console.log('stopped');
}
