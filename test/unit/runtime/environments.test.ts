import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FunctionEnvironments, type EnvironmentSpec } from '#local/services/lambda/environments';
import { StartGate } from '#local/services/lambda/start-gate';
import { ANSWERING_ENVIRONMENT_NICENESS, ENVIRONMENT_NICENESS } from '#local/services/lambda/environment';

const dir = mkdtempSync(path.join(tmpdir(), 'environments-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bundle like esbuild's: module scope that lives as long as its environment. */
const bundle = path.join(dir, 'index.mjs');
writeFileSync(
  bundle,
  `import { getPriority } from 'node:os';
let invocations = 0;
export const handler = async (event, context) => {
  invocations += 1;
  if (event.priority) return { priority: getPriority() };
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  for (let line = 0; line < (event.lines ?? 0); line++) {
    console.log(\`out \${invocations}.\${line} \${'x'.repeat(200)}\`);
    process.stderr.write(\`err \${invocations}.\${line}\\n\`);
  }
  // Busy for spinMs of this thread's CPU (not of the wall clock, which a loaded machine stretches).
  const cpu = () => { const { user, system } = process.threadCpuUsage(); return (user + system) / 1000; };
  for (const until = cpu() + (event.spinMs ?? 0); cpu() < until; );
  if (event.fail) throw Object.assign(new Error('bad input'), { name: 'VideoGenValidationError' });
  if (event.crash) setImmediate(() => { throw new Error('uncaught'); });
  if (event.crash) await new Promise(() => undefined);
  return { invocations, secret: process.env.SECRET ?? null, other: process.env.OTHER ?? null, name: context.functionName };
};
`,
);
const brokenBundle = path.join(dir, 'broken.mjs');
writeFileSync(
  brokenBundle,
  `throw Object.assign(new Error('TABLE_NAME is missing'), { name: 'ConfigError' });\n`,
);

/** A bundle whose module scope takes 400 ms, saying on its output when it began and ended. */
const slowStartBundle = path.join(dir, 'slow-start.mjs');
writeFileSync(
  slowStartBundle,
  `console.log('init ' + (performance.timeOrigin + performance.now()));
await new Promise((resolve) => setTimeout(resolve, 400));
console.log('ready ' + (performance.timeOrigin + performance.now()));
export const handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return {};
};
`,
);

const spec = (overrides: Partial<EnvironmentSpec> = {}): EnvironmentSpec => ({
  functionName: 'fn',
  functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
  memoryMiB: 128,
  timeoutSeconds: 1,
  bundle,
  variables: { SECRET: 'mine' },
  maxEnvironments: 2,
  startGate: new StartGate(2),
  ...overrides,
});

let open: FunctionEnvironments[] = [];
function environments(overrides?: Partial<EnvironmentSpec>): FunctionEnvironments {
  const created = new FunctionEnvironments(spec(overrides));
  open.push(created);
  return created;
}
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(open.map((created) => created.close()));
  open = [];
});

