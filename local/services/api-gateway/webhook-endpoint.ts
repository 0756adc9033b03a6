/**
 * The webhook endpoint of the local runtime: the webhook function behind a loopback HTTP
 * API route, throttled as its stage is and invoked as API Gateway invokes it (or behind a
 * Function URL, judged as the public calls it, in a template that has one), registered with the API by the very
 * registration handler the deployed custom resource runs, or, when the API cannot reach
 * this machine, a signing secret of its own and the poll path.
 */
import { randomBytes } from 'node:crypto';
import type { LocalIam } from '../../iam/local-iam.ts';
import type { LocalSecrets } from '../secrets-manager/secrets.ts';
import { seededRandom } from '../../simulator/faults.ts';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../cfn.ts';
import { startFunctionUrl } from '../lambda/function-url.ts';
import { TokenBucket } from './token-bucket.ts';
import { ingestOf, type IngestInStack } from '../../ingests.ts';
import type { LocalLambdas } from '../lambda/lambdas.ts';

/**
 * The longest a delivery waits for a webhook environment before it is answered 429, as
 * Lambda answers an invocation it has no concurrency for. Lambda never makes a synchronous
 * invocation wait: it starts another environment (a cold start, well under a second) or
 * refuses it. This runtime keeps a few environments a function, so past a burst it can serve,
 * deliveries would queue until the sender's timeout (VideoGen's simulator waits 5 s), run after
 * it hung up, and come again: with the stage at 100 a second, 1,000 files dropped at once
 * were uploaded in 202–210 s, and in 57 s once refused at once. A refused delivery is
 * retried on the sender's schedule (1, 5 and 25 s) while the environments catch up.
 */
export const WEBHOOK_MAX_WAIT_MS = 1000;

/**
 * As the deployed custom resource does: registers the webhook URL with the API by invoking
 * the very registration handler with a CloudFormation Create event; answers how to undo it.
 */
async function registerWebhookUrl(
  lambdas: LocalLambdas,
  webhookUrl: string,
  secretId: string,
  events: readonly string[] | undefined,
  runtimeId: string,
  ingest: number,
): Promise<{ endpointId: string; unregister: () => Promise<void> }> {
  const register = lambdas.byHandler('register-webhook', ingest);
  const event = {
    ServiceToken: register.functionArn,
    ResponseURL: 'http://localhost/',
    StackId: `local-${runtimeId}`,
    RequestId: runtimeId,
    LogicalResourceId: 'Endpoint',
    ResourceType: 'Custom::VideoGenWebhookEndpoint',
    ResourceProperties: {
      ServiceToken: register.functionArn,
      WebhookUrl: webhookUrl,
      SecretId: secretId,
      ...(events ? { Events: events } : {}),
    },
  };
  const created = (await lambdas.invoke(register.functionArn, { ...event, RequestType: 'Create' })) as {
    PhysicalResourceId: string;
  };
  return {
    endpointId: created.PhysicalResourceId,
    unregister: async () => {
      await lambdas.invoke(register.functionArn, {
        ...event,
        RequestType: 'Delete',
        PhysicalResourceId: created.PhysicalResourceId,
      });
    },
  };
}

/** A public Function URL needs both permissions of the function's resource policy (since 2025). */
async function authorizeFunctionUrl(iam: LocalIam, functionArn: string): Promise<void> {
  const context = { 'lambda:FunctionUrlAuthType': 'NONE', 'lambda:InvokedViaFunctionUrl': 'true' };
  for (const action of ['lambda:InvokeFunctionUrl', 'lambda:InvokeFunction']) {
    await iam.check({ principal: 'anonymous', action, resource: functionArn, context });
  }
}

/** API Gateway invokes the function as its service principal, from the route's execute-api ARN. */
async function authorizeApiGateway(iam: LocalIam, functionArn: string, sourceArn: string): Promise<void> {
  await iam.check({
    principal: 'apigateway.amazonaws.com',
    action: 'lambda:InvokeFunction',
    resource: functionArn,
    context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': LOCAL_ACCOUNT },
  });
}

/** How a template exposes the webhook function to VideoGen. */
export type WebhookFront =
  | {
      readonly kind: 'http-api';
      readonly route: { readonly method: string; readonly path: string };
      /** The execute-api ARN of the route's invocations (`aws:SourceArn`). */
      readonly sourceArn: string;
      /** The stage's default route throttling, when it has one. */
      readonly throttle: { readonly rateLimit: number; readonly burstLimit: number } | undefined;
    }
  | { readonly kind: 'function-url' };

type TemplateResources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/**
 * The webhook function's front in the template: the HTTP API route whose integration
 * invokes it (with its stage's throttle), or else its Function URL.
 */
export function webhookFrontOf(
  resources: TemplateResources,
  webhookLogicalId: string,
  nameOf: (logicalId: string) => string,
): WebhookFront {
  const refOf = (value: unknown) => (value as { Ref?: string } | undefined)?.Ref;
  const integration = Object.entries(resources).find(
    ([, resource]) =>
      resource.Type === 'AWS::ApiGatewayV2::Integration' &&
      JSON.stringify(resource.Properties?.IntegrationUri).includes(`"${webhookLogicalId}"`),
  );
  if (!integration) return { kind: 'function-url' };
  const [integrationId, { Properties: integrationProperties = {} }] = integration;
  const apiId = refOf(integrationProperties.ApiId) ?? '';
  const route = Object.values(resources).find(
    (resource) =>
      resource.Type === 'AWS::ApiGatewayV2::Route' &&
      JSON.stringify(resource.Properties?.Target).includes(`"${integrationId}"`),
  );
  const [method = 'POST', path = '/'] = (
    typeof route?.Properties?.RouteKey === 'string' ? route.Properties.RouteKey : 'POST /'
  ).split(' ');
  const stage = Object.values(resources).find(
    (resource) => resource.Type === 'AWS::ApiGatewayV2::Stage' && refOf(resource.Properties?.ApiId) === apiId,
  );
  const settings = stage?.Properties?.DefaultRouteSettings as
    { ThrottlingRateLimit?: number; ThrottlingBurstLimit?: number } | undefined;
  return {
    kind: 'http-api',
    route: { method, path },
    sourceArn: `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${nameOf(apiId)}/$default/${method}${path}`,
    throttle:
      settings?.ThrottlingRateLimit !== undefined && settings.ThrottlingBurstLimit !== undefined
        ? { rateLimit: settings.ThrottlingRateLimit, burstLimit: settings.ThrottlingBurstLimit }
        : undefined,
  };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
}

