/**
 * The deployed Lambda functions, run locally as Lambda runs them: each from its deployed
 * bundle, in execution environments of its own (see `environments.ts`), with the
 * environment the template gives it, and the function's timeout (`Sandbox.Timedout`).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Template } from 'aws-cdk-lib/assertions';
import { HANDLER_METADATA_KEY, type HandlerName } from '../../../lib/handlers.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../cfn.ts';
import { ingestOf, type IngestInStack } from '../../ingests.ts';
import { ANSWERING_ENVIRONMENT_NICENESS, LambdaInvocationError } from './environment.ts';
import { DEFAULT_ENVIRONMENTS_PER_FUNCTION } from './environment-caps.ts';
import { FunctionEnvironments, type EnvironmentFigures, type InvokeOptions } from './environments.ts';
import { StartGate } from './start-gate.ts';

export interface LocalFunction {
  readonly logicalId: string;
  /** The package's handler it runs; undefined for the app's own functions (a subscriber). */
  readonly handlerName: HandlerName | undefined;
  /** Which of the stack's ingests a handler serves (`ingests.ts`: 0 for the primary one). */
  readonly ingest: number | undefined;
  /** How logs and figures name it: its handler's name, or its construct's id. */
  readonly label: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** `ReservedConcurrentExecutions`: its own share of the account's concurrency, and its ceiling. */
  readonly reservedConcurrency: number | undefined;
  readonly environment: Record<string, string>;
  /** Its deployed code, when the template's cloud assembly has it (`--app`): the bundle and its export. */
  readonly code: FunctionCode | undefined;
}

export interface FunctionCode {
  readonly bundle: string;
  readonly exportName: string;
}

/** A function of the template the runtime does not run, and why: said at start, never skipped in silence. */
export interface FunctionNotRun {
  readonly label: string;
  readonly reason: string;
}

interface FunctionResource {
  Metadata?: Record<string, unknown>;
  Properties: {
    Environment?: { Variables?: Record<string, unknown> };
    Timeout?: number;
    MemorySize?: number;
    ReservedConcurrentExecutions?: number;
    Runtime?: string;
    Handler?: string;
    FunctionName?: unknown;
  };
}

/**
 * How a function is named in logs and figures: a handler by its name (an ingest's other
 * than the primary one's prefixed with its construct id: `Archive/transfer`), an app's own
 * function by its construct id (`Stack/Subscriber/Resource` → `Subscriber`), or its logical id.
 */
function labelOf(logicalId: string, resource: FunctionResource, ingests: readonly IngestInStack[]): string {
  const handler = resource.Metadata?.[HANDLER_METADATA_KEY];
  if (typeof handler === 'string') {
    const ingest = ingestOf(ingests, resource);
    return ingest?.suffix ? `${ingest.id}/${handler}` : handler;
  }
  const cdkPath = resource.Metadata?.['aws:cdk:path'];
  if (typeof cdkPath !== 'string') return logicalId;
  const parts = cdkPath.split('/');
  return (parts.at(-1) === 'Resource' ? parts.at(-2) : parts.at(-1)) ?? logicalId;
}

/** The local name of a template's function: the runtime's own for the package's handlers, the construct's id otherwise. */
export function localFunctionNameOf(
  logicalId: string,
  resource: FunctionResource,
  runtimeId: string,
  ingests: readonly IngestInStack[],
): string {
  const handler = resource.Metadata?.[HANDLER_METADATA_KEY] as HandlerName | undefined;
  if (handler) return localFunctionName(handler, `${runtimeId}${ingestOf(ingests, resource)?.suffix ?? ''}`);
  const named = resource.Properties.FunctionName;
  return typeof named === 'string'
    ? named
    : localFunctionName(labelOf(logicalId, resource, ingests), runtimeId).slice(0, 64);
}

/** The bundle and export a function's asset and `Handler` name (`index.handler` → `index.mjs`/`.js`/`.cjs`, `handler`). */
function codeOf(resource: FunctionResource, assemblyDir: string): FunctionCode | string {
  const runtime = resource.Properties.Runtime ?? '';
  if (!runtime.startsWith('nodejs'))
    return `${runtime || 'a container image'}: only Node.js functions run locally`;
  const asset = resource.Metadata?.['aws:asset:path'];
  if (typeof asset !== 'string') return 'its code is inline or an image, not a synthesized asset';
  const handler = resource.Properties.Handler ?? 'index.handler';
  const dot = handler.lastIndexOf('.');
  const [file, exportName] = [handler.slice(0, dot), handler.slice(dot + 1)];
  const bundle = ['.mjs', '.js', '.cjs']
    .map((extension) => path.join(assemblyDir, asset, `${file}${extension}`))
    .find((candidate) => existsSync(candidate));
  return bundle ? { bundle, exportName } : `no ${file}.mjs, .js or .cjs in its asset ${asset}`;
}

/**
 * The template's functions the runtime runs: the package's handlers (found by the handler
 * each one's metadata names) and every function an event source mapping feeds (a
 * subscriber). With the app's cloud assembly (`assemblyDir`), each runs from its own asset;
 * without one, the handlers run from the bundles `cdk deploy` would upload (`bundles.ts`).
 */
