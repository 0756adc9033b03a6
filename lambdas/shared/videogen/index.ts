/** The VideoGen API, as this project uses it: one import for the client, the uploader, webhook verification and the contract. */
export * from './contract.ts';
export * from './errors.ts';
export { VideoGenClient, type VideoGenClientOptions, type CallOptions } from './client.ts';
export { parseRetryAfter, redactUrl } from './http-errors.ts';
export { uploadToPresignedUrl, type UploadOptions, type UploadResult } from './upload.ts';
export {
  createWebhookVerifier,
  signWebhook,
  WebhookPayloadError,
  WebhookSignatureError,
  type RawWebhookRequest,
  type VerifiedWebhook,
} from './webhooks.ts';
