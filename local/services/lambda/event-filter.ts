/**
 * Lambda's event filtering (an event source mapping's `FilterCriteria`), as its guide
 * describes it: a record is delivered when any filter's pattern matches it. A pattern is an
 * object whose every key must match the record's: a nested object recurses; a leaf is an
 * array of matchers, any of which matching any of the record's values (one, or each of an
 * array) is a match. Matchers: a literal (string, number, boolean, null), and `anything-but`,
 * `prefix`, `suffix`, `equals-ignore-case`, `numeric` and `exists`. A key the record lacks
 * matches only `{"exists": false}`. Written here: no maintained npm package evaluates
 * Lambda's (or EventBridge's) patterns offline.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Matcher = Json;

function isObject(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function numericMatches(conditions: Json[], value: Json): boolean {
  if (typeof value !== 'number') return false;
  for (let index = 0; index + 1 < conditions.length; index += 2) {
    const [operator, operand] = [conditions[index], conditions[index + 1]];
    if (typeof operand !== 'number') return false;
    const holds =
      operator === '='
        ? value === operand
        : operator === '>'
          ? value > operand
          : operator === '>='
            ? value >= operand
            : operator === '<'
              ? value < operand
              : operator === '<='
                ? value <= operand
                : false;
    if (!holds) return false;
  }
  return true;
}

/** Whether one matcher matches one value the record has (the key is present). */
function matchesValue(matcher: Matcher, value: Json): boolean {
  if (!isObject(matcher)) return matcher === value;
  const [operator] = Object.keys(matcher);
  const operand = operator === undefined ? undefined : matcher[operator];
  switch (operator) {
    case 'anything-but': {
      const excluded = Array.isArray(operand) ? operand : [operand ?? null];
      return !excluded.some((candidate) => matchesValue(candidate, value));
    }
    case 'prefix':
      return typeof value === 'string' && typeof operand === 'string' && value.startsWith(operand);
    case 'suffix':
      return typeof value === 'string' && typeof operand === 'string' && value.endsWith(operand);
    case 'equals-ignore-case':
      return (
        typeof value === 'string' &&
        typeof operand === 'string' &&
        value.toLowerCase() === operand.toLowerCase()
      );
    case 'numeric':
      return Array.isArray(operand) && numericMatches(operand, value);
    case 'exists':
      return operand === true;
    default:
      throw new Error(`unsupported filter rule ${JSON.stringify(matcher)}`);
  }
}

function leafMatches(matchers: Json[], present: boolean, value: Json | undefined): boolean {
  if (!present) return matchers.some((matcher) => isObject(matcher) && matcher.exists === false);
  const values = Array.isArray(value) ? value : [value ?? null];
  return matchers.some((matcher) => values.some((candidate) => matchesValue(matcher, candidate)));
}

/** Whether `pattern` (one filter's) matches `record`. */
export function patternMatches(pattern: Record<string, Json>, record: Record<string, Json>): boolean {
  return Object.entries(pattern).every(([key, rule]) => {
    const present = Object.hasOwn(record, key);
    const value = record[key];
    if (Array.isArray(rule)) return leafMatches(rule, present, value);
    if (isObject(rule)) return present && isObject(value) && patternMatches(rule, value);
    throw new Error(`a filter's values must be arrays or objects: ${key}`);
  });
}

/** Whether a mapping's filters (`FilterCriteria.Filters`, each `{ Pattern }` a JSON string) let `record` through. */
export function filtersMatch(filters: readonly { Pattern: string }[] | undefined, record: object): boolean {
  if (!filters || filters.length === 0) return true;
  return filters.some((filter) =>
    patternMatches(JSON.parse(filter.Pattern) as Record<string, Json>, record as Record<string, Json>),
  );
}
