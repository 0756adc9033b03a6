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
import {
  AwsApiError,
  startJsonApi,
  type JsonApiServer,
  type JudgeCall,
  type Operations,
} from '../../http/json-api.ts';
import {
  machineRunner,
  namedError,
  stateMachineOfExecution,
  type Invoke,
  type LocalExecution,
  type LocalStateMachine,
  type MachineRunner,
  type PendingToken,
  type Tokens,
} from './step-functions-machine.ts';

export {
  serviceError,
  type ExecutionStatus,
  type Invoke,
  type LocalExecution,
  type LocalStateMachine,
} from './step-functions-machine.ts';

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

/** The account's Step Functions: its state machines, their executions and task tokens, and the API's operations over them. */
class StepFunctionsAccount {
  readonly #createdAt = Date.now();
  readonly #tokens: Tokens = new Map();
  readonly #machines: ReadonlyMap<string, MachineRunner>;

  constructor(options: LocalStepFunctionsOptions) {
    this.#machines = new Map(
      options.machines.map((machine) => [
        machine.stateMachineArn,
        machineRunner(machine, this.#tokens, options),
      ]),
    );
  }

  /** Every machine's executions. */
  executions(): LocalExecution[] {
    return [...this.#machines.values()].flatMap((machine) => [...machine.executions.values()]);
  }

  stateMachineOfToken(token: string): string | undefined {
    const pending = this.#tokens.get(token);
    return pending && stateMachineOfExecution(pending.executionArn);
  }

  async idle(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.executions().some((execution) => execution.status === 'RUNNING')) {
      if (Date.now() > deadline) throw new Error(`executions still running after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  abortRunning(): void {
    for (const execution of this.executions()) if (execution.status === 'RUNNING') execution.abort?.();
  }

  /** The API's operations, each a function of the request's body. */
  operations(): Operations {
    return {
      StartExecution: (body) => this.#startExecution(body),
      // The account's state machines, as the AWS CLI finds them before their executions.
      ListStateMachines: () => ({
        stateMachines: [...this.#machines.values()].map(({ stateMachineArn, name }) => ({
          stateMachineArn,
          name,
          type: 'STANDARD',
          creationDate: this.#createdAt / 1000,
        })),
      }),
      DescribeStateMachine: (body) => {
        const { stateMachineArn, name, definition, roleArn } = this.#machineOf(body.stateMachineArn);
        return {
          stateMachineArn,
          name,
          status: 'ACTIVE',
          type: 'STANDARD',
          definition: JSON.stringify(definition),
          roleArn: roleArn ?? `arn:aws:iam::${stateMachineArn.split(':')[4] ?? ''}:role/${name}-role`,
          creationDate: this.#createdAt / 1000,
        };
      },
      DescribeExecution: (body) => describe(this.#executionByArn(body.executionArn)),
      ListExecutions: (body) => ({
        executions: [...this.#machineOf(body.stateMachineArn).executions.values()]
          .filter((execution) => !body.statusFilter || execution.status === body.statusFilter)
          .map(describe),
      }),
      StopExecution: (body) => {
        this.#executionByArn(body.executionArn).abort?.();
        return { stopDate: Date.now() / 1000 };
      },
      SendTaskSuccess: (body) => {
        this.#answer(String(body.taskToken)).resolve(
          JSON.parse(typeof body.output === 'string' ? body.output : 'null'),
        );
        return {};
      },
      SendTaskFailure: (body) => {
        this.#answer(String(body.taskToken)).reject(
          namedError(
            typeof body.error === 'string' ? body.error : 'TaskFailed',
            typeof body.cause === 'string' ? body.cause : '',
          ),
        );
        return {};
      },
      SendTaskHeartbeat: (body) => {
        const pending = this.#tokens.get(String(body.taskToken));
        if (!pending) throw new AwsApiError('TaskDoesNotExist', 'Task does not exist anymore');
        if (pending.settled || Date.now() > pending.deadline)
          throw new AwsApiError('TaskTimedOut', 'Task Timed Out');
        return {};
      },
    };
  }

  #startExecution(body: Record<string, unknown>) {
    const machine = this.#machineOf(body.stateMachineArn);
    const name = typeof body.name === 'string' && body.name ? body.name : randomBytes(16).toString('hex');
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new AwsApiError('InvalidName', `Invalid Name: '${name}'`);
    const input = typeof body.input === 'string' ? body.input : '{}';
    const existing = machine.executions.get(name);
    if (existing) {
      // AWS: the same name and input while running is idempotent; anything else is refused.
      if (existing.status === 'RUNNING' && existing.input === input) {
        return { executionArn: existing.executionArn, startDate: existing.startDate.getTime() / 1000 };
      }
      throw new AwsApiError('ExecutionAlreadyExists', `Execution Already Exists: '${existing.executionArn}'`);
    }
    const execution = machine.start(name, input);
    return { executionArn: execution.executionArn, startDate: execution.startDate.getTime() / 1000 };
  }

  #machineOf(stateMachineArn: unknown): MachineRunner {
    const machine = this.#machines.get(String(stateMachineArn));
    if (!machine)
      throw new AwsApiError(
        'StateMachineDoesNotExist',
        `State Machine Does Not Exist: '${String(stateMachineArn)}'`,
      );
    return machine;
  }

  #executionByArn(executionArn: unknown): LocalExecution {
    const execution = this.executions().find((known) => known.executionArn === executionArn);
    if (!execution)
      throw new AwsApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(executionArn)}'`);
    return execution;
  }

  /** A token's wait, answered once: a second answer, or one after its timeout, is refused as AWS refuses it. */
  #answer(token: string): PendingToken {
    const pending = this.#tokens.get(token);
    if (!pending) throw new AwsApiError('TaskDoesNotExist', 'Task does not exist anymore');
    if (pending.settled || Date.now() > pending.deadline) {
      pending.settled = true;
      throw new AwsApiError('TaskTimedOut', 'Task Timed Out');
    }
    pending.settled = true;
    return pending;
  }
}

/** An execution as DescribeExecution and ListExecutions answer it. */
function describe(execution: LocalExecution): Record<string, unknown> {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: stateMachineOfExecution(execution.executionArn),
    name: execution.name,
    status: execution.status,
    startDate: execution.startDate.getTime() / 1000,
    ...(execution.stopDate ? { stopDate: execution.stopDate.getTime() / 1000 } : {}),
    input: execution.input,
    ...(execution.output ? { output: execution.output } : {}),
    ...(execution.error ? { error: execution.error, cause: execution.cause } : {}),
  };
}

export async function startStepFunctions(options: LocalStepFunctionsOptions): Promise<LocalStepFunctions> {
  const account = new StepFunctionsAccount(options);
  const server = await startJsonApi(account.operations(), 'application/x-amz-json-1.0', options.judge);
  return {
    ...server,
    executions: () => account.executions(),
    stateMachineOfToken: (token) => account.stateMachineOfToken(token),
    idle: (timeoutMs) => account.idle(timeoutMs),
    close: async () => {
      account.abortRunning();
      await server.close();
    },
  };
}
