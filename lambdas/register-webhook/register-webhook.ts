import { PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { nonEmptyString } from '#shared/config';
import { WEBHOOK_EVENT_TYPES } from '#shared/videogen/contract';
import type { VideoGenClient } from '#shared/videogen/client';
import { VideoGenNotFoundError } from '#shared/videogen/errors';

export const resourcePropertiesSchema = z.object({
  /** The webhook Lambda's Function URL. */
  WebhookUrl: z.url(),
  /** The secret that receives `{ "secret": "whsec_…", "endpointId": "vg_whep_…" }`. */
  SecretId: nonEmptyString(),
});

export interface RegisterDeps {
  readonly videoGen: () => Promise<VideoGenClient>;
  readonly secrets: SecretsManagerClient;
}

export interface CustomResourceResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/**
 * The webhook registration's lifecycle as a CloudFormation custom resource: register the
 * Function URL on create (and on an update that changes it), keep the signing secret in
 * Secrets Manager, delete the endpoint on stack deletion. The endpoint's id is the
 * physical id, so CloudFormation deletes the old endpoint after a replacement.
 */
export async function onEvent(
  deps: RegisterDeps,
  event: CloudFormationCustomResourceEvent,
): Promise<CustomResourceResult> {
  const props = resourcePropertiesSchema.parse(event.ResourceProperties);
  const client = await deps.videoGen();
  if (event.RequestType === 'Delete') {
    if (event.PhysicalResourceId.startsWith('vg_whep_')) {
      try {
        await client.deleteWebhookEndpoint(event.PhysicalResourceId);
      } catch (error) {
        if (!(error instanceof VideoGenNotFoundError)) throw error;
      }
    }
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  if (event.RequestType === 'Update') {
    const old = resourcePropertiesSchema.safeParse(event.OldResourceProperties);
    if (old.success && old.data.WebhookUrl === props.WebhookUrl && old.data.SecretId === props.SecretId) {
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
  }
  const endpoint = await client.createWebhookEndpoint({
    url: props.WebhookUrl,
    events: [...WEBHOOK_EVENT_TYPES],
  });
  await deps.secrets.send(
    new PutSecretValueCommand({
      SecretId: props.SecretId,
      SecretString: JSON.stringify({ secret: endpoint.secret, endpointId: endpoint.id }),
    }),
  );
  return { PhysicalResourceId: endpoint.id, Data: { EndpointId: endpoint.id } };
}
