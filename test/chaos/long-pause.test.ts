/**
 * The chaos run's long-pause case: VideoGen answers 429 with `Retry-After: 120` twice while
 * a few hundred files wait in the transfer queue. Every worker waits the pause out holding
 * only its own message, so the backlog is not touched: no file fails for the pauses, none
 * is dead-lettered, and each record counts only the attempts it really made.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import { png } from '#local/media';
import { READY_STATUSES, type IngestRecord } from '#shared/ingest/record';
import { startRuntime } from '../helpers/runtime.ts';

const FILES = Number(process.env.PAUSE_FILES ?? 240);
const CAP = 4;
const RETRY_AFTER_SECONDS = 120;
const RESULTS = process.env.PAUSE_RESULTS ?? 'bench/results/chaos-long-pause-latest.json';

describe(`chaos: ${FILES} queued files, two ${RETRY_AFTER_SECONDS} s rate-limit pauses`, () => {
  let runtime: LocalRuntime;
  let records: IngestRecord[];
  let wallMs = 0;

  beforeAll(async () => {
    runtime = await startRuntime({
      maxConcurrentTransfers: CAP,
      maxWaitSeconds: 600,
      simulator: {
        faults: [
          { fault: 'rate_limit', on: 'create', nth: 20, retryAfterSeconds: RETRY_AFTER_SECONDS },
          { fault: 'rate_limit', on: 'create', nth: 120, retryAfterSeconds: RETRY_AFTER_SECONDS },
        ],
      },
    });
    const started = Date.now();
    for (let index = 0; index < FILES; index += 1)
      await runtime.drop(`pause/${index}.png`, png((index % 50) + 1, 3));
    const deadline = Date.now() + 15 * 60_000;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      records = await runtime.records();
      const running = runtime.stepFunctions.executions().some((execution) => execution.status === 'RUNNING');
      if ((records.length >= FILES && !running) || Date.now() > deadline) break;
    }
    wallMs = Date.now() - started;
  }, 20 * 60_000);

  afterAll(async () => {
    const figures = {
      ranAt: new Date().toISOString(),
      files: FILES,
      cap: CAP,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      wallSeconds: Math.round(wallMs / 100) / 10,
      rateLimited: runtime.simulator?.requests().filter((request) => request.status === 429).length,
      transferInvocations: runtime.lambdas.invocations.transfer,
      transferAttempts: records.reduce((sum, record) => sum + (record.transferAttempts ?? 0), 0),
      deadLettered: runtime.queues.transferDeadLetters.depth,
    };
    await runtime.stop();
    mkdirSync('bench/results', { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`long-pause figures (${RESULTS}):\n${JSON.stringify(figures, null, 2)}`);
  });

  it('met both pauses, and every file still ended ready: none failed for waiting, none dead-lettered', () => {
    expect(runtime.simulator?.requests().filter((request) => request.status === 429)).toHaveLength(2);
    expect(records).toHaveLength(FILES);
    expect(records.filter((record) => !READY_STATUSES.includes(record.status))).toEqual([]);
    expect(runtime.queues.transferDeadLetters.depth).toBe(0);
  });

  it('counts only the attempts made: one per file, and the queue delivered each message about once', () => {
    // The two files that met the 429 waited inside their attempt: still one each.
    expect(records.filter((record) => record.transferAttempts !== 1)).toEqual([]);
    // A pause that hid every waiting message would add a delivery per queued file per pause.
    expect(runtime.lambdas.invocations.transfer).toBeLessThan(FILES + 2 * CAP);
  });
});
