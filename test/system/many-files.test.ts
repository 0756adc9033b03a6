/** Fifty files dropped at once through one runtime: the functions scale out as Lambda does, nothing is lost. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import { png } from '#local/media';
import { ingestAll, receivedBy, sha256, startRuntime } from '../helpers/runtime.ts';

describe('the local runtime, with many files at once', () => {
  let runtime: LocalRuntime;
  beforeAll(async () => {
    // Webhooks carry every file here; a loaded CI machine must not send one down the poll path.
    runtime = await startRuntime({ maxFileSizeBytes: 64 * 1024, pollAfterSeconds: 30 });
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('takes 50 files at once: 50 VideoGen files, every byte accounted for', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 50 }, (_, index) => [`batch/${index}.png`, { body: png(index + 1, 3) }]),
    );

    const records = await ingestAll(runtime, files);

    const batch = Object.entries(records).filter(([key]) => key.startsWith('batch/'));
    expect(batch).toHaveLength(50);
    expect(new Set(batch.map(([, record]) => record.fileId)).size).toBe(50);
    for (const [key, record] of batch) {
      expect(record.status, key).toMatch(/READY|ANALYZED/);
      expect(receivedBy(runtime, record)?.sha256).toBe(sha256(files[key]?.body ?? Buffer.alloc(0)));
    }
  });
});
