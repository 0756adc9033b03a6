import { Aws, Duration, Fn, Names, RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  IntegrationPattern,
  JitterType,
  JsonPath,
  LogLevel,
  Pass,
  Result,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
  type IChainable,
  type INextable,
  type State,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke, SqsSendMessage } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { PERMANENT_ERROR_NAMES } from '../lambdas/shared/permanent-errors.ts';

/**
 * Errors that the same call will raise again: straight to the failure record, never
 * retried. The handlers' own list (`lambdas/shared/permanent-errors.ts`), and Lambda's
 * timeout, which a retry would meet again too.
 */
export const PERMANENT_ERRORS: readonly string[] = [...PERMANENT_ERROR_NAMES, 'Sandbox.Timedout'];

/** A Standard execution ends with an error at this many history events. */
export const MAX_HISTORY_EVENTS = 25_000;
/**
 * History events one wait for a webhook that times out, plus the poll after it, adds:
 * the callback task's entered, scheduled, started, submitted, timed out and exited, the
 * poll's entered, scheduled, started, succeeded and exited, and the choice's two.
 */
export const HISTORY_EVENTS_PER_WAIT_ROUND = 13;
/**
 * Kept for everything outside the wait rounds: Prepare and its retries, the transfer's
 * one wait in the queue (however long), polls that are retried, and the failure path.
 */
export const HISTORY_EVENTS_RESERVED = 1_000;

/**
 * Refuses a `maxWait`/`pollAfter` pair whose wait-and-poll rounds could outgrow a Standard
 * execution's history: the execution would fail at 25,000 events instead of timing out.
 */
export function checkHistoryBudget(maxWait: Duration, pollAfter: Duration): void {
  const rounds = Math.ceil(maxWait.toSeconds() / Math.max(1, pollAfter.toSeconds()));
  const maxRounds = Math.floor(
    (MAX_HISTORY_EVENTS - HISTORY_EVENTS_RESERVED) / HISTORY_EVENTS_PER_WAIT_ROUND,
  );
  if (rounds > maxRounds) {
    throw new Error(
      `maxWait (${maxWait.toHumanString()}) over pollAfter (${pollAfter.toHumanString()}) is ${rounds} wait-and-poll rounds of ~${HISTORY_EVENTS_PER_WAIT_ROUND} history events each, and a Standard execution stops at ${MAX_HISTORY_EVENTS.toLocaleString('en-US')} events: allow at most ${maxRounds} rounds (raise pollAfter to at least ${Math.ceil(maxWait.toSeconds() / maxRounds)} seconds, or lower maxWait)`,
    );
  }
}

/** State names: the infrastructure tests find states by them, and docs/architecture.md names them. */
export const STATE = {
  prepare: 'Prepare',
  prepared: 'Prepared?',
  duplicate: 'Duplicate',
  rejected: 'Rejected',
  transfer: 'Transfer',
  transferQueueTimedOut: 'TransferQueueTimedOut',
  waitForFile: 'WaitForFile',
  poll: 'Poll',
  readiness: 'Ready?',
  ready: 'Ready',
  processingFailed: 'ProcessingFailed',
  timedOut: 'TimedOut',
  recordFailureBeforeClaim: 'RecordFailureBeforeClaim',
  recordFailure: 'RecordFailure',
  failed: 'Failed',
} as const;

export interface IngestWorkflowFunctions {
  readonly prepare: IFunction;
  readonly awaitFile: IFunction;
  readonly poll: IFunction;
  readonly recordFailure: IFunction;
}

