/**
 * Step Functions on loopback: the synthesized state machine run by
 * `aws-local-stepfunctions`, behind the API the handlers call (`StartExecution` with
 * its name rules, `SendTaskSuccess`/`Failure`/`Heartbeat`) and the reads the CLI uses.
 *
 * The library runs a definition; this file adds what a real account has around it:
 * executions by name (a second StartExecution of a name is a no-op or
 * `ExecutionAlreadyExists`, as in AWS), task tokens that are fresh on every entry of a
 * `.waitForTaskToken` task (the library's Context Object is fixed per run), and answers
 * to a token whose wait has ended (`TaskTimedOut`).
 */
import { randomBytes } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import type { AslDefinition, AslState } from '../definition-from-template.ts';
import { AwsApiError, startJsonApi, type JsonApiServer, type JudgeCall } from './json-api.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Invokes a Lambda function by ARN; throws the function's error (its `name` is the error type). */
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

export interface LocalStepFunctionsOptions {
  /** The stack's state machines (one per `VideoGenIngest`, and any of the app's own). */
  readonly machines: readonly LocalStateMachine[];
  readonly invoke: Invoke;
  /** `sqs:sendMessage` as the state machine's role makes it (a queue URL, the body as text). */
  readonly sendMessage?: (queueUrl: string, body: string, stateMachineArn: string) => Promise<void>;
  /** Pause before every retry, instead of the definition's backoff (the local runtime's speed knob). */
  readonly retryPauseMs?: number;
  /** Told when an execution ends. */
  readonly onExecutionEnd?: (execution: LocalExecution) => void;
  /** Refuses API calls IAM would refuse (the local runtime's IAM). */
  readonly judge?: JudgeCall;
}

export interface LocalStepFunctions extends JsonApiServer {
  /** Every machine's executions. */
  executions(): LocalExecution[];
  /** The state machine a task token is of (what IAM judges `SendTask*` on). */
  stateMachineOfToken(token: string): string | undefined;
  /** Resolves when no execution is running. */
  idle(timeoutMs?: number): Promise<void>;
}

const TOKEN_PLACEHOLDER = '__LOCAL_TASK_TOKEN__';
const WAIT_FOR_TOKEN = /:states:::lambda:invoke\.waitForTaskToken$/;
const SQS_WAIT_FOR_TOKEN = /:states:::sqs:sendMessage\.waitForTaskToken$/;
const LAMBDA_INVOKE = /:states:::lambda:invoke$/;
const FUNCTION_ARN = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:[^:]+$/;

interface PendingToken {
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
function stateMachineOfExecution(executionArn: string): string {
  return executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]*$/, '');
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

/** One state machine: its definition run by aws-local-stepfunctions, its executions by name. */
interface MachineRunner {
  readonly stateMachineArn: string;
  readonly name: string;
  readonly definition: AslDefinition;
  readonly roleArn: string | undefined;
  readonly executions: Map<string, LocalExecution>;
  start(name: string, input: string): LocalExecution;
}

/** The account's task tokens: any machine's, answered through the one API. */
type Tokens = Map<string, PendingToken>;