describe('function environments', () => {
  it('keep module scope between invocations of a warm environment, with the function’s own variables only', async () => {
    // Stubbed, and undone after each test however it ends (the files of a worker share a process).
    vi.stubEnv('OTHER', 'the runtime’s, not the function’s');
    const fn = environments();
    expect(await fn.invoke({})).toEqual({ invocations: 1, secret: 'mine', other: null, name: 'fn' });
    expect(await fn.invoke({})).toMatchObject({ invocations: 2 });
    expect(fn.figures).toMatchObject({ coldStarts: 1, environments: 1 });
  });

  it('serve one invocation at a time: long ones that would outwait a cold start get environments of their own, up to the cap', async () => {
    const fn = environments({ maxEnvironments: 2 });
    const answers = (await Promise.all([1, 2, 3, 4].map(() => fn.invoke({ sleepMs: 600 })))) as {
      invocations: number;
    }[];
    expect(fn.figures).toMatchObject({ coldStarts: 2, environments: 2, peakConcurrency: 4 });
    // Four invocations over two environments: each environment counted two.
    expect(answers.map((answer) => answer.invocations).sort()).toEqual([1, 1, 2, 2]);
  });

  it('serve a burst of short invocations from warm environments, in arrival order, instead of an isolate each', async () => {
    // At the runtime's own priority: this is about the line's order, and a thread ten nice
    // steps down can be kept waiting on a busy machine long enough to finish out of step.
    const fn = environments({ maxEnvironments: 16, niceness: 0 });
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, (_, index) => fn.invoke({ sleepMs: 2 }).then(() => order.push(index))),
    );
    // One environment, or two when a start took longer than the estimate; never one each.
    expect(fn.figures.coldStarts).toBeLessThanOrEqual(2);
    expect(fn.figures.peakConcurrency).toBe(16);
    // The line is served first come, first served (one environment, or two out of step by one).
    expect(order.filter((index, at) => Math.abs(index - at) > 1)).toEqual([]);
  });

  it('start no second environment for busy invocations while every core is busy, and grow once a core idles', async () => {
    let idleCores = 0;
    const fn = environments({
      maxEnvironments: 2,
      sparesBusyCores: true,
      startGate: new StartGate(2, () => idleCores),
      // At the runtime's priority, with time to spare: on a machine loaded by the other test
      // files, a thread ten nice steps down can take seconds over 300 ms of CPU.
      niceness: 0,
      timeoutSeconds: 20,
    });
    // Four invocations that outwait a cold start on the CPU, on a machine with no core to
    // spare: one environment serves them in turn.
    await Promise.all([1, 2, 3, 4].map(() => fn.invoke({ spinMs: 300 })));
    expect(fn.figures).toMatchObject({ coldStarts: 1, environments: 1, peakConcurrency: 4 });

    idleCores = 1;
    await Promise.all([1, 2, 3, 4].map(() => fn.invoke({ spinMs: 300 })));
    expect(fn.figures).toMatchObject({ coldStarts: 2, environments: 2 });
  });

  it('start one environment of a function at a time, reading the line again once it serves', async () => {
    const output: string[] = [];
    const fn = environments({
      bundle: slowStartBundle,
      maxEnvironments: 4,
      startGate: new StartGate(4),
      niceness: 0,
      timeoutSeconds: 20,
      onOutput: (line) => output.push(line),
    });
    // Six long invocations at once: the line outwaits a cold start, so the function grows.
    await Promise.all(Array.from({ length: 6 }, () => fn.invoke({ sleepMs: 1500 })));
    expect(fn.figures.coldStarts).toBeGreaterThanOrEqual(2);
    // Never two environments' module scopes running at once.
    let starting = 0;
    let mostAtOnce = 0;
    const events = output
      .map((line) => line.split(' '))
      .map(([what, at]) => ({ step: what === 'init' ? 1 : -1, at: Number(at) }))
      .sort((a, b) => a.at - b.at || a.step - b.step);
    for (const { step } of events) {
      starting += step;
      mostAtOnce = Math.max(mostAtOnce, starting);
    }
    expect(events).toHaveLength(2 * fn.figures.coldStarts);
    expect(mostAtOnce).toBe(1);
  });

  it('grow a function whose invocations wait on the network though every core is busy', async () => {
    const fn = environments({
      maxEnvironments: 2,
      sparesBusyCores: true,
      startGate: new StartGate(2, () => 0),
    });
    // The first one tells how it spends its time: asleep, off every core.
    await fn.invoke({ sleepMs: 50 });
    await Promise.all([1, 2, 3, 4].map(() => fn.invoke({ sleepMs: 600 })));
    expect(fn.figures).toMatchObject({ coldStarts: 2, environments: 2 });
  });

  it('grow a function to its deployed concurrency once its line has waited a cold start in all, though no invocation alone outwaits one', async () => {
    const options = {
      bundle: slowStartBundle,
      maxEnvironments: 2,
      sparesBusyCores: true,
      startGate: new StartGate(2, () => 2),
      niceness: 0,
      timeoutSeconds: 20,
    };
    // A queue mapping's maximum concurrency (the transfer cap), and a function without one.
    const atItsCap = environments({ ...options, fillsDeployedConcurrency: true });
    const other = environments(options);
    // Two callers, each invoking again once its last invocation answers: the second waits one
    // 150 ms invocation at most, under the 400 ms module scope of a start, but always.
    const keepCalling = async (fn: FunctionEnvironments) => {
      for (const until = performance.now() + 2000; performance.now() < until;)
        await fn.invoke({ sleepMs: 150 });
    };
    await Promise.all(
      [atItsCap, other].map(async (fn) => {
        await fn.invoke({ sleepMs: 150 }); // its first environment, and its cold start's time
        await Promise.all([keepCalling(fn), keepCalling(fn)]);
      }),
    );
    expect(atItsCap.figures.environments).toBe(2);
    // Its line comes and goes as far as it knows: it grows only when one wait would pass a start.
    expect(other.figures.environments).toBe(1);
  });

  it('grow a function that answers a caller whatever the cores do (its environments run above the others)', async () => {
    const fn = environments({ maxEnvironments: 2, startGate: new StartGate(2, () => 0) });
    await Promise.all([1, 2, 3, 4].map(() => fn.invoke({ sleepMs: 600 })));
    expect(fn.figures).toMatchObject({ coldStarts: 2, environments: 2 });
  });

  it('refuse at once, as Lambda’s 429, an invocation whose wait for a busy environment would pass its caller’s limit', async () => {
    const fn = environments({ maxEnvironments: 1 });
    await fn.invoke({ sleepMs: 250 }); // warm, and the pace of an invocation known: ~250 ms
    const settled: string[] = [];
    const burst = Array.from({ length: 8 }, (_, index) =>
      fn.invoke({ sleepMs: 250 }, { maxWaitMs: 1000 }).then(
        () => settled.push(`ran ${index}`),
        (error: unknown) => settled.push(`${(error as Error).name} ${index}`),
      ),
    );
    // Without a limit (a queue's poller), an invocation waits its turn however long the line.
    const patient = fn.invoke({ sleepMs: 1 });
    await Promise.all([...burst, patient]);
    const refused = settled.filter((outcome) => outcome.startsWith('TooManyRequestsException'));
    const ran = settled.filter((outcome) => outcome.startsWith('ran'));
    // One runs, the line holds about a second of them; the rest are refused before any ends.
    expect(ran.length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(settled.slice(0, refused.length)).toEqual(refused);
    expect(fn.figures.shed).toBe(refused.length);
    expect(await patient).toMatchObject({ invocations: 2 + ran.length });
  });

  it('hand on every line an invocation wrote before its answer, whole and in order, on each stream', async () => {
    const lines: { line: string; stream: string }[] = [];
    const fn = environments({ onOutput: (line, stream) => lines.push({ line, stream }) });
    const written = (invocation: number, stream: string, count: number) =>
      Array.from({ length: count }, (_, line) =>
        stream === 'stdout' ? `out ${invocation}.${line} ${'x'.repeat(200)}` : `err ${invocation}.${line}`,
      );
    const of = (stream: string) =>
      lines.filter((entry) => entry.stream === stream).map((entry) => entry.line);
    // About 1 MB of stdout: many writes still unacknowledged when the handler returns.
    await fn.invoke({ lines: 5000 });
    expect(of('stdout')).toEqual(written(1, 'stdout', 5000));
    expect(of('stderr')).toEqual(written(1, 'stderr', 5000));
    // An invocation that writes nothing answers without waiting on the streams, and loses nothing after.
    await fn.invoke({});
    await fn.invoke({ lines: 3 });
    expect(of('stdout').slice(5000)).toEqual(written(3, 'stdout', 3));
    expect(of('stderr').slice(5000)).toEqual(written(3, 'stderr', 3));
  });

  it('count the CPU of the invocations and of the environments’ starts apart', async () => {
    const fn = environments();
    await fn.invoke({});
    const afterOne = fn.figures;
    await fn.invoke({ spinMs: 30 });
    const { cpuMs, startCpuMs } = fn.figures;
    // A module scope and a thread's start cost CPU; 30 ms of busy work, at least that much.
    expect(startCpuMs).toBeGreaterThan(0);
    expect(startCpuMs).toBe(afterOne.startCpuMs);
    expect(cpuMs - afterOne.cpuMs).toBeGreaterThanOrEqual(25);
  });

  it('run below the runtime’s services on Linux, whose nice value is a thread’s own, a webhook’s less far, and leave the runtime’s priority as it was', async () => {
    const runtimePriority = getPriority();
    const priorityOf = async (fn: FunctionEnvironments) =>
      ((await fn.invoke({ priority: true })) as { priority: number }).priority;
    const below = (steps: number) =>
      process.platform === 'linux' ? Math.min(19, runtimePriority + steps) : runtimePriority;
    expect(await priorityOf(environments())).toBe(below(ENVIRONMENT_NICENESS));
    // A function whose caller waits on the line runs above the others.
    expect(await priorityOf(environments({ niceness: ANSWERING_ENVIRONMENT_NICENESS }))).toBe(
      below(ANSWERING_ENVIRONMENT_NICENESS),
    );
    expect(ANSWERING_ENVIRONMENT_NICENESS).toBeLessThan(ENVIRONMENT_NICENESS);
    expect(getPriority()).toBe(runtimePriority);
  });

  it('end an environment that timed out (Sandbox.Timedout): the next invocation starts cold', async () => {
    const fn = environments({ timeoutSeconds: 0.2 });
    await expect(fn.invoke({ sleepMs: 5_000 })).rejects.toMatchObject({ name: 'Sandbox.Timedout' });
    expect(await fn.invoke({})).toMatchObject({ invocations: 1 });
    expect(fn.figures.coldStarts).toBe(2);
  });

  it('pass a handler’s error on by its name and keep the environment; a crash ends it', async () => {
    const fn = environments();
    await expect(fn.invoke({ fail: true })).rejects.toMatchObject({
      name: 'VideoGenValidationError',
      message: 'bad input',
    });
    expect(await fn.invoke({})).toMatchObject({ invocations: 2 });
    await expect(fn.invoke({ crash: true })).rejects.toMatchObject({ name: 'Runtime.ExitError' });
    expect(await fn.invoke({})).toMatchObject({ invocations: 1 });
  });

  it('fail every invocation with the init error of a bundle whose module scope throws', async () => {
    const fn = environments({ bundle: brokenBundle });
    await expect(fn.invoke({})).rejects.toMatchObject({
      name: 'ConfigError',
      message: 'TABLE_NAME is missing',
    });
  });
});
