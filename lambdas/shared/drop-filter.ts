/**
 * Which keys of the drop bucket are ingested: one definition for the EventBridge rule
 * the construct deploys (`dropEventPattern`) and the check the starter repeats
 * (`matchesDropFilter`), which is the only filter on the local runtime.
 */
export interface DropFilter {
  /** Only keys under this prefix; empty for every key. */
  readonly prefix: string;
  /** Only keys ending in one of these, compared without case; empty for every key. */
  readonly suffixes: readonly string[];
}

export function matchesDropFilter(key: string, filter: DropFilter): boolean {
  if (!key.startsWith(filter.prefix)) return false;
  if (key.endsWith('/')) return false; // a "folder" placeholder made by the console
  if (filter.suffixes.length === 0) return true;
  const lower = key.toLowerCase();
  return filter.suffixes.some((suffix) => lower.endsWith(suffix.toLowerCase()));
}

/** The `detail.object.key` part of an EventBridge pattern for `filter`. */
export function dropKeyPattern(filter: DropFilter): unknown[] | undefined {
  if (filter.suffixes.length > 0) {
    // EventBridge has no "prefix AND suffix" on one field but takes `wildcard`; `equals-ignore-case`
    // suffixes work alone. With a prefix, the starter re-checks the case-insensitive suffix.
    if (filter.prefix === '')
      return filter.suffixes.map((suffix) => ({ suffix: { 'equals-ignore-case': suffix } }));
    return [{ prefix: filter.prefix }];
  }
  return filter.prefix === '' ? undefined : [{ prefix: filter.prefix }];
}

/** Parses the comma-separated form used in environment variables and CDK context. */
export function parseSuffixes(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((suffix) => suffix.trim())
    .filter((suffix) => suffix !== '');
}
