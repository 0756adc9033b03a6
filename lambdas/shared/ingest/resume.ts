import {
  InvalidToken,
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
 * Resumes the workflow waiting on `taskToken`. A token whose wait already ended (timed
 * out into the poll path, or the execution stopped) answers TaskTimedOut,
 * TaskDoesNotExist or InvalidToken: nothing is waiting, so that is not an error.
 */
export async function resumeWorkflow(
  sfn: SFNClient,
  taskToken: string,
  outcome: ReadinessOutcome,
): Promise<boolean> {
  try {
    await sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(outcome) }));
    return true;
  } catch (error) {
    if (error instanceof TaskTimedOut || error instanceof TaskDoesNotExist || error instanceof InvalidToken)
      return false;
    throw error;
  }
}