export interface WebhookEndpoint {
  readonly url: string;
  /** Whether VideoGen can reach the URL (it was registered); otherwise the poll path carries the workflow. */
  readonly registered: boolean;
  /** Webhook answers replaced by a 500 (`failureRate`). */
  readonly failures: { readonly injected: number };
  /** Requests the HTTP API stage's throttle answered 429 so far. */
  throttled(): number;
  /** Deletes the registration (as a stack deletion does), then stops serving. */
  close(): Promise<void>;
}

export interface WebhookEndpointOptions {
  readonly lambdas: LocalLambdas;
  /** Which of the stack's ingests it serves (`ingests.ts`). @default 0, the primary */
  readonly ingest?: number;
  readonly iam: LocalIam | undefined;
  readonly secrets: LocalSecrets;
  readonly apiUrl: string;
  readonly runtimeId: string;
  /** How the template exposes the webhook function (`webhookFrontOf`). */
  readonly front: WebhookFront;
  /** The event types the template's registration subscribes to (its custom resource's `Events`). */
  readonly events: readonly string[] | undefined;
  /** @default whether the API is on this machine */
  readonly register?: boolean;
  /** Chaos: this share of answers is replaced by a 500 after the handler's write. */
  readonly failureRate: number;
  readonly seed: number;
  readonly pollAfterSeconds: number;
  readonly log: (line: string) => void;
}

export async function startWebhookEndpoint(options: WebhookEndpointOptions): Promise<WebhookEndpoint> {
  const { lambdas, iam, secrets, apiUrl, log, front } = options;
  const ingest = options.ingest ?? 0;
  const webhook = lambdas.byHandler('webhook', ingest);
  const failures = { injected: 0 };
  const dice = seededRandom(options.seed);
  const throttle = front.kind === 'http-api' && front.throttle ? new TokenBucket(front.throttle) : undefined;
  const functionUrl = await startFunctionUrl(
    async (event, signal) => {
      const answer = await lambdas.invoke(webhook.functionArn, event, {
        signal,
        maxWaitMs: WEBHOOK_MAX_WAIT_MS,
      });
      if (options.failureRate > 0 && dice() < options.failureRate) {
        failures.injected += 1;
        return { statusCode: 500, body: '{"error":"injected: the handler died before it answered"}' };
      }
      return answer;
    },
    {
      ...(iam
        ? {
            authorize: () =>
              front.kind === 'http-api'
                ? authorizeApiGateway(iam, webhook.functionArn, front.sourceArn)
                : authorizeFunctionUrl(iam, webhook.functionArn),
          }
        : {}),
      ...(front.kind === 'http-api' ? { route: front.route } : {}),
      ...(throttle ? { admit: () => throttle.take() } : {}),
    },
  );
  try {
    const secretId = webhook.environment.WEBHOOK_SECRET ?? '';
    let unregister: (() => Promise<void>) | undefined;
    if (options.register ?? isLoopback(apiUrl)) {
      const registered = await registerWebhookUrl(
        lambdas,
        functionUrl.url,
        secretId,
        options.events,
        options.runtimeId,
        ingest,
      );
      unregister = registered.unregister;
      log(`registered ${functionUrl.url} with ${apiUrl} as ${registered.endpointId}`);
    } else {
      // VideoGen cannot call a loopback URL: no webhooks; the poll path carries every file.
      secrets.set(secretId, JSON.stringify({ secret: `whsec_${randomBytes(24).toString('base64')}` }));
      log(
        `${apiUrl} cannot reach ${functionUrl.url}: files become READY through polling every ${options.pollAfterSeconds} s`,
      );
    }
    // Once, whoever asks first (the runtime's stop, or the clean-up of a failed start).
    let closed: Promise<void> | undefined;
    return {
      url: functionUrl.url,
      registered: unregister !== undefined,
      failures,
      throttled: () => throttle?.refused ?? 0,
      close: () =>
        (closed ??= (async () => {
          await unregister?.().catch(() => undefined);
          await functionUrl.close();
        })()),
    };
  } catch (error) {
    await functionUrl.close();
    throw error;
  }
}

/** The event types an ingest's webhook registration subscribes to, as its custom resource says. */
export function registeredEventsOf(
  template: {
    findResources(
      type: string,
    ): Record<string, { Properties?: { Events?: unknown }; Metadata?: Record<string, unknown> }>;
  },
  ingest: IngestInStack,
): string[] | undefined {
  const registrations = Object.values(template.findResources('Custom::VideoGenWebhookEndpoint'));
  const [registration] = registrations.filter((resource) => ingestOf([ingest], resource) === ingest);
  const events = registration?.Properties?.Events;
  return Array.isArray(events) ? events.map(String) : undefined;
}
