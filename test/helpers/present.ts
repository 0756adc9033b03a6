/**
 * The value a test's next steps need, or the test failed there, naming what was missing:
 * instead of an `if` in the test body, which could let a branch skip its assertions.
 */
export function present<T>(value: T | null | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`);
  return value;
}
