/** What the `videogen-ingest` commands share to read their arguments. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseFaultSpec, type FaultRule } from './simulator/faults.ts';

/** A wrong argument: the command prints it with its usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** `parseArgs`, strict, with what it refuses (an unknown or malformed option) as a UsageError. */
export function parseCommandArgs<const T extends ParseArgsConfig>(
  config: T,
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>({ strict: true, ...config });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A whole number option, or a UsageError naming the option. */
export function wholeNumber(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} takes a whole number, got "${value}"`);
  return Number(value);
}

/** `--fault` specs as fault rules, or a UsageError saying what is wrong with one. */
export function faultRules(specs: readonly string[]): FaultRule[] {
  return specs.map((spec) => {
    try {
      return parseFaultSpec(spec);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  });
}
