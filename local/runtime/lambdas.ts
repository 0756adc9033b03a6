/**
 * The deployed Lambda functions, run locally as Lambda runs them: each from its deployed
 * bundle, in execution environments of its own (see `environments.ts`), with the
 * environment the template gives it, and the function's timeout (`Sandbox.Timedout`).
 */
import { availableParallelism } from 'node:os';
import type { Template } from 'aws-cdk-lib/assertions';
import { HANDLER_METADATA_KEY, type HandlerName } from '../../lib/ingest-function.ts';
import type { Bundles } from './bundles.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './cfn.ts';
import { FunctionEnvironments, StartGate, type EnvironmentFigures } from './environments.ts';

export interface LocalFunction {
  readonly logicalId: string;
  readonly handlerName: HandlerName;
  readonly functionName: string;
  readonly functionArn: string;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  readonly environment: Record<string, string>;
}

/** The project's functions in the template, found by the handler each one's metadata names. */
export function functionsFromTemplate(
  template: Template,
  resolve: (value: unknown) => string,
  runtimeId: string,
): LocalFunction[] {
  const functions: LocalFunction[] = [];
  for (const [logicalId, resource] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
    const { Metadata: metadata, Properties: properties } = resource as {
      Metadata?: Record<string, unknown>;
      Properties: {
        Environment?: { Variables?: Record<string, unknown> };
        Timeout?: number;
        MemorySize?: number;
      };
    };
    const handlerName = metadata?.[HANDLER_METADATA_KEY] as HandlerName | undefined;
    if (handlerName === undefined) continue;
    const variables = properties.Environment?.Variables ?? {};
    const functionName = localFunctionName(handlerName, runtimeId);
    functions.push({
      logicalId,
      handlerName,
      functionName,
      functionArn: localFunctionArn(functionName),
      timeoutSeconds: properties.Timeout ?? 3,
      memoryMiB: properties.MemorySize ?? 128,
      environment: Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [name, resolve(value)]),
      ),
    });
  }
  return functions;
}

export function localFunctionName(handlerName: string, runtimeId: string): string {
  return `videogen-ingest-${runtimeId}-${handlerName}`;
}

export function localFunctionArn(functionName: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`;
}

/**
 * Environments per function at once on this machine: four per core, at most 16. Each is a
 * V8 isolate (~25 MB) whose start costs ~250 ms of CPU; they start one per core at a time
 * (`StartGate`), so a burst scales up at the pace the machine allows instead of stalling on
 * dozens of simultaneous starts (measured: 20 files took 32 s with 8 per function starting at
 * once, 7.7 s with 2), while a flood of webhooks still gets more than two environments.
 */
export const DEFAULT_ENVIRONMENTS_PER_FUNCTION = Math.min(16, 4 * availableParallelism());

export class LocalLambdas {
  readonly #functions: LocalFunction[];
  readonly #environments = new Map<string, FunctionEnvironments>();
  /** Invocations so far, by handler name (for benchmarks and tests). */
  readonly invocations: Partial<Record<HandlerName, number>> = {};
  /** Time spent in each handler, summed as Lambda bills it (whole milliseconds per invocation). */
  readonly billedMs: Partial<Record<HandlerName, number>> = {};
  readonly #running = new Set<Promise<unknown>>();

  constructor(functions: LocalFunction[]) {
    this.#functions = functions;
  }

  get functions(): readonly LocalFunction[] {
    return this.#functions;
  }

  byHandler(name: HandlerName): LocalFunction {
    const fn = this.#functions.find((candidate) => candidate.handlerName === name);
    if (!fn) throw new Error(`no ${name} function in the template`);
    return fn;
  }

  /**
   * Gives each function its environments: its deployed bundle, and its own variables
   * (the template's, with the local endpoints and its own credentials) and nothing else.
   */
  load(
    bundles: Bundles,
    variables: (fn: LocalFunction) => Record<string, string>,
    maxEnvironments = DEFAULT_ENVIRONMENTS_PER_FUNCTION,
  ): void {
    const startGate = new StartGate(availableParallelism());
    for (const fn of this.#functions) {
      this.#environments.set(
        fn.functionArn,
        new FunctionEnvironments({
          functionName: fn.functionName,
          functionArn: fn.functionArn,
          memoryMiB: fn.memoryMiB,
          timeoutSeconds: fn.timeoutSeconds,
          bundle: bundles[fn.handlerName],
          variables: variables(fn),
          maxEnvironments,
          startGate,
        }),
      );
    }
  }

  /** Cold starts, environments, concurrency and memory of each function, by handler name. */
  figures(): Partial<Record<HandlerName, EnvironmentFigures>> {
    return Object.fromEntries(
      this.#functions.flatMap((fn) => {
        const environments = this.#environments.get(fn.functionArn);
        return environments ? [[fn.handlerName, environments.figures]] : [];
      }),
    );
  }

  /** Invokes like Lambda: JSON in, JSON out, the handler's error (and its name) passed on. */
  invoke(functionArnOrName: string, payload: unknown, signal?: AbortSignal): Promise<unknown> {
    const running = this.#invoke(functionArnOrName, payload, signal);
    this.#running.add(running);
    void running.catch(() => undefined).finally(() => this.#running.delete(running));
    return running;
  }

  /** Resolves when no invocation is under way (or after `timeoutMs`), so emulators can close under none. */
  async drain(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#running.size > 0 && Date.now() < deadline) {
      await Promise.race([
        Promise.allSettled([...this.#running]),
        new Promise((resolve) => setTimeout(resolve, 50)),
      ]);
    }
  }

  /** Ends every environment (after `drain`). */
  async close(): Promise<void> {
    await Promise.all([...this.#environments.values()].map((environments) => environments.close()));
  }

  async #invoke(functionArnOrName: string, payload: unknown, signal?: AbortSignal): Promise<unknown> {
    const fn = this.#functions.find(
      (candidate) =>
        candidate.functionArn === functionArnOrName || candidate.functionName === functionArnOrName,
    );
    const environments = fn && this.#environments.get(fn.functionArn);
    if (!fn || !environments)
      throw Object.assign(new Error(`Function not found: ${functionArnOrName}`), {
        name: 'ResourceNotFoundException',
      });
    this.invocations[fn.handlerName] = (this.invocations[fn.handlerName] ?? 0) + 1;
    const started = performance.now();
    try {
      return await environments.invoke(payload, signal);
    } finally {
      this.billedMs[fn.handlerName] =
        (this.billedMs[fn.handlerName] ?? 0) + Math.ceil(performance.now() - started);
    }
  }
}
