import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockAwsClient } from './aws-mocks.ts';
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, vi } from 'vitest';
import { startIngestTable, type TestTable } from './ingest-table.ts';

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

/** The event of a request (API Gateway's payload 2.0, a Function URL's too). */
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

/**
 * The hooks every webhook-handler test file needs: the emulated table and the real handler
 * (once), Secrets Manager answering `secret` and Step Functions accepting every answer
 * (before each test). Call at the top of a file or a `describe`.
 */
export function useWebhookHandler(tableName: string, secret: string) {
  const secrets = mockAwsClient(SecretsManagerClient);
  const sfn = mockAwsClient(SFNClient);
  const state: { table?: TestTable; handler?: WebhookHandler } = {};
  beforeAll(async () => {
    state.table = await startIngestTable(tableName);
    state.handler = await loadWebhookHandler(state.table);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await state.table?.close();
  });
  beforeEach(() => {
    secrets.reset();
    sfn.reset();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ secret }) });
    sfn.on(SendTaskSuccessCommand).resolves({});
  });
  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not ready: use it inside a test`);
    return value;
  };
  return {
    sfn,
    secrets,
    table: (): TestTable => required(state.table, 'the table'),
    handler: (): WebhookHandler => required(state.handler, 'the handler'),
  };
}
