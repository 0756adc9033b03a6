/**
 * `npm run samples`: writes a few small, real media files (and one that is not media) to
 * ./samples, to try `npx videogen-ingest-local run --json samples/*` or to copy into ./drop.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mp4, png, text, wav } from './media.ts';

const folder = path.resolve(process.argv[2] ?? 'samples');
const samples: Record<string, Buffer> = {
  'photo.png': png(64, 48),
  'clip.mp4': mp4(64 * 1024),
  'voice.wav': wav(1),
  'notes.txt': text('Not a media file: the ingest records it REJECTED (NOT_MEDIA).\n'),
};
await mkdir(folder, { recursive: true });
for (const [name, bytes] of Object.entries(samples)) await writeFile(path.join(folder, name), bytes);
console.log(`wrote ${Object.keys(samples).join(', ')} to ${folder}`);
