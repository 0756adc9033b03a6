import {
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  TaskDoesNotExist,
  TaskTimedOut,
  type SFNClient,
} from '@aws-sdk/client-sfn';

/** What a waiting workflow is told when it resumes. */
export interface ReadinessOutcome {
  readonly outcome: 'READY' | 'FAILED';
  readonly status: string;
}

/**
 * Sends an answer to the workflow waiting on a token. A token whose wait already ended
 * (timed out, answered, or the execution stopped) answers TaskTimedOut, TaskDoesNotExist
 * or InvalidToken: nothing is waiting, so that is not an error; `false` says so.
 */
async function answerWaitingTask(send: () => Promise<unknown>): Promise<boolean> {
  try {
    await send();
    return true;
  } catch (error) {
    if (error instanceof TaskTimedOut || error instanceof TaskDoesNotExist || error instanceof InvalidToken)
      return false;
    throw error;
  }
}

/** Resumes the workflow waiting on `taskToken` with `output`. */
export function completeTask(sfn: SFNClient, taskToken: string, output: unknown): Promise<boolean> {
  return answerWaitingTask(() =>
    sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
  );
}

/** Fails the task waiting on `taskToken` with an error its state's `Catch` matches on by name. */
export function failTask(
  sfn: SFNClient,
  taskToken: string,
  error: { name: string; message: string },
): Promise<boolean> {
  return answerWaitingTask(() =>
    sfn.send(
      new SendTaskFailureCommand({
        taskToken,
        error: error.name.slice(0, 256),
        cause: error.message.slice(0, 32_768),
      }),
    ),
  );
}

/** Resumes the workflow waiting for readiness. */
export function resumeWorkflow(
  sfn: SFNClient,
  taskToken: string,
  outcome: ReadinessOutcome,
): Promise<boolean> {
  return completeTask(sfn, taskToken, outcome);
}
