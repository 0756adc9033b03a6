/**
 * Every assumption this project makes about the VideoGen API lives in this folder
 * (`lambdas/shared/videogen/`), and every *shape* lives in this file. The seed page
 * (`docs/videogen-file-uploads.txt`) documents the calls and the webhook event
 * names; what it leaves open is assumed here, as docs/architecture.md's "VideoGen API contract"
 * lists. When the real guide says otherwise, this is the file that changes.
 *
 * Schemas are loose on purpose: unknown fields are kept (so a record can carry what a
 * newer API returns) and optional fields may be missing or null.
 */
// zod/mini, not the classic API: the same validation at 15 KB instead of 450 KB per Lambda bundle.
import * as z from 'zod/mini';

/** Default base URL; the seed's curl example uses it. */
export const DEFAULT_VIDEOGEN_API_URL = 'https://api.videogen.io';

export const FILE_TYPES = ['IMAGE', 'VIDEO', 'AUDIO'] as const;
export type FileType = (typeof FILE_TYPES)[number];

export const FILE_STATUSES = ['PENDING_UPLOAD', 'PROCESSING', 'READY', 'FAILED'] as const;
export type FileStatus = (typeof FILE_STATUSES)[number];

export const ANALYSIS_STATUSES = ['PENDING', 'COMPLETED', 'FAILED', 'SKIPPED'] as const;
export type AnalysisStatus = (typeof ANALYSIS_STATUSES)[number];

/** The lifecycle events the seed lists, in the order a healthy file emits them. */
export const WEBHOOK_EVENT_TYPES = [
  'file.upload.completed',
  'file.playback_ready',
  'file.download_ready',
  'file.analysis_completed',
  'file.analysis_failed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/**
 * A single presigned PUT is capped at 5 GiB by the storage providers VideoGen's
 * presigned URLs point at (S3's single-PUT ceiling). Larger files need a multipart
 * flow the seed does not document.
 */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

/** Standard Webhooks' tolerance for the `webhook-timestamp` header. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

const nullableString = z.nullish(z.string());

export const fileSourcesSchema = z.looseObject({
  hlsSource: nullableString,
  downloadUrl: nullableString,
});

export const fileAnalysisSchema = z.looseObject({
  status: z.nullish(z.enum(ANALYSIS_STATUSES)),
  description: nullableString,
  transcript: nullableString,
});

/** The file object of `GET /v1/files/{id}` and of every webhook's `data.file`. */
export const videoGenFileSchema = z.looseObject({
  fileId: z.string().check(z.minLength(1)),
  displayName: nullableString,
  type: z.nullish(z.enum(FILE_TYPES)),
  isTemporary: z.nullish(z.boolean()),
  status: z.enum(FILE_STATUSES),
  sources: z.nullish(fileSourcesSchema),
  analysis: z.nullish(fileAnalysisSchema),
  createdAt: nullableString,
  updatedAt: nullableString,
});
export type VideoGenFile = z.infer<typeof videoGenFileSchema>;

/** Request body of `POST /v1/files/upload`, as the seed's table defines it. */
export const createFileRequestSchema = z.object({
  displayName: z.string().check(z.minLength(1, 'displayName is required')),
  type: z.optional(z.enum(FILE_TYPES)),
  isTemporary: z.optional(z.boolean()),
});
export type CreateFileRequest = z.infer<typeof createFileRequestSchema>;

/** Answer of `POST /v1/files/upload` (200 or 201). */
export const createFileResponseSchema = z.looseObject({
  fileId: z.string().check(z.minLength(1)),
  uploadUrl: z.url(),
});
export type CreateFileResponse = z.infer<typeof createFileResponseSchema>;

/** Request body of `POST /v1/webhooks/endpoints`. */
export const createWebhookEndpointRequestSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  events: z.array(z.enum(WEBHOOK_EVENT_TYPES)).check(z.minLength(1, 'events must name at least one event')),
});
export type CreateWebhookEndpointRequest = z.infer<typeof createWebhookEndpointRequestSchema>;

/** Answer of `POST /v1/webhooks/endpoints`. */
export const webhookEndpointSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  url: z.string(),
  events: z.array(z.string()),
  secret: z.string().check(z.startsWith('whsec_')),
});
export type WebhookEndpoint = z.infer<typeof webhookEndpointSchema>;

/** Every error answer: `{ "error": { "code", "message" } }`. */
export const errorBodySchema = z.object({
  error: z.looseObject({ code: z.string(), message: z.optional(z.string()) }),
});

/**
 * A webhook delivery's body. `type` stays an open string: an event type this project
 * does not know yet must be acknowledged, not rejected (VideoGen would retry it forever).
 */
export const webhookEventSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  type: z.string().check(z.minLength(1)),
  createdAt: z.string(),
  data: z.looseObject({ file: videoGenFileSchema }),
});
export type WebhookEvent = z.infer<typeof webhookEventSchema>;

export function isKnownEventType(type: string): type is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type);
}

/** Temporary files are never analyzed, so these two never fire for them (seed). */
export const ANALYSIS_EVENT_TYPES: readonly WebhookEventType[] = [
  'file.analysis_completed',
  'file.analysis_failed',
];
