/**
 * The workflow passed input this task cannot use: a bug, never retried. A module of its
 * own, so the construct can name it (`permanent-errors.ts`) without loading Powertools.
 */
export class InvalidTaskInputError extends Error {
  override readonly name = 'InvalidTaskInputError';
}