export function functionsFromTemplate(
  template: Template,
  resolve: (value: unknown) => string,
  runtimeId: string,
  ingests: readonly IngestInStack[],
  assemblyDir?: string,
): { functions: LocalFunction[]; notRun: FunctionNotRun[] } {
  const mapped = new Set(
    Object.values(template.findResources('AWS::Lambda::EventSourceMapping')).map(
      (mapping) =>
        (mapping as { Properties: { FunctionName?: { Ref?: string } } }).Properties.FunctionName?.Ref,
    ),
  );
  const functions: LocalFunction[] = [];
  const notRun: FunctionNotRun[] = [];
  for (const [logicalId, raw] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
    const resource = raw as FunctionResource;
    const { Properties: properties } = resource;
    const handlerName = resource.Metadata?.[HANDLER_METADATA_KEY] as HandlerName | undefined;
    const label = labelOf(logicalId, resource, ingests);
    if (handlerName === undefined && !mapped.has(logicalId)) {
      notRun.push({
        label,
        reason: 'nothing runs it locally (a deploy-time custom resource, or invoked from outside)',
      });
      continue;
    }
    const code = assemblyDir ? codeOf(resource, assemblyDir) : undefined;
    if (typeof code === 'string') {
      notRun.push({ label, reason: code });
      continue;
    }
    if (!code && handlerName === undefined) {
      notRun.push({ label, reason: 'its code is an asset of a synthesized app: run the app with --app' });
      continue;
    }
    const variables = properties.Environment?.Variables ?? {};
    const functionName = localFunctionNameOf(logicalId, resource, runtimeId, ingests);
    functions.push({
      logicalId,
      handlerName,
      ingest: handlerName === undefined ? undefined : ingestOf(ingests, resource)?.index,
      label,
      functionName,
      functionArn: localFunctionArn(functionName),
      timeoutSeconds: properties.Timeout ?? 3,
      memoryMiB: properties.MemorySize ?? 128,
      reservedConcurrency: properties.ReservedConcurrentExecutions,
      environment: Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [name, resolve(value)]),
      ),
      code,
    });
  }
  return { functions, notRun };
}

export function localFunctionName(handlerName: string, runtimeId: string): string {
  return `videogen-ingest-${runtimeId}-${handlerName}`;
}

