import { describe, expect, it } from 'vitest';
import * as ingestErrors from '#shared/ingest/errors';
import { PERMANENT_ERROR_CLASSES, PERMANENT_ERROR_NAMES } from '#shared/permanent-errors';
import * as videoGenErrors from '#shared/videogen/errors';
import { PERMANENT_ERRORS } from '../../lib/ingest-workflow.ts';

type ErrorClass = new (message: string, ...rest: never[]) => Error;

const classesIn = (module: Record<string, unknown>): ErrorClass[] =>
  Object.values(module).filter(
    (value): value is ErrorClass => typeof value === 'function' && value.prototype instanceof Error,
  );

describe('permanent errors', () => {
  it('hold every VideoGen error that is not retryable, and none that is', () => {
    for (const type of classesIn(videoGenErrors)) {
      if (Object.getPrototypeOf(type) !== videoGenErrors.VideoGenError) continue;
      const probe: Error & { retryable?: boolean } = new type('probe');
      expect(PERMANENT_ERROR_CLASSES.includes(type as never), probe.name).toBe(!probe.retryable);
    }
  });

  it('hold every ingest error (none of them is retried)', () => {
    for (const type of classesIn(ingestErrors)) {
      expect(PERMANENT_ERROR_CLASSES.includes(type as never), type.name).toBe(true);
    }
  });

  it('are what the workflow never retries, by the names Lambda reports', () => {
    expect(PERMANENT_ERROR_NAMES).toContain('SourceGoneError');
    expect(PERMANENT_ERRORS).toEqual([...PERMANENT_ERROR_NAMES, 'Sandbox.Timedout']);
    for (const type of PERMANENT_ERROR_CLASSES) expect(new type('x').name).toBe(type.name);
  });
});
