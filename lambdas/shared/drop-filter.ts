/**
 * Which keys of the drop bucket are ingested: one definition for the EventBridge rule
 * the construct deploys (`dropEventPattern`) and the check the starter repeats
 * (`matchesDropFilter`), which is the only filter on the local runtime.
 */
import { encodeEventKey, eventKeyCandidates } from './s3-event-key.ts';

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

/** An event's key passes the filter in either of the forms it may stand for (`eventKeyCandidates`). */
export function eventMatchesDropFilter(eventKey: string, filter: DropFilter): boolean {
  return eventKeyCandidates(eventKey).some((key) => matchesDropFilter(key, filter));
}

/** A prefix or suffix as written, and URL-encoded when that differs (keys may come either way). */
function bothForms(text: string): string[] {
  const encoded = encodeEventKey(text);
  return encoded === text ? [text] : [text, encoded];
}

/** The `detail.object.key` part of an EventBridge pattern for `filter`. */
export function dropKeyPattern(filter: DropFilter): unknown[] | undefined {
  const prefixes = bothForms(filter.prefix).map((prefix) => ({ prefix }));
  if (filter.suffixes.length > 0) {
    // EventBridge has no "prefix AND suffix" on one field but takes `wildcard`; `equals-ignore-case`
    // suffixes work alone. With a prefix, the starter re-checks the case-insensitive suffix.
    if (filter.prefix === '')
      return filter.suffixes
        .flatMap(bothForms)
        .map((suffix) => ({ suffix: { 'equals-ignore-case': suffix } }));
    return prefixes;
  }
  return filter.prefix === '' ? undefined : prefixes;
}

/** Parses the comma-separated form used in environment variables and CDK context. */
export function parseSuffixes(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((suffix) => suffix.trim())
    .filter((suffix) => suffix !== '');
}
