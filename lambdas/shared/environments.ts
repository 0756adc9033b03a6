/**
 * Each handler's environment: the variables the construct gives its function and the
 * handler reads at cold start, with their parsers. The one place a variable is named:
 * a handler loads its config from its entry (`loadConfig(ENVIRONMENTS.prepare)`), the
 * construct must give each function every variable of its entry (`EnvironmentOf`), and
 * the sample environment of the tests (`test/fixtures/lambda-env.ts`) must hold them all (`VariableName`).
 */
import * as z from 'zod/mini';
import { env, nonEmptyString } from './config.ts';

export const ENVIRONMENTS = {
  starter: {
    STATE_MACHINE_ARN: nonEmptyString(),
    /** The drop prefix; empty: the whole bucket. */
    DROP_PREFIX: z._default(z.string(), ''),
    /** Comma-separated key suffixes; empty: every key. */
    DROP_SUFFIXES: z._default(z.string(), ''),
  },
  prepare: { TABLE_NAME: env.tableName, READINESS: env.readiness, MAX_FILE_BYTES: env.positiveInt },
  transfer: {
    TABLE_NAME: env.tableName,
    VIDEOGEN_API_URL: env.url,
    VIDEOGEN_API_KEY_SECRET: env.secretArn,
    MAX_UPLOAD_URL_ATTEMPTS: env.positiveInt,
    MAX_TRANSFER_ATTEMPTS: env.positiveInt,
    TRANSFER_QUEUE_URL: nonEmptyString(),
    /** The transfer queue's visibility timeout: how long a worker hides its message from the moment it starts. */
    TRANSFER_VISIBILITY_SECONDS: env.positiveInt,
  },
  'await-file': { TABLE_NAME: env.tableName },
  poll: {
    TABLE_NAME: env.tableName,
    VIDEOGEN_API_URL: env.url,
    VIDEOGEN_API_KEY_SECRET: env.secretArn,
    MAX_WAIT_SECONDS: env.positiveInt,
  },
  'record-failure': { TABLE_NAME: env.tableName, READINESS: env.readiness },
  webhook: { TABLE_NAME: env.tableName, WEBHOOK_SECRET: env.secretArn },
  'register-webhook': { VIDEOGEN_API_URL: env.url, VIDEOGEN_API_KEY_SECRET: env.secretArn },
} as const satisfies Record<string, Record<string, z.ZodMiniType>>;

/** The handlers under `lambdas/`, by folder name. */
export type HandlerName = keyof typeof ENVIRONMENTS;

/** The variables a handler's function is given: every one its entry names, as strings. */
export type EnvironmentOf<H extends HandlerName> = { readonly [V in keyof (typeof ENVIRONMENTS)[H]]: string };

/** Every variable any handler reads. */
export type VariableName = { [H in HandlerName]: keyof (typeof ENVIRONMENTS)[H] }[HandlerName];
