import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockAwsClient } from '../../helpers/aws-mocks.ts';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { onEvent } from '../../../lambdas/register-webhook/register-webhook.ts';
import { VideoGenClient, WEBHOOK_EVENT_TYPES } from '#shared/videogen/index';
import { VideoGenSimulator } from '#local/simulator/simulator';
import { parseSigningSecretDocument, type SigningSecretDocument } from '#shared/videogen/signing-secret';

const secrets = mockAwsClient(SecretsManagerClient);
let sim: VideoGenSimulator;
let deps: Parameters<typeof onEvent>[0];
let cleanupFailures: string[];
/** The secret's current value, as Secrets Manager would keep it between Put and Get. */
let storedSecret: string | undefined;

beforeAll(async () => {
  sim = await VideoGenSimulator.start();
  const client = new VideoGenClient({ baseUrl: sim.url, apiKey: 'k' });
  deps = {
    videoGen: () => Promise.resolve(client),
    secrets: new SecretsManagerClient({}),
    onCleanupFailure: (step) => cleanupFailures.push(step),
  };
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  secrets.reset();
  sim.faults.clear();
  cleanupFailures = [];
  storedSecret = 'random text CloudFormation generated';
  secrets.on(PutSecretValueCommand).callsFake((input: { SecretString?: string }) => {
    storedSecret = input.SecretString;
    return {};
  });
  secrets.on(GetSecretValueCommand).callsFake(() => ({ SecretString: storedSecret }));
});

function document(): SigningSecretDocument {
  const parsed = parseSigningSecretDocument(storedSecret);
  if (!parsed) throw new Error(`no registration document in ${storedSecret ?? 'the secret'}`);
  return parsed;
}
function live(id: string): boolean {
  return sim.endpoints().some((known) => known.id === id && !known.deleted);
}

