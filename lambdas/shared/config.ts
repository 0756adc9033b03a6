/**
 * Configuration from the environment, read once at module scope by each handler. A
 * missing or malformed variable fails the cold start with its name, never a silent default.
 */
// zod/mini throughout the Lambda code: the same validation at a thirtieth of the bundle size.
import * as z from 'zod/mini';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `process.env` (or `env`) with `shape`; throws ConfigError naming every bad variable. */
export function loadConfig<S extends Record<string, z.ZodMiniType>>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodMiniObject<S>> {
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.map(String).join('.')}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export const READINESS_LEVELS = ['upload', 'playback', 'download', 'analysis'] as const;
export type Readiness = (typeof READINESS_LEVELS)[number];

/** A string that is not empty: the most common check of an event field or a variable. */
export function nonEmptyString(): z.ZodMiniString<string> {
  return z.string().check(z.minLength(1));
}

/** Variables shared by several handlers, with their zod parsers. */
export const env = {
  tableName: nonEmptyString(),
  secretArn: nonEmptyString(),
  url: z.url(),
  readiness: z.enum(READINESS_LEVELS),
  positiveInt: z.coerce
    .number()
    .check(z.refine((value) => Number.isInteger(value) && value > 0, 'must be a whole number above 0')),
} as const;
