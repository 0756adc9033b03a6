/**
 * The deployed Lambda functions, run in this process: the real handler modules, with the
 * environment the template gives each one, invoked with a Lambda-like context and the
 * function's timeout (`Sandbox.Timedout`, as Lambda reports it).
 */
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { Template } from 'aws-cdk-lib/assertions';
import type { Context } from 'aws-lambda';
import { HANDLER_METADATA_KEY, handlerEntry, type HandlerName } from '../../lib/ingest-function.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './cfn.ts';

export interface LocalFunction {
  readonly logicalId: string;
  readonly handlerName: HandlerName;
  readonly functionName: string;
  readonly functionArn: string;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  readonly environment: Record<string, string>;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

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

function timedOut(functionName: string, seconds: number): Error {
  const error = new Error(`${functionName}: Task timed out after ${seconds.toFixed(2)} seconds`);
  error.name = 'Sandbox.Timedout';
  return error;
}

export class LocalLambdas {
  readonly #functions: LocalFunction[];
  readonly #handlers = new Map<string, Handler>();
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
   * Imports every handler module. Call after the process environment holds the union of
   * the functions' environments; a query string per runtime makes each import a fresh
   * module, so its module-scope configuration and SDK clients belong to this runtime.
   */
  async load(runtimeId: string): Promise<void> {
    for (const fn of this.#functions) {
      const url = `${pathToFileURL(handlerEntry(fn.handlerName)).href}?runtime=${runtimeId}`;
      const module = (await import(url)) as { handler?: Handler };
      if (typeof module.handler !== 'function') throw new Error(`${fn.handlerName} exports no handler`);
      this.#handlers.set(fn.functionArn, module.handler);
      this.#handlers.set(fn.functionName, module.handler);
    }
  }

  /** Invokes like Lambda: JSON in, JSON out, the handler's error (and its name) passed on. */
  invoke(functionArnOrName: string, payload: unknown): Promise<unknown> {
    const running = this.#invoke(functionArnOrName, payload);
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

  async #invoke(functionArnOrName: string, payload: unknown): Promise<unknown> {
    const handler = this.#handlers.get(functionArnOrName);
    const fn = this.#functions.find(
      (candidate) =>
        candidate.functionArn === functionArnOrName || candidate.functionName === functionArnOrName,
    );
    if (!handler || !fn)
      throw Object.assign(new Error(`Function not found: ${functionArnOrName}`), {
        name: 'ResourceNotFoundException',
      });
    this.invocations[fn.handlerName] = (this.invocations[fn.handlerName] ?? 0) + 1;
    const deadline = Date.now() + fn.timeoutSeconds * 1000;
    const context = {
      functionName: fn.functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: fn.functionArn,
      memoryLimitInMB: String(fn.memoryMiB),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${fn.functionName}`,
      logStreamName: 'local',
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    } as Context; // done/fail/succeed are the deprecated callback API no handler here uses
    let timer: NodeJS.Timeout | undefined;
    const started = performance.now();
    try {
      const result = await Promise.race([
        handler(JSON.parse(JSON.stringify(payload ?? null)) as unknown, context),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(timedOut(fn.functionName, fn.timeoutSeconds)),
            fn.timeoutSeconds * 1000,
          );
        }),
      ]);
      return result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
    } catch (error) {
      if (error instanceof Error) throw error;
      throw new Error(String(error), { cause: error });
    } finally {
      clearTimeout(timer);
      this.billedMs[fn.handlerName] =
        (this.billedMs[fn.handlerName] ?? 0) + Math.ceil(performance.now() - started);
    }
  }
}