/** As the construct gives them. */
const properties = {
  ServiceToken: 'arn:token',
  WebhookUrl: 'https://abc.lambda-url.us-east-1.on.aws/',
  SecretId: 'arn:secret',
  Events: [...WEBHOOK_EVENT_TYPES],
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

const moved = { ...properties, WebhookUrl: 'https://moved.example/' };

/** A stack update that moves the webhook URL: the new endpoint's id. */
async function moveUrl(fromEndpoint: string): Promise<string> {
  const updated = await onEvent(
    deps,
    cfnEvent('Update', {
      PhysicalResourceId: fromEndpoint,
      OldResourceProperties: properties,
      ResourceProperties: moved,
    }),
  );
  return updated.PhysicalResourceId;
}

describe('webhook registration custom resource', () => {
  it('registers the webhook URL for every lifecycle event and keeps the secret', async () => {
    const result = await onEvent(deps, cfnEvent('Create'));

    expect(result.PhysicalResourceId).toMatch(/^vg_whep_/);
    const endpoint = sim.endpoints().find((known) => known.id === result.PhysicalResourceId);
    expect(endpoint).toMatchObject({
      url: properties.WebhookUrl,
      events: [...WEBHOOK_EVENT_TYPES],
      deleted: false,
    });
    expect(document()).toEqual({
      secret: endpoint?.secrets[0],
      endpointId: result.PhysicalResourceId,
      endpoints: [
        {
          id: result.PhysicalResourceId,
          url: properties.WebhookUrl,
          secret: endpoint?.secrets[0],
          events: [...WEBHOOK_EVENT_TYPES],
        },
      ],
    });
  });

  it('re-registers when the subscribed event types change (a release adds one), and a rollback reuses the old endpoint', async () => {
    const fewer = { ...properties, Events: ['file.upload.completed', 'file.download_ready'] };
    const { PhysicalResourceId: first } = await onEvent(
      deps,
      cfnEvent('Create', { ResourceProperties: fewer }),
    );
    expect(sim.endpoints().find((known) => known.id === first)?.events).toEqual(fewer.Events);

    const all = { ...properties, Events: [...WEBHOOK_EVENT_TYPES] };
    const added = await onEvent(
      deps,
      cfnEvent('Update', {
        PhysicalResourceId: first,
        OldResourceProperties: fewer,
        ResourceProperties: all,
      }),
    );
    expect(added.PhysicalResourceId).not.toBe(first);
    expect(sim.endpoints().find((known) => known.id === added.PhysicalResourceId)?.events).toEqual([
      ...WEBHOOK_EVENT_TYPES,
    ]);
    // The same types in another order change nothing.
    const reordered = await onEvent(
      deps,
      cfnEvent('Update', {
        PhysicalResourceId: added.PhysicalResourceId,
        OldResourceProperties: all,
        ResourceProperties: { ...all, Events: [...WEBHOOK_EVENT_TYPES].reverse() },
      }),
    );
    expect(reordered.PhysicalResourceId).toBe(added.PhysicalResourceId);
    // Rolled back before the cleanup: the endpoint with the old types is current again.
    const rolledBack = await onEvent(
      deps,
      cfnEvent('Update', {
        PhysicalResourceId: added.PhysicalResourceId,
        OldResourceProperties: all,
        ResourceProperties: fewer,
      }),
    );
    expect(rolledBack.PhysicalResourceId).toBe(first);
  });

  it('registers anew, once, a stack registered before the types were a property (which types it has is unknown)', async () => {
    const { Events: _none, ...legacy } = properties;
    const { PhysicalResourceId } = await onEvent(deps, cfnEvent('Create', { ResourceProperties: legacy }));
    const renewed = await onEvent(
      deps,
      cfnEvent('Update', {
        PhysicalResourceId,
        OldResourceProperties: legacy,
        ResourceProperties: properties,
      }),
    );
    expect(renewed.PhysicalResourceId).not.toBe(PhysicalResourceId);
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

  it('keeps the old endpoint’s secret beside the new one until CloudFormation deletes the old endpoint', async () => {
    const { PhysicalResourceId: first } = await onEvent(deps, cfnEvent('Create'));
    const second = await moveUrl(first);
    expect(document().endpointId).toBe(second);
    expect(document().endpoints.map((endpoint) => endpoint.id)).toEqual([second, first]);

    // UPDATE_COMPLETE_CLEANUP: the old physical id is deleted.
    await onEvent(deps, cfnEvent('Delete', { PhysicalResourceId: first, ResourceProperties: properties }));
    expect(live(first)).toBe(false);
    expect(document().endpoints.map((endpoint) => endpoint.id)).toEqual([second]);
  });

  it('on a rollback makes the previous endpoint current again, so the secret is the one VideoGen signs with', async () => {
    const { PhysicalResourceId: first } = await onEvent(deps, cfnEvent('Create'));
    const firstSecret = document().secret;
    const second = await moveUrl(first);
    const endpointsBefore = sim.endpoints().length;

    // UPDATE_ROLLBACK_IN_PROGRESS: the old properties come back, then the new endpoint is deleted.
    const rolledBack = await onEvent(
      deps,
      cfnEvent('Update', {
        PhysicalResourceId: second,
        OldResourceProperties: moved,
        ResourceProperties: properties,
      }),
    );
    await onEvent(deps, cfnEvent('Delete', { PhysicalResourceId: second, ResourceProperties: moved }));

    expect(rolledBack.PhysicalResourceId).toBe(first);
    expect(sim.endpoints()).toHaveLength(endpointsBefore);
    expect(live(first)).toBe(true);
    expect(live(second)).toBe(false);
    expect(document()).toMatchObject({ endpointId: first, secret: firstSecret });
    expect(document().endpoints).toHaveLength(1);
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
    expect(cleanupFailures).toEqual([]);
  });

  it('lets the stack delete when VideoGen is down or the key is revoked, and counts what it left', async () => {
    const { PhysicalResourceId } = await onEvent(deps, cfnEvent('Create'));
    sim.faults.add({ fault: 'server_error', on: 'unregister' });
    await expect(onEvent(deps, cfnEvent('Delete', { PhysicalResourceId }))).resolves.toEqual({
      PhysicalResourceId,
    });
    expect(cleanupFailures).toEqual(['delete-endpoint']);

    const strict = await VideoGenSimulator.start({ apiKey: 'current' });
    try {
      const revoked: Parameters<typeof onEvent>[0] = {
        ...deps,
        videoGen: () => Promise.resolve(new VideoGenClient({ baseUrl: strict.url, apiKey: 'revoked' })),
      };
      secrets.on(GetSecretValueCommand).rejects(new Error('secret scheduled for deletion'));
      await expect(onEvent(revoked, cfnEvent('Delete', { PhysicalResourceId }))).resolves.toEqual({
        PhysicalResourceId,
      });
    } finally {
      await strict.close();
    }
    expect(cleanupFailures).toEqual(['delete-endpoint', 'delete-endpoint', 'update-secret']);
  });
});
