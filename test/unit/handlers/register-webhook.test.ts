import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { onEvent } from '../../../lambdas/register-webhook/register-webhook.ts';
import { VideoGenClient, WEBHOOK_EVENT_TYPES } from '#shared/videogen/index';
import { VideoGenSimulator } from '#local/simulator/simulator';

const secrets = mockClient(SecretsManagerClient);
let sim: VideoGenSimulator;
let deps: Parameters<typeof onEvent>[0];

beforeAll(async () => {
  sim = await VideoGenSimulator.start();
  const client = new VideoGenClient({ baseUrl: sim.url, apiKey: 'k' });
  deps = { videoGen: () => Promise.resolve(client), secrets: new SecretsManagerClient({}) };
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  secrets.reset();
  secrets.on(PutSecretValueCommand).resolves({});
});

const properties = {
  ServiceToken: 'arn:token',
  WebhookUrl: 'https://abc.lambda-url.us-east-1.on.aws/',
  SecretId: 'arn:secret',
};
function cfnEvent(
  requestType: 'Create' | 'Update' | 'Delete',
  extra: Record<string, unknown> = {},
): CloudFormationCustomResourceEvent {
  return {
    RequestType: requestType,
    ServiceToken: 'arn:token',
    ResponseURL: 'https://cfn',
    StackId: 'stack',
    RequestId: 'req',
    LogicalResourceId: 'Endpoint',
    ResourceType: 'Custom::VideoGenWebhookEndpoint',
    ResourceProperties: properties,
    ...extra,
  } as CloudFormationCustomResourceEvent;
}

describe('webhook registration custom resource', () => {
  it('registers the Function URL for every lifecycle event and keeps the secret', async () => {
    const result = await onEvent(deps, cfnEvent('Create'));

    expect(result.PhysicalResourceId).toMatch(/^vg_whep_/);
    const endpoint = sim.endpoints().find((known) => known.id === result.PhysicalResourceId);
    expect(endpoint).toMatchObject({
      url: properties.WebhookUrl,
      events: [...WEBHOOK_EVENT_TYPES],
      deleted: false,
    });
    const written = JSON.parse(
      secrets.commandCalls(PutSecretValueCommand)[0]?.args[0].input.SecretString ?? '{}',
    ) as { secret: string };
    expect(written).toEqual({ secret: endpoint?.secrets[0], endpointId: result.PhysicalResourceId });
  });

  it('keeps the endpoint on an update that changes nothing, and replaces it when the URL changes', async () => {
    const { PhysicalResourceId } = await onEvent(deps, cfnEvent('Create'));
    const same = await onEvent(
      deps,
      cfnEvent('Update', { PhysicalResourceId, OldResourceProperties: properties }),
    );
    expect(same.PhysicalResourceId).toBe(PhysicalResourceId);

    const moved = await onEvent(
      deps,
      cfnEvent('Update', {
        PhysicalResourceId,
        OldResourceProperties: properties,
        ResourceProperties: { ...properties, WebhookUrl: 'https://new.example/' },
      }),
    );
    expect(moved.PhysicalResourceId).not.toBe(PhysicalResourceId);
  });

  it('deletes the endpoint on stack deletion, and tolerates one already gone or never created', async () => {
    const { PhysicalResourceId } = await onEvent(deps, cfnEvent('Create'));
    await onEvent(deps, cfnEvent('Delete', { PhysicalResourceId }));
    expect(sim.endpoints().find((known) => known.id === PhysicalResourceId)?.deleted).toBe(true);
    await expect(onEvent(deps, cfnEvent('Delete', { PhysicalResourceId }))).resolves.toEqual({
      PhysicalResourceId,
    });
    await expect(onEvent(deps, cfnEvent('Delete', { PhysicalResourceId: 'failed-create' }))).resolves.toEqual(
      { PhysicalResourceId: 'failed-create' },
    );
  });
});
