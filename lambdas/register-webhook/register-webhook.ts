import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { nonEmptyString } from '#shared/config';
import { WEBHOOK_EVENT_TYPES } from '#shared/videogen/contract';
import type { VideoGenClient } from '#shared/videogen/client';
import { VideoGenNotFoundError } from '#shared/videogen/errors';
import {
  parseSigningSecretDocument,
  withCurrentEndpoint,
  withoutEndpoint,
  type SigningSecretDocument,
} from '#shared/videogen/signing-secret';

export const resourcePropertiesSchema = z.object({
  /** The webhook URL (the HTTP API route in front of the webhook function). */
  WebhookUrl: z.url(),
  /** The secret that receives `{ "secret": "whsec_…", "endpointId": "vg_whep_…" }`. */
  SecretId: nonEmptyString(),
  /**
   * The event types to subscribe to: a property, so a release that adds one changes the
   * resource and CloudFormation re-registers. Absent in stacks deployed before it was one.
   */
  Events: z.optional(z.array(z.enum(WEBHOOK_EVENT_TYPES)).check(z.minLength(1))),
});
type ResourceProperties = z.infer<typeof resourcePropertiesSchema>;

/**
 * Whether two registrations subscribe to the same event types, in any order. Unknown types
 * (a registration from before they were kept) match only unknown ones: which types the
 * handler of that day subscribed to cannot be told, so the next update registers anew.
 */
function sameEvents(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return [...a].sort().join() === [...b].sort().join();
}

/** Whether an update changes nothing VideoGen knows: the same URL, secret and event types. */
function unchanged(old: ResourceProperties, props: ResourceProperties): boolean {
  return (
    old.WebhookUrl === props.WebhookUrl &&
    old.SecretId === props.SecretId &&
    sameEvents(old.Events, props.Events)
  );
}

export interface RegisterDeps {
  readonly videoGen: () => Promise<VideoGenClient>;
  readonly secrets: SecretsManagerClient;
  /** A step of a deletion that failed and was let go (logged and counted by the handler). */
  readonly onCleanupFailure: (step: 'delete-endpoint' | 'update-secret', error: unknown) => void;
}

export interface CustomResourceResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/**
 * The webhook registration's lifecycle as a CloudFormation custom resource. The endpoint's
 * id is the physical id, so CloudFormation deletes the old endpoint after a replacement.
 * - Create: register the webhook URL; the secret holds its signing secret.
 * - Update that changes the URL or the event types: register anew, keeping the old
 *   endpoint's secret beside it until CloudFormation deletes that endpoint. When an endpoint
 *   with that URL and those types is still registered (a rollback to the previous template),
 *   it becomes current again instead of a new one: a rolled-back stack verifies with the
 *   secret VideoGen signs with.
 * - Delete: best effort. VideoGen down or the key revoked must not leave the stack in
 *   DELETE_FAILED or block a rollback; what could not be deleted is logged and counted.
 */
export async function onEvent(
  deps: RegisterDeps,
  event: CloudFormationCustomResourceEvent,
): Promise<CustomResourceResult> {
  if (event.RequestType === 'Delete') return deregister(deps, event);
  const props = resourcePropertiesSchema.parse(event.ResourceProperties);
  let document: SigningSecretDocument | undefined;
  if (event.RequestType === 'Update') {
    const old = resourcePropertiesSchema.safeParse(event.OldResourceProperties);
    if (old.success && unchanged(old.data, props)) return { PhysicalResourceId: event.PhysicalResourceId };
    document = await readDocument(deps, props.SecretId);
    const registered = document?.endpoints.find(
      (endpoint) => endpoint.url === props.WebhookUrl && sameEvents(endpoint.events, props.Events),
    );
    if (registered && document) {
      await writeDocument(deps, props.SecretId, withCurrentEndpoint(document, registered));
      return { PhysicalResourceId: registered.id, Data: { EndpointId: registered.id } };
    }
  }
  const client = await deps.videoGen();
  const events = [...(props.Events ?? WEBHOOK_EVENT_TYPES)];
  const endpoint = await client.createWebhookEndpoint({
    url: props.WebhookUrl,
    events,
  });
  await writeDocument(
    deps,
    props.SecretId,
    withCurrentEndpoint(document, {
      id: endpoint.id,
      url: props.WebhookUrl,
      secret: endpoint.secret,
      // As the resource said them, so a rollback to these properties finds this endpoint.
      ...(props.Events ? { events: props.Events } : {}),
    }),
  );
  return { PhysicalResourceId: endpoint.id, Data: { EndpointId: endpoint.id } };
}

async function deregister(
  deps: RegisterDeps,
  event: CloudFormationCustomResourceEvent & { RequestType: 'Delete' },
): Promise<CustomResourceResult> {
  const id = event.PhysicalResourceId;
  // A Create that failed before registering leaves CloudFormation's own id: nothing to delete.
  if (!id.startsWith('vg_whep_')) return { PhysicalResourceId: id };
  try {
    const client = await deps.videoGen();
    await client.deleteWebhookEndpoint(id);
  } catch (error) {
    if (!(error instanceof VideoGenNotFoundError)) deps.onCleanupFailure('delete-endpoint', error);
  }
  const props = resourcePropertiesSchema.safeParse(event.ResourceProperties);
  if (props.success) {
    try {
      const document = await readDocument(deps, props.data.SecretId);
      const remaining = document?.endpoints.some((endpoint) => endpoint.id === id)
        ? withoutEndpoint(document, id)
        : undefined;
      if (remaining) await writeDocument(deps, props.data.SecretId, remaining);
    } catch (error) {
      deps.onCleanupFailure('update-secret', error);
    }
  }
  return { PhysicalResourceId: id };
}

async function readDocument(
  deps: RegisterDeps,
  secretId: string,
): Promise<SigningSecretDocument | undefined> {
  try {
    const { SecretString } = await deps.secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    return parseSigningSecretDocument(SecretString);
  } catch (error) {
    // A secret with no value yet has no document.
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

async function writeDocument(deps: RegisterDeps, secretId: string, document: SigningSecretDocument) {
  await deps.secrets.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(document) }),
  );
}
