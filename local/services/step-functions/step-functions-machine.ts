/**
 * One state machine of the Step Functions emulator: its definition run by
 * `aws-local-stepfunctions`, its executions by name, each Task state answered as the
 * service integration its resource names (a Lambda invoke, a callback task with a fresh
 * token, an SQS send), and the retry pause that is the local runtime's speed knob.
 * `step-functions.ts` is the API in front of every machine.
 */
import { randomBytes } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import type { AslDefinition, AslState } from './definition-from-template.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A Lambda call a state machine's task makes (`stateMachineArn`: whose role makes it). */
export type Invoke = (functionArn: string, payload: unknown, stateMachineArn: string) => Promise<unknown>;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface LocalExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly input: string;
  readonly startDate: Date;
  status: ExecutionStatus;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** States entered: what AWS bills as state transitions. */
  transitions: number;
  /** Task states entered, by state name. */
  readonly statesEntered: Record<string, number>;
  abort?: () => void;
}

export interface LocalStateMachine {
  readonly definition: AslDefinition;
  readonly stateMachineArn: string;
  /** The state machine's role, as `DescribeStateMachine` names it. */
  readonly roleArn?: string;
}

/** What running a machine takes from the emulator's options. */
export interface MachineRunnerOptions {
  readonly invoke: Invoke;
  readonly sendMessage?: (queueUrl: string, body: string, stateMachineArn: string) => Promise<void>;
  readonly retryPauseMs?: number;
  readonly onExecutionEnd?: (execution: LocalExecution) => void;
}

const TOKEN_PLACEHOLDER = '__LOCAL_TASK_TOKEN__';
/** How long an ended execution's tokens are still known (answered TaskTimedOut, not TaskDoesNotExist). */
const ENDED_TOKENS_KEPT_MS = 10 * 60_000;
const WAIT_FOR_TOKEN = /:states:::lambda:invoke\.waitForTaskToken$/;
const SQS_WAIT_FOR_TOKEN = /:states:::sqs:sendMessage\.waitForTaskToken$/;
const LAMBDA_INVOKE = /:states:::lambda:invoke$/;
const FUNCTION_ARN = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+$/;
/** An ended execution's token's answer: nothing waits on it any more. */
const ignore = (): void => undefined;

export interface PendingToken {
  readonly executionArn: string;
  readonly deadline: number;
  settled: boolean;
  resolve(output: unknown): void;
  reject(error: Error): void;
}

function replaceDeep(value: unknown, from: string, to: string): unknown {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((item) => replaceDeep(item, from, to));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaceDeep(item, from, to)]));
  }
  return value;
}

/** An error as Step Functions names a failed service call (`Lambda.…`, `SQS.…`), with the call's message. */
export function serviceError(name: string, cause: unknown): Error {
  return namedError(name, cause instanceof Error ? cause.message : String(cause));
}

/** `arn:…:execution:MACHINE:NAME` → `arn:…:stateMachine:MACHINE`. */
export function stateMachineOfExecution(executionArn: string): string {
  return executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]*$/, '');
}

export function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** One state machine: its definition run by aws-local-stepfunctions, its executions by name. */
export interface MachineRunner {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly definition: AslDefinition;
  readonly roleArn: string | undefined;
  readonly executions: Map<string, LocalExecution>;
  start(name: string, input: string): LocalExecution;
}

/** The account's task tokens: any machine's, answered through the one API. */
export type Tokens = Map<string, PendingToken>;

