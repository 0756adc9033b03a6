import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { uploadToPresignedUrl, VideoGenClient } from '#shared/videogen/index';
import { VideoGenSimulator, type SimulatorOptions } from '#local/simulator/simulator';
import { mp4, png } from '#local/media';
import { WebhookReceiver } from '../../helpers/net.ts';

const FAST: SimulatorOptions = {
  processingMs: 300,
  playbackMs: 100,
  analysisMs: 50,
  deliveryRetryDelaysMs: [],
};

let folder: string;
let stateFile: string;
const open: { close(): Promise<void> }[] = [];

beforeEach(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'simulator-state-'));
  stateFile = path.join(folder, 'videogen-simulator.jsonl');
});
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
  await rm(folder, { recursive: true, force: true });
});

async function simulator(options: SimulatorOptions = {}) {
  const sim = await VideoGenSimulator.start({ ...FAST, stateFile, ...options });
  open.push(sim);
  return { sim, client: new VideoGenClient({ baseUrl: sim.url, apiKey: 'any-key' }) };
}

async function receiver(client: VideoGenClient) {
  const receiving = await WebhookReceiver.start();
  open.push(receiving);
  const endpoint = await client.createWebhookEndpoint({
    url: receiving.url,
    events: ['file.download_ready'],
  });
  receiving.setSecret(endpoint.secret);
  return { receiving, endpointId: endpoint.id };
}

describe('the simulator with a state file', () => {
  it('goes on with a file it was processing when it closed, and sends its events to the endpoints of then', async () => {
    const first = await simulator();
    const bytes = mp4(4096);
    const { fileId, uploadUrl } = await first.client.createFile({ displayName: 'clip.mp4' });
    await uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length });
    const old = await receiver(first.client);
    await first.client.deleteWebhookEndpoint(old.endpointId); // as a runtime's stop does
    expect((await first.client.getFile(fileId)).status).toBe('PROCESSING');
    await first.sim.close();

    const second = await simulator();
    expect(second.sim.url).toBe(first.sim.url); // the port of before: the URLs it handed out still work
    const now = await receiver(second.client);
    expect((await second.client.getFile(fileId)).status).toBe('PROCESSING');
    await second.sim.settled();
    const file = await second.client.getFile(fileId);
    expect(file).toMatchObject({ status: 'READY', type: 'VIDEO', analysis: { status: 'COMPLETED' } });
    expect(now.receiving.eventTypesOf(fileId)).toEqual(['file.download_ready']);
    expect(old.receiving.received).toEqual([]);
    expect(second.sim.endpoints().find((endpoint) => endpoint.id === old.endpointId)?.deleted).toBe(true);
  });

  it('takes the bytes for a file created before it closed, at the upload URL it handed out then', async () => {
    const first = await simulator();
    const { fileId, uploadUrl } = await first.client.createFile({ displayName: 'photo.png', type: 'IMAGE' });
    await first.sim.close();

    const second = await simulator();
    const bytes = png(5, 5);
    await uploadToPresignedUrl({ url: uploadUrl, body: Readable.from([bytes]), contentLength: bytes.length });
    await second.sim.settled();
    expect((await second.client.getFile(fileId)).status).toBe('READY');
    expect(second.sim.file(fileId)?.puts).toBe(1);
  });

  it('keeps what it wrote before a crash, skipping a line the crash cut short', async () => {
    const first = await simulator();
    const { fileId } = await first.client.createFile({ displayName: 'kept.png' });
    // Changes are written within 200 ms, not only at close: a kill after that loses nothing.
    await expect
      .poll(async () => (await readFile(stateFile, 'utf8')).includes(fileId), { timeout: 2000 })
      .toBe(true);
    await appendFile(stateFile, '{"kind":"file","state":{"fi');
    // No close: the process ended. Its port is taken until the test ends, so the next start
    // gets a new one, and says so.
    const lines: string[] = [];
    const second = await simulator({ log: (line) => lines.push(line) });
    expect((await second.client.getFile(fileId)).displayName).toBe('kept.png');
    expect(lines.join('\n')).toMatch(/port \d+ of the last start is taken/);
  });

  it('starts empty without one', async () => {
    const first = await simulator();
    const { fileId } = await first.client.createFile({ displayName: 'gone.png' });
    await first.sim.close();
    const sim = await VideoGenSimulator.start(FAST);
    open.push(sim);
    await expect(new VideoGenClient({ baseUrl: sim.url, apiKey: 'k' }).getFile(fileId)).rejects.toThrow();
  });
});
