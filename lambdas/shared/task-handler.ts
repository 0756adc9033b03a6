/**
 * The shape every Step Functions task handler shares: validate the task's input with
 * zod, run the logic with its dependencies, publish metrics. Thrown errors keep their
 * `name`, which the workflow's `Retry` and `Catch` match on.
 */
import type { Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { countVideoGenError, logger, publishMetrics } from './powertools.ts';
import { InvalidTaskInputError } from './task-input-error.ts';

export { InvalidTaskInputError } from './task-input-error.ts';

export function stepFunctionsTask<S extends z.ZodMiniType, R>(
  schema: S,
  run: (input: z.infer<S>, context: Context) => Promise<R>,
): (event: unknown, context: Context) => Promise<R> {
  return async (event, context) => {
    logger.addContext(context);
    const parsed = schema.safeParse(event);
    if (!parsed.success) {
      logger.error('invalid task input', { issues: parsed.error.issues });
      throw new InvalidTaskInputError(
        `invalid task input: ${parsed.error.issues.map((issue) => issue.path.map(String).join('.')).join(', ')}`,
      );
    }
    const input = parsed.data;
    if (typeof input === 'object' && input !== null && 'pk' in input && typeof input.pk === 'string') {
      logger.appendKeys({ pk: input.pk });
    }
    try {
      return await run(input, context);
    } catch (error) {
      logger.warn('task failed', { error });
      countVideoGenError(error);
      throw error;
    } finally {
      publishMetrics();
      logger.resetKeys();
    }
  };
}