export function machineRunner(
  { definition, stateMachineArn, roleArn }: LocalStateMachine,
  tokens: Tokens,
  options: MachineRunnerOptions,
): MachineRunner {
  const executions = new Map<string, LocalExecution>();
  /** Each running execution's tokens, and those of ended ones in the order they ended, to forget. */
  const tokensOf = new Map<string, string[]>();
  const ended: { readonly at: number; readonly tokens: readonly string[] }[] = [];
  const machine = new StateMachine(definition as never, { validationOptions: { checkArn: false } });
  const executionPrefix = stateMachineArn.replace(':stateMachine:', ':execution:');

  /** One override per Task state: Lambda tasks call the handler; callback tasks also wait for their token. */
  function overridesFor(execution: LocalExecution): Record<string, (input: Json) => Promise<Json>> {
    const overrides: Record<string, (input: Json) => Promise<Json>> = {};
    for (const [name, state] of Object.entries<AslState>(definition.States)) {
      if (state.Type !== 'Task' || !state.Resource) continue;
      const resource = state.Resource;
      /** A callback task: a fresh token, handed on by `deliver`, then the wait for its answer. */
      const waitForToken =
        (deliver: (parameters: Record<string, unknown>) => Promise<unknown>) =>
        async (input: Json): Promise<Json> => {
          const token = `${randomBytes(48).toString('base64url')}.${execution.name}`;
          const parameters = replaceDeep(input, TOKEN_PLACEHOLDER, token) as Record<string, unknown>;
          const own = tokensOf.get(execution.executionArn);
          if (own) own.push(token);
          else tokensOf.set(execution.executionArn, [token]);
          const answered = new Promise<unknown>((resolve, reject) => {
            tokens.set(token, {
              executionArn: execution.executionArn,
              deadline: Date.now() + (state.TimeoutSeconds ?? 365 * 24 * 3600) * 1000,
              settled: false,
              resolve,
              reject,
            });
          });
          await deliver(parameters);
          return (await answered) as Json;
        };
      if (WAIT_FOR_TOKEN.test(resource)) {
        overrides[name] = waitForToken((parameters) =>
          options.invoke(String(parameters.FunctionName), parameters.Payload, stateMachineArn),
        );
      } else if (SQS_WAIT_FOR_TOKEN.test(resource) && options.sendMessage) {
        const send = options.sendMessage;
        overrides[name] = waitForToken((parameters) =>
          send(
            String(parameters.QueueUrl),
            typeof parameters.MessageBody === 'string'
              ? parameters.MessageBody
              : JSON.stringify(parameters.MessageBody),
            stateMachineArn,
          ),
        );
      } else if (LAMBDA_INVOKE.test(resource)) {
        overrides[name] = async (input) => {
          const parameters = input as { FunctionName: string; Payload: unknown };
          return {
            StatusCode: 200,
            Payload: (await options.invoke(
              parameters.FunctionName,
              parameters.Payload,
              stateMachineArn,
            )) as Json,
          };
        };
      } else if (FUNCTION_ARN.test(resource)) {
        overrides[name] = async (input) => (await options.invoke(resource, input, stateMachineArn)) as Json;
      } else {
        overrides[name] = () =>
          Promise.reject(namedError('States.Runtime', `the local runtime does not emulate ${resource}`));
      }
    }
    return overrides;
  }

  /**
   * The speed knob: every retry pauses `retryPauseMs` instead of its deployed backoff, but
   * a throttle's retry keeps its backoff (-1: as deployed). That backoff is what lets a
   * throttled workflow through; a flattened one would fail where AWS succeeds.
   */
  function retryOverrides(): Record<string, number[]> | undefined {
    if (options.retryPauseMs === undefined) return undefined;
    const pause = options.retryPauseMs;
    return Object.fromEntries(
      Object.entries(definition.States)
        .filter(([, state]) => state.Retry)
        .map(([name, state]) => [
          name,
          (state.Retry ?? []).map((retrier) =>
            retrier.ErrorEquals.includes('Lambda.TooManyRequestsException') ? -1 : pause,
          ),
        ]),
    );
  }

  async function countStates(
    execution: LocalExecution,
    logs: ReturnType<StateMachine['run']>['eventLogs'],
  ): Promise<void> {
    for await (const event of logs) {
      if (event.type === 'StateEntered') {
        execution.transitions += 1;
        execution.statesEntered[event.state.name] = (execution.statesEntered[event.state.name] ?? 0) + 1;
      }
    }
  }

  function start(name: string, input: string): LocalExecution {
    const execution: LocalExecution = {
      executionArn: `${executionPrefix}:${name}`,
      name,
      input,
      startDate: new Date(),
      status: 'RUNNING',
      transitions: 0,
      statesEntered: {},
    };
    executions.set(name, execution);
    const retryIntervalOverrides = retryOverrides();
    const run = machine.run(JSON.parse(input) as Json, {
      overrides: {
        taskResourceLocalHandlers: overridesFor(execution),
        ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}),
      },
      context: {
        Execution: {
          Id: execution.executionArn,
          Name: name,
          Input: JSON.parse(input) as Json,
          StartTime: execution.startDate.toISOString(),
        },
        StateMachine: { Id: stateMachineArn, Name: stateMachineArn.split(':').pop() },
        Task: { Token: TOKEN_PLACEHOLDER },
      },
    });
    execution.abort = run.abort;
    void countStates(execution, run.eventLogs);
    run.result
      .then(
        (output) => {
          execution.status = 'SUCCEEDED';
          execution.output = JSON.stringify(output);
        },
        (error: unknown) => {
          const name = error instanceof Error ? error.constructor.name : '';
          execution.status =
            name === 'ExecutionTimeoutError'
              ? 'TIMED_OUT'
              : name === 'ExecutionAbortedError'
                ? 'ABORTED'
                : 'FAILED';
          const cause = (error as { cause?: { name?: string; message?: string } }).cause;
          execution.error = cause?.name ?? (error instanceof Error ? error.name : 'Error');
          execution.cause = cause?.message ?? (error instanceof Error ? error.message : String(error));
        },
      )
      .finally(() => {
        execution.stopDate = new Date();
        // The run's abort holds its whole context and history: kept, every ended execution
        // would cost the runtime ~15 KB for as long as it runs.
        delete execution.abort;
        // Its tokens are refused from now on (TaskTimedOut), and forgotten a while later:
        // a late answer still meets the refusal AWS gives, and the map does not grow per file.
        // Their answers go: each held the whole run's context (~10 KB) for those minutes.
        const own = tokensOf.get(execution.executionArn) ?? [];
        tokensOf.delete(execution.executionArn);
        for (const token of own) {
          const pending = tokens.get(token);
          if (pending) tokens.set(token, { ...pending, settled: true, resolve: ignore, reject: ignore });
        }
        const now = Date.now();
        ended.push({ at: now, tokens: own });
        while (ended.length > 0 && (ended[0]?.at ?? now) < now - ENDED_TOKENS_KEPT_MS)
          for (const token of ended.shift()?.tokens ?? []) tokens.delete(token);
        options.onExecutionEnd?.(execution);
      });
    return execution;
  }

  return {
    stateMachineArn,
    name: stateMachineArn.split(':').pop() ?? '',
    definition,
    roleArn,
    executions,
    start,
  };
}