export interface IngestWorkflowProps {
  readonly functions: IngestWorkflowFunctions;
  /** Transfers wait their turn here; its consumer answers the task token. */
  readonly transferQueue: IQueue;
  /** The longest a transfer may wait in the queue and run before the file is FAILED `TransferQueueTimeoutError`. */
  readonly maxQueueWait: Duration;
  /** How long one wait for a webhook lasts before a poll. */
  readonly pollAfter: Duration;
  /** The longest an ingest waits for readiness; the state machine's own timeout adds the queue's wait and an hour. */
  readonly maxWait: Duration;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The ingest workflow, in JSONPath (not JSONata, no `Assign`) so the deployed definition
 * and the one the local runtime runs are the same text:
 *
 * Prepare → Prepared? → Transfer (queued) → WaitForFile ⇄ Poll → Ready? → Ready
 * with Duplicate / Rejected (succeed, already recorded), errors → RecordFailure → Failed,
 * ProcessingFailed and TimedOut (recorded by who saw them).
 *
 * Transfer is the admission control: it puts `{pk, taskToken}` on the transfer queue and
 * waits, at no cost per minute, until the queue's consumer (at most the cap at once)
 * creates the VideoGen file, sends the bytes and answers the token.
 */
export class IngestWorkflow extends Construct {
  readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: IngestWorkflowProps) {
    super(scope, id);
    const { functions } = props;
    const pk = JsonPath.stringAt('$.prepared.pk');
    const source = JsonPath.objectAt('$.source');
    const executionArn = JsonPath.stringAt('$$.Execution.Id');

    const failed = new Fail(this, STATE.failed, {
      error: 'IngestFailed',
      cause: 'see the ingest record for the error',
    });
    const recordFailure = this.task(
      STATE.recordFailure,
      functions.recordFailure,
      {
        source,
        pk,
        error: JsonPath.objectAt('$.error'),
        executionArn,
      },
      '$.recorded',
    );
    recordFailure.next(failed);
    const recordFailureBeforeClaim = this.task(
      STATE.recordFailureBeforeClaim,
      functions.recordFailure,
      {
        source,
        error: JsonPath.objectAt('$.error'),
        executionArn,
      },
      '$.recorded',
    );
    recordFailureBeforeClaim.next(failed);
    for (const recorder of [recordFailure, recordFailureBeforeClaim]) {
      recorder.addRetry({
        errors: ['States.ALL'],
        interval: Duration.seconds(2),
        backoffRate: 2,
        maxAttempts: 5,
        jitterStrategy: JitterType.FULL,
      });
    }

    const prepare = this.task(STATE.prepare, functions.prepare, { source, executionArn }, '$.prepared');
    this.retryTransient(prepare);
    prepare.addCatch(recordFailureBeforeClaim, { errors: ['States.ALL'], resultPath: '$.error' });

    const transfer = new SqsSendMessage(this, STATE.transfer, {
      queue: props.transferQueue,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      messageBody: TaskInput.fromObject({ pk, taskToken: JsonPath.taskToken }),
      resultPath: '$.upload',
      taskTimeout: Timeout.duration(props.maxQueueWait),
    });
    transfer.addRetry({
      errors: ['SQS.SdkClientException', 'SQS.AmazonSQSException'],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxAttempts: 5,
      jitterStrategy: JitterType.FULL,
    });
    const queueTimedOut = new Pass(this, STATE.transferQueueTimedOut, {
      result: Result.fromObject({
        Error: 'TransferQueueTimeoutError',
        Cause: `the transfer did not finish within ${props.maxQueueWait.toHumanString()} of joining the transfer queue`,
      }),
      resultPath: '$.error',
    });
    queueTimedOut.next(recordFailure);
    transfer.addCatch(queueTimedOut, { errors: ['States.Timeout'], resultPath: JsonPath.DISCARD });
    transfer.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });

    const waitForFile = new LambdaInvoke(this, STATE.waitForFile, {
      lambdaFunction: functions.awaitFile,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({ pk, taskToken: JsonPath.taskToken }),
      resultPath: '$.readiness',
      taskTimeout: Timeout.duration(props.pollAfter),
      retryOnServiceExceptions: false,
    });
    // Its own timeout is the way to Poll, never retried; ahead of the retriers below, since
    // States.ALL would match it too. AwaitFile is idempotent (a conditional write, then at
    // most one answer), so everything else transient is retried as for the other tasks.
    waitForFile.addRetry({ errors: ['States.Timeout'], maxAttempts: 0 });
    this.retryThrottles(waitForFile);
    this.retryTransient(waitForFile);
    const poll = this.task(
      STATE.poll,
      functions.poll,
      {
        pk,
        fileId: JsonPath.stringAt('$.upload.fileId'),
        // The max wait counts from when VideoGen accepted the bytes, not from the drop:
        // time spent queued for a transfer slot is not VideoGen's processing time.
        uploadedAt: JsonPath.stringAt('$.upload.uploadedAt'),
      },
      '$.readiness',
    );
    this.retryTransient(poll);
    poll.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    waitForFile.addCatch(poll, { errors: ['States.Timeout'], resultPath: JsonPath.DISCARD });
    waitForFile.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });

    const readiness = new Choice(this, STATE.readiness)
      .when(Condition.stringEquals('$.readiness.outcome', 'READY'), new Succeed(this, STATE.ready))
      .when(Condition.stringEquals('$.readiness.outcome', 'WAITING'), waitForFile)
      .when(
        Condition.stringEquals('$.readiness.outcome', 'TIMED_OUT'),
        new Fail(this, STATE.timedOut, {
          error: 'IngestTimedOut',
          cause: 'VideoGen did not report the file ready within the max wait',
        }),
      )
      .otherwise(
        new Fail(this, STATE.processingFailed, {
          error: 'VideoGenProcessingFailed',
          cause: 'VideoGen reported the file as FAILED',
        }),
      );
    waitForFile.next(readiness);
    poll.next(readiness);

    const definition: IChainable = prepare.next(
      new Choice(this, STATE.prepared)
        .when(
          Condition.stringEquals('$.prepared.outcome', 'DUPLICATE'),
          new Succeed(this, STATE.duplicate, { comment: 'this object version was ingested already' }),
        )
        .when(
          Condition.stringEquals('$.prepared.outcome', 'REJECTED'),
          new Succeed(this, STATE.rejected, { comment: 'recorded REJECTED with its reason' }),
        )
        .otherwise(transfer.next(waitForFile)),
    );

    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(definition),
      timeout: props.maxQueueWait.plus(props.maxWait).plus(Duration.hours(1)),
      tracingEnabled: true,
      logs: {
        // Under /aws/vendedlogs/: Step Functions then needs no entry in the account's one
        // CloudWatch Logs resource policy, whose 5,120-character limit busy accounts reach.
        // The stack's own id in the name: a retained log group of an earlier stack of the
        // same name (destroyed, or rolled back) would make a fixed name "already exist".
        destination: new LogGroup(this, 'Logs', {
          logGroupName: `/aws/vendedlogs/states/${Names.uniqueResourceName(this, { maxLength: 400, separator: '-' })}-${stackInstanceId()}`,
          retention: props.logRetention,
          removalPolicy: props.removalPolicy,
        }),
        level: LogLevel.ALL,
        // Execution data holds presigned upload URLs: keep it out of the logs.
        includeExecutionData: false,
      },
    });
  }

  /**
   * A Lambda task whose result is the function's answer (no `Payload` wrapper). Lambda's own
   * errors are retried (CDK's service exceptions), and so is a throttle: the account's
   * concurrency is shared with whatever else runs in it.
   */
  private task(
    name: string,
    fn: IFunction,
    payload: Record<string, unknown>,
    resultPath: string,
  ): LambdaInvoke {
    const task = new LambdaInvoke(this, name, {
      lambdaFunction: fn,
      payload: TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      resultPath,
      retryOnServiceExceptions: true,
    });
    this.retryThrottles(task);
    return task;
  }

  /**
   * Patient: a library-sized drop on an account with little concurrency throttles in
   * bursts; ten tries over up to ~5 minutes let it through (measured: 6 over ~1 minute
   * failed 2 files of 300 with Prepare held to 2 at once). Every Lambda task has it.
   */
  private retryThrottles(task: LambdaInvoke): void {
    task.addRetry({
      errors: ['Lambda.TooManyRequestsException'],
      interval: Duration.seconds(1),
      backoffRate: 2,
      maxDelay: Duration.minutes(1),
      maxAttempts: 10,
      jitterStrategy: JitterType.FULL,
    });
  }

  /** Permanent errors go straight to Catch; a 429 backs off longer; anything else transient is retried. */
  private retryTransient(task: State & INextable & { addRetry: LambdaInvoke['addRetry'] }): void {
    task.addRetry({ errors: [...PERMANENT_ERRORS], maxAttempts: 0 });
    task.addRetry({
      errors: ['VideoGenRateLimitedError'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxDelay: Duration.minutes(1),
      maxAttempts: 6,
      jitterStrategy: JitterType.FULL,
    });
    task.addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(2),
      backoffRate: 2,
      maxDelay: Duration.seconds(30),
      maxAttempts: 4,
      jitterStrategy: JitterType.FULL,
    });
  }
}

/**
 * The first part of the UUID in the stack's id (`arn:…:stack/NAME/UUID`): new each time a
 * stack of that name is created, the same across its updates.
 */
function stackInstanceId(): string {
  return Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', Aws.STACK_ID))));
}
