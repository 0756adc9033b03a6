/** What the `videogen-ingest` commands share to read their arguments. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A wrong argument: the command prints it with its usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * `--name -3` as `--name=-3` for an option that takes a value: parseArgs refuses a value
 * that starts with a dash as ambiguous, and a negative number deserves the option's own
 * message (its accepted values) rather than the parser's.
 */
function negativeValuesJoined(args: readonly string[], options: ParseArgsConfig['options']): string[] {
  const taking = new Set(
    Object.entries(options ?? {})
      .filter(([, option]) => option.type === 'string')
      .map(([name]) => `--${name}`),
  );
  const joined: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    const next = args[index + 1];
    if (taking.has(arg) && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${arg}=${next}`);
      index += 1;
    } else joined.push(arg);
  }
  return joined;
}

/** `parseArgs`, strict, with what it refuses (an unknown or malformed option) as a UsageError. */
export function parseCommandArgs<const T extends ParseArgsConfig>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({
      strict: true,
      ...config,
      ...(config.args ? { args: negativeValuesJoined(config.args, config.options) } : {}),
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A whole number option (within `range`, when given), or a UsageError naming the option and what it takes. */
export function wholeNumber(
  name: string,
  value: string | undefined,
  range?: { readonly min: number; readonly max: number },
): number | undefined {
  if (value === undefined) return undefined;
  const accepted = range ? `a whole number from ${range.min} to ${range.max}` : 'a whole number';
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isNaN(number) || (range && (number < range.min || number > range.max))) {
    throw new UsageError(`--${name} takes ${accepted}, got "${value}"`);
  }
  return number;
}

/** What `parse` answers, or what it throws as a UsageError (an argument a parser of its own refused). */
export function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}