function machineRunner(
  { definition, stateMachineArn, roleArn }: LocalStateMachine,
  tokens: Tokens,
  options: LocalStepFunctionsOptions,
): MachineRunner {
  const executions = new Map<string, LocalExecution>();
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
        for (const pending of tokens.values())
          if (pending.executionArn === execution.executionArn) pending.settled = true;
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

export async function startStepFunctions(options: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
  const createdAt = Date.now();
  const tokens: Tokens = new Map();
  const machines = new Map(
    options.machines.map((machine) => [machine.stateMachineArn, machineRunner(machine, tokens, options)]),
  );
  const allExecutions = () => [...machines.values()].flatMap((machine) => [...machine.executions.values()]);

  function machineOf(stateMachineArn: unknown): MachineRunner {
    const machine = machines.get(String(stateMachineArn));
    if (!machine)
      throw new AwsApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${String(stateMachineArn)}'`,
      );
    return machine;
  }

  function answer(token: string): PendingToken {
    const pending = tokens.get(token);
    if (!pending) throw new AwsApiError('TaskDoesNotExist', 'Task does not exist anymore');
    if (pending.settled || Date.now() > pending.deadline) {
      pending.settled = true;
      throw new AwsApiError('TaskTimedOut', 'Task Timed Out');
    }
    pending.settled = true;
    return pending;
  }

  const describe = (execution: LocalExecution): Record<string, unknown> => ({
    executionArn: execution.executionArn,
    stateMachineArn: stateMachineOfExecution(execution.executionArn),
    name: execution.name,
    status: execution.status,
    startDate: execution.startDate.getTime() / 1000,
    ...(execution.stopDate ? { stopDate: execution.stopDate.getTime() / 1000 } : {}),
    input: execution.input,
    ...(execution.output ? { output: execution.output } : {}),
    ...(execution.error ? { error: execution.error, cause: execution.cause } : {}),
  });

  function executionByArn(executionArn: unknown): LocalExecution {
    const execution = allExecutions().find((known) => known.executionArn === executionArn);
    if (!execution)
      throw new AwsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(executionArn)}'`);
    return execution;
  }

  const server = await startJsonApi(
    {
      StartExecution: (body) => {
        const machine = machineOf(body.stateMachineArn);
        const { executions } = machine;
        const name = typeof body.name === 'string' && body.name ? body.name : randomBytes(16).toString('hex');
        if (!/^[A-Za-z0-9_-]{1,80}$/.test(name))
          throw new AwsApiError('InvalidName', `Invalid Name: '${name}'`);
        const input = typeof body.input === 'string' ? body.input : '{}';
        const existing = executions.get(name);
        if (existing) {
          // AWS: the same name and input while running is idempotent; anything else is refused.
          if (existing.status === 'RUNNING' && existing.input === input) {
            return { executionArn: existing.executionArn, startDate: existing.startDate.getTime() / 1000 };
          }
          throw new AwsApiError(
            'ExecutionAlreadyExists',
            `Execution Already Exists: '${existing.executionArn}'`,
          );
        }
        const execution = machine.start(name, input);
        return { executionArn: execution.executionArn, startDate: execution.startDate.getTime() / 1000 };
      },
      // The account's state machines, as the AWS CLI finds them before their executions.
      ListStateMachines: () => ({
        stateMachines: [...machines.values()].map(({ stateMachineArn, name }) => ({
          stateMachineArn,
          name,
          type: 'STANDARD',
          creationDate: createdAt / 1000,
        })),
      }),
      DescribeStateMachine: (body) => {
        const { stateMachineArn, name, definition, roleArn } = machineOf(body.stateMachineArn);
        return {
          stateMachineArn,
          name,
          status: 'ACTIVE',
          type: 'STANDARD',
          definition: JSON.stringify(definition),
          roleArn: roleArn ?? `arn:aws:iam::${stateMachineArn.split(':')[4] ?? ''}:role/${name}-role`,
          creationDate: createdAt / 1000,
        };
      },
      DescribeExecution: (body) => {
        const execution = executionByArn(body.executionArn);
        return describe(execution);
      },
      ListExecutions: (body) => ({
        executions: [...machineOf(body.stateMachineArn).executions.values()]
          .filter((execution) => !body.statusFilter || execution.status === body.statusFilter)
          .map(describe),
      }),
      StopExecution: (body) => {
        const execution = executionByArn(body.executionArn);
        execution.abort?.();
        return { stopDate: Date.now() / 1000 };
      },
      SendTaskSuccess: (body) => {
        const pending = answer(String(body.taskToken));
        pending.resolve(JSON.parse(typeof body.output === 'string' ? body.output : 'null'));
        return {};
      },
      SendTaskFailure: (body) => {
        const pending = answer(String(body.taskToken));
        pending.reject(
          namedError(
            typeof body.error === 'string' ? body.error : 'TaskFailed',
            typeof body.cause === 'string' ? body.cause : '',
          ),
        );
        return {};
      },
      SendTaskHeartbeat: (body) => {
        const pending = tokens.get(String(body.taskToken));
        if (!pending) throw new AwsApiError('TaskDoesNotExist', 'Task does not exist anymore');
        if (pending.settled || Date.now() > pending.deadline)
          throw new AwsApiError('TaskTimedOut', 'Task Timed Out');
        return {};
      },
    },
    'application/x-amz-json-1.0',
    options.judge,
  );

  return {
    ...server,
    executions: allExecutions,
    stateMachineOfToken: (token) => {
      const pending = tokens.get(token);
      return pending && stateMachineOfExecution(pending.executionArn);
    },
    idle: async (timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (allExecutions().some((execution) => execution.status === 'RUNNING')) {
        if (Date.now() > deadline) throw new Error(`executions still running after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: async () => {
      for (const execution of allExecutions()) if (execution.status === 'RUNNING') execution.abort?.();
      await server.close();
    },
  };
}
