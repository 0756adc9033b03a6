// One Lambda execution environment: a worker thread with the function's own environment
// variables, that loads the function's deployed bundle once (its cold start) and serves
// one invocation at a time, keeping module scope between them as Lambda does.
// Plain JavaScript: the environment runs the bundle, nothing of the project's TypeScript.
import * as nodeModule from 'node:module';
import os from 'node:os';
import process from 'node:process';
import { Buffer } from 'node:buffer';
import { openSync, readSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

/** CPU this thread has used (µs); `process.threadCpuUsage` is Node 22.19's and later. */
const threadCpuMicros = () => {
  const usage = process.threadCpuUsage?.();
  return usage ? usage.user + usage.system : 0;
};

/**
 * Time this thread has spent ready to run but waiting for a core (µs): the second field of
 * Linux's schedstat. 0 where there is none, so elsewhere that wait counts as waiting on the
 * network, and `environments.ts` grows a function on a busy machine as it did before it
 * could tell the two apart.
 */
const schedstat = (() => {
  try {
    // Opened once, read from its start at each call: /proc regenerates it on every read, and
    // an open, a read and a close per call cost more than the rest of the invocation's plumbing.
    return openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return undefined;
  }
})();
const schedstatText = Buffer.alloc(128);
const readyMicros = () => {
  if (schedstat === undefined) return 0;
  const length = readSync(schedstat, schedstatText, 0, schedstatText.length, 0);
  return Number(schedstatText.latin1Slice(0, length).split(' ')[1]) / 1000;
};

/** An error as Lambda reports it: its name (`errorType`), message and stack. */
function describe(error) {
  return error instanceof Error
    ? { name: error.name, message: error.message, stack: error.stack }
    : { name: 'Error', message: String(error) };
}

// Node's on-disk code cache: a cold start reads the bundle's compiled code instead of
// compiling it again (Lambda's own cold starts are faster than a worker's; this narrows it).
if (workerData.compileCache) nodeModule.enableCompileCache?.(workerData.compileCache);

// The environment yields the CPU to the runtime's services by `niceness` steps (why, and how
// much: ENVIRONMENT_NICENESS in environment.ts). Only Linux keeps a nice value per thread;
// elsewhere it is the process's, the services' too, so it is left alone there.
if (process.platform === 'linux' && workerData.niceness > 0) {
  try {
    os.setPriority(0, Math.min(19, os.getPriority(0) + workerData.niceness));
  } catch {
    // A system that refuses it runs the environment at the default priority.
  }
}

let handler;
let initError;
try {
  const loaded = await import(pathToFileURL(workerData.bundle).href);
  // A CommonJS bundle's exports may arrive only as the default export.
  handler = loaded[workerData.exportName] ?? loaded.default?.[workerData.exportName];
  if (typeof handler !== 'function') {
    throw new Error(`${workerData.bundle} exports no function named ${workerData.exportName}`);
  }
} catch (error) {
  initError = describe(error);
}

/**
 * Resolves once everything the invocation wrote has reached the runtime (a worker's stdio
 * write is acknowledged when the parent has it): its log lines are never lost to a stop
 * that follows the answer, and never trail the next invocation's.
 */
const flushOutput = () =>
  Promise.all(
    [process.stdout, process.stderr]
      // A worker's stream counts a write until the parent acknowledges it: at 0, all has arrived,
      // and an empty write would only cost a message each way.
      .filter((stream) => stream.writableLength > 0)
      .map((stream) => new Promise((resolve) => stream.write('', resolve))),
  );

parentPort.on('message', async ({ id, event, deadline, awsRequestId }) => {
  const cpuAtStart = threadCpuMicros();
  const readyAtStart = readyMicros();
  const heap = () => getHeapStatistics().used_heap_size;
  const cpuMicros = () => threadCpuMicros() - cpuAtStart;
  if (initError)
    return parentPort.postMessage({ id, error: initError, heapBytes: heap(), cpuMicros: cpuMicros() });
  const context = {
    ...workerData.context,
    awsRequestId,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(JSON.parse(event), context);
    await flushOutput();
    parentPort.postMessage({
      id,
      result: JSON.stringify(result ?? null),
      heapBytes: heap(),
      cpuMicros: cpuMicros(),
      readyMicros: readyMicros() - readyAtStart,
    });
  } catch (error) {
    await flushOutput();
    parentPort.postMessage({
      id,
      error: describe(error),
      heapBytes: heap(),
      cpuMicros: cpuMicros(),
      readyMicros: readyMicros() - readyAtStart,
    });
  }
});
// The cold start's CPU: the thread's start and the bundle's module scope.
parentPort.postMessage({ ready: true, cpuMicros: threadCpuMicros() });