export function localFunctionArn(functionName: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`;
}

/** Lambda's default concurrency quota per account and region. */
export const DEFAULT_ACCOUNT_CONCURRENCY = 1000;
/** Lambda keeps this much of the account's concurrency for functions without a reservation. */
export const MIN_UNRESERVED_CONCURRENCY = 100;

/** Lambda's answer to an invocation over the concurrency it may have (HTTP 429). */
export class TooManyRequestsError extends LambdaInvocationError {
  constructor(
    readonly reason:
      'ReservedFunctionConcurrentInvocationLimitExceeded' | 'ConcurrentInvocationLimitExceeded',
  ) {
    super('TooManyRequestsException', `Rate Exceeded. (${reason})`);
  }
}

export class LocalLambdas {
  readonly #functions: LocalFunction[];
  readonly #accountConcurrency: number;
  readonly #unreservedPool: number;
  readonly #concurrent = new Map<string, number>();
  #unreservedInUse = 0;
  /** Invocations Lambda refused for concurrency, by function label (the handler's name, or a subscriber's id). */
  readonly throttles: Record<string, number> = {};
  readonly #environments = new Map<string, FunctionEnvironments>();
  /** Invocations so far, by function label (for benchmarks and tests). */
  readonly invocations: Record<string, number> = {};
  readonly #running = new Set<Promise<unknown>>();

  /**
   * `accountConcurrency`: the account's concurrency quota (1,000 by default; new accounts
   * often have 10). Refused as Lambda refuses the deploy when the reservations leave less
   * than 100 unreserved.
   */
  constructor(functions: LocalFunction[], accountConcurrency = DEFAULT_ACCOUNT_CONCURRENCY) {
    this.#functions = functions;
    this.#accountConcurrency = accountConcurrency;
    const reserved = functions.reduce((sum, fn) => sum + (fn.reservedConcurrency ?? 0), 0);
    this.#unreservedPool = accountConcurrency - reserved;
    if (reserved > 0 && this.#unreservedPool < MIN_UNRESERVED_CONCURRENCY) {
      throw Object.assign(
        new Error(
          `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${MIN_UNRESERVED_CONCURRENCY}]. (account concurrency ${accountConcurrency}, reserved ${reserved})`,
        ),
        { name: 'InvalidParameterValueException' },
      );
    }
  }

  /** The account's concurrency quota this runtime models. */
  get accountConcurrency(): number {
    return this.#accountConcurrency;
  }

  get functions(): readonly LocalFunction[] {
    return this.#functions;
  }

  /** The function running a handler of the package, for one of the stack's ingests (the primary by default). */
  byHandler(name: HandlerName, ingest = 0): LocalFunction {
    const fn = this.#functions.find(
      (candidate) => candidate.handlerName === name && (candidate.ingest ?? 0) === ingest,
    );
    if (!fn) throw new Error(`no ${name} function in the template`);
    return fn;
  }

  /**
   * Gives each function its environments: its deployed code, and its own variables
   * (the template's, with the local endpoints and its own credentials) and nothing else.
   */
  load(
    codeOf: (fn: LocalFunction) => FunctionCode & { compileCache?: string },
    variables: (fn: LocalFunction) => Record<string, string>,
    options: {
      /** Environments of a function at most. @default DEFAULT_ENVIRONMENTS_PER_FUNCTION for each */
      maxEnvironments?: (fn: LocalFunction) => number;
      /** Each line a function writes, as its log group would get it. @default this process's stderr */
      onOutput?: (fn: LocalFunction, line: string, stream: 'stdout' | 'stderr') => void;
      /** Whether a function answers a caller waiting on the line (its environments then run above the others'). */
      answersCaller?: (fn: LocalFunction) => boolean;
      /** Whether a function's cap is a deployed setting that AWS runs in full (`EnvironmentSpec.fillsDeployedConcurrency`). */
      fillsDeployedConcurrency?: (fn: LocalFunction) => boolean;
    } = {},
  ): void {
    const {
      maxEnvironments = () => DEFAULT_ENVIRONMENTS_PER_FUNCTION,
      onOutput,
      answersCaller,
      fillsDeployedConcurrency,
    } = options;
    const startGate = new StartGate(availableParallelism());
    for (const fn of this.#functions) {
      this.#environments.set(
        fn.functionArn,
        new FunctionEnvironments({
          functionName: fn.functionName,
          functionArn: fn.functionArn,
          memoryMiB: fn.memoryMiB,
          timeoutSeconds: fn.timeoutSeconds,
          ...codeOf(fn),
          variables: variables(fn),
          maxEnvironments: maxEnvironments(fn),
          ...(answersCaller?.(fn) ? { niceness: ANSWERING_ENVIRONMENT_NICENESS } : { sparesBusyCores: true }),
          ...(fillsDeployedConcurrency?.(fn) ? { fillsDeployedConcurrency: true } : {}),
          startGate,
          ...(onOutput
            ? { onOutput: (line: string, stream: 'stdout' | 'stderr') => onOutput(fn, line, stream) }
            : {}),
        }),
      );
    }
  }

  /** Cold starts, environments, concurrency and memory of each function, by label. */
  figures(): Record<string, EnvironmentFigures> {
    return Object.fromEntries(
      this.#functions.flatMap((fn) => {
        const environments = this.#environments.get(fn.functionArn);
        return environments ? [[fn.label, environments.figures]] : [];
      }),
    );
  }

  /** Invokes like Lambda: JSON in, JSON out, the handler's error (and its name) passed on. */
  invoke(functionArnOrName: string, payload: unknown, options: InvokeOptions = {}): Promise<unknown> {
    const running = this.#invoke(functionArnOrName, payload, options);
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

  /**
   * Counts the invocation against the function's concurrency, or refuses it as Lambda does:
   * over its reservation, or (without one) over what the account leaves unreserved.
   * Invocations waiting here for a free environment count, as they would run on AWS.
   */
  #admit(fn: LocalFunction): void {
    const running = this.#concurrent.get(fn.functionArn) ?? 0;
    const throttled =
      fn.reservedConcurrency !== undefined
        ? running >= fn.reservedConcurrency && 'ReservedFunctionConcurrentInvocationLimitExceeded'
        : this.#unreservedInUse >= this.#unreservedPool && 'ConcurrentInvocationLimitExceeded';
    if (throttled) {
      this.throttles[fn.label] = (this.throttles[fn.label] ?? 0) + 1;
      throw new TooManyRequestsError(throttled);
    }
    this.#concurrent.set(fn.functionArn, running + 1);
    if (fn.reservedConcurrency === undefined) this.#unreservedInUse += 1;
  }

  /** Chaos: ends every environment of a function that is running an invocation now (a crash mid-work). */
  crashRunning(handlerName: HandlerName): number {
    const environments = this.#environments.get(this.byHandler(handlerName).functionArn);
    return environments ? environments.crashBusy() : 0;
  }

  async #invoke(functionArnOrName: string, payload: unknown, options: InvokeOptions): Promise<unknown> {
    const fn = this.#functions.find(
      (candidate) =>
        candidate.functionArn === functionArnOrName || candidate.functionName === functionArnOrName,
    );
    const environments = fn && this.#environments.get(fn.functionArn);
    if (!fn || !environments)
      throw Object.assign(new Error(`Function not found: ${functionArnOrName}`), {
        name: 'ResourceNotFoundException',
      });
    this.invocations[fn.label] = (this.invocations[fn.label] ?? 0) + 1;
    this.#admit(fn);
    try {
      return await environments.invoke(payload, options);
    } finally {
      this.#concurrent.set(fn.functionArn, (this.#concurrent.get(fn.functionArn) ?? 1) - 1);
      if (fn.reservedConcurrency === undefined) this.#unreservedInUse -= 1;
    }
  }
}
