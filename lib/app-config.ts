import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import { z } from 'zod';
import { READINESS_LEVELS } from '../lambdas/shared/config.ts';
import { parseSuffixes } from '../lambdas/shared/drop-filter.ts';
import type { VideoGenIngestStackProps } from './videogen-ingest-stack.ts';

const kmsKeyArn = z
  .string()
  .regex(
    /^arn:aws[\w-]*:kms:[\w-]+:\d{12}:key\/[\w-]+$/,
    'must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)',
  );

/** The CDK context keys `bin/app.ts` reads (`npx cdk deploy -c key=value`), with their defaults. */
export const contextSchema = z.object({
  stackName: z.string().min(1).default('VideoGenIngest'),
  apiKeySecretName: z.string().min(1).default('videogen/api-key'),
  videoGenApiUrl: z.string().optional(),
  existingBucketName: z.string().min(3).optional(),
  existingBucketKmsKeyArn: kmsKeyArn.optional(),
  apiKeySecretKmsKeyArn: kmsKeyArn.optional(),
  webhookSecretName: z.string().min(1).optional(),
  keyPrefix: z.string().optional(),
  keySuffixes: z.string().optional(),
  readiness: z.enum(READINESS_LEVELS).optional(),
  maxFileSizeMiB: z.coerce.number().int().positive().optional(),
  maxConcurrentTransfers: z.coerce.number().int().positive().optional(),
  maxQueueWaitHours: z.coerce.number().positive().optional(),
  maxConcurrentWebhooks: z.coerce.number().int().positive().optional(),
  pollAfterSeconds: z.coerce.number().int().positive().optional(),
  maxWaitSeconds: z.coerce.number().int().positive().optional(),
  removalPolicy: z.enum(['retain', 'destroy']).optional(),
  alarmEmail: z.email().optional(),
});
export type AppContext = z.infer<typeof contextSchema>;

/** Turns context values (strings on the command line) into the stack's props; a bad value fails with its key. */
export function stackPropsFromContext(
  read: (key: string) => unknown,
): VideoGenIngestStackProps & { stackName: string } {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(contextSchema.shape)) {
    const value = read(key);
    if (value !== undefined) raw[key] = value;
  }
  const parsed = contextSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `invalid CDK context: ${parsed.error.issues.map((issue) => `-c ${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  const c = parsed.data;
  return {
    stackName: c.stackName,
    apiKeySecretName: c.apiKeySecretName,
    ...(c.existingBucketName ? { existingBucketName: c.existingBucketName } : {}),
    ...(c.existingBucketKmsKeyArn ? { existingBucketKmsKeyArn: c.existingBucketKmsKeyArn } : {}),
    ...(c.apiKeySecretKmsKeyArn ? { apiKeySecretKmsKeyArn: c.apiKeySecretKmsKeyArn } : {}),
    ...(c.webhookSecretName ? { webhookSecretName: c.webhookSecretName } : {}),
    ...(c.alarmEmail ? { alarmEmail: c.alarmEmail } : {}),
    ingest: {
      ...(c.videoGenApiUrl ? { videoGenApiUrl: c.videoGenApiUrl } : {}),
      ...(c.keyPrefix ? { keyPrefix: c.keyPrefix } : {}),
      ...(c.keySuffixes ? { keySuffixes: parseSuffixes(c.keySuffixes) } : {}),
      ...(c.readiness ? { readiness: c.readiness } : {}),
      ...(c.maxFileSizeMiB ? { maxFileSize: Size.mebibytes(c.maxFileSizeMiB) } : {}),
      ...(c.maxConcurrentTransfers ? { maxConcurrentTransfers: c.maxConcurrentTransfers } : {}),
      ...(c.maxQueueWaitHours
        ? { maxQueueWait: Duration.minutes(Math.round(c.maxQueueWaitHours * 60)) }
        : {}),
      ...(c.maxConcurrentWebhooks ? { maxConcurrentWebhooks: c.maxConcurrentWebhooks } : {}),
      ...(c.pollAfterSeconds ? { pollAfter: Duration.seconds(c.pollAfterSeconds) } : {}),
      ...(c.maxWaitSeconds ? { maxWait: Duration.seconds(c.maxWaitSeconds) } : {}),
      ...(c.removalPolicy
        ? { removalPolicy: c.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN }
        : {}),
    },
  };
}
