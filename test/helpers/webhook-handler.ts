import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { vi } from 'vitest';
import type { TestTable } from './ingest-table.ts';

export type WebhookHandler = (
  event: LambdaFunctionURLEvent,
  context: Context,
) => Promise<LambdaFunctionURLResult & { statusCode: number }>;

export const WEBHOOK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:hook';

/** The real webhook handler module, configured for the emulated table (Secrets Manager and SFN are mocked by the caller). */
export async function loadWebhookHandler(table: TestTable): Promise<WebhookHandler> {
  vi.stubEnv('TABLE_NAME', table.tableName);
  vi.stubEnv('WEBHOOK_SECRET', WEBHOOK_SECRET_ARN);
  vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', table.endpoint);
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
  vi.resetModules();
  return ((await import('../../lambdas/webhook/handler.ts')) as unknown as { handler: WebhookHandler })
    .handler;
}

/** A Lambda context whose invocation has `remainingMs` left. */
export function lambdaContext(remainingMs = 30_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    functionName: 'webhook',
    awsRequestId: `req-${Math.random().toString(16).slice(2)}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as unknown as Context;
}

/** A Function URL event for a request. */
export function urlEvent(
  body: string | undefined,
  headers: Record<string, string>,
  options: { method?: string; isBase64Encoded?: boolean } = {},
): LambdaFunctionURLEvent {
  const method = options.method ?? 'POST';
  return {
    version: '2.0',
    rawPath: '/',
    rawQueryString: '',
    headers,
    ...(body === undefined ? {} : { body }),
    isBase64Encoded: options.isBase64Encoded ?? false,
    requestContext: {
      http: { method, path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
    },
  } as unknown as LambdaFunctionURLEvent;
}
