/** A `.catch` for a file read that may find nothing: answers `fallback` on ENOENT, throws anything else. */
export function unlessMissing<T>(fallback: T): (error: unknown) => T {
  return (error) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  };
}
