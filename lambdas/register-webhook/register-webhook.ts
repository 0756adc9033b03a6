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
  /** The webhook Lambda's Function URL. */
  WebhookUrl: z.url(),
  /** The secret that receives `{ "secret": "whsec_…", "endpointId": "vg_whep_…" }`. */
  SecretId: nonEmptyString(),
});

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
 * - Create: register the Function URL; the secret holds its signing secret.
 * - Update that changes the URL: register the new URL, keeping the old endpoint's secret
 *   beside it until CloudFormation deletes that endpoint. When the URL is one still
 *   registered (a rollback to the previous template), that endpoint becomes current again
 *   instead of a new one: a rolled-back stack verifies with the secret VideoGen signs with.
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
    if (old.success && old.data.WebhookUrl === props.WebhookUrl && old.data.SecretId === props.SecretId) {
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    document = await readDocument(deps, props.SecretId);
    const registered = document?.endpoints.find((endpoint) => endpoint.url === props.WebhookUrl);
    if (registered && document) {
      await writeDocument(deps, props.SecretId, withCurrentEndpoint(document, registered));
      return { PhysicalResourceId: registered.id, Data: { EndpointId: registered.id } };
    }
  }
  const client = await deps.videoGen();
  const endpoint = await client.createWebhookEndpoint({
    url: props.WebhookUrl,
    events: [...WEBHOOK_EVENT_TYPES],
  });
  await writeDocument(
    deps,
    props.SecretId,
    withCurrentEndpoint(document, { id: endpoint.id, url: props.WebhookUrl, secret: endpoint.secret }),
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
