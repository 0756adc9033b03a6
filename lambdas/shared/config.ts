/**
 * Configuration from the environment, read once at module scope by each handler. A
 * missing or malformed variable fails the cold start with its name, never a silent default.
 */
import { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses `process.env` (or `env`) with `shape`; throws ConfigError naming every bad variable. */
export function loadConfig<S extends z.ZodRawShape>(
  shape: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<S>> {
  const parsed = z.object(shape).safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export const READINESS_LEVELS = ['upload', 'playback', 'download', 'analysis'] as const;
export type Readiness = (typeof READINESS_LEVELS)[number];

/** Variables shared by several handlers, with their zod parsers. */
export const env = {
  tableName: z.string().min(1),
  secretArn: z.string().min(1),
  url: z.url(),
  readiness: z.enum(READINESS_LEVELS),
  positiveInt: z.coerce.number().int().positive(),
} as const;
