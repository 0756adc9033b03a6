/**
 * Secrets Manager on loopback: GetSecretValue and PutSecretValue, enough for Powertools
 * Parameters (the handlers' only way to read secrets) and the webhook registration.
 * Hand-written: no JavaScript emulator of Secrets Manager exists, and two calls are all we need.
 */
import { randomUUID } from 'node:crypto';
import { AwsApiError, startJsonApi, type JsonApiServer, type JudgeCall } from '../../http/json-api.ts';

export interface LocalSecrets extends JsonApiServer {
  set(secretId: string, value: string): void;
  get(secretId: string): string | undefined;
}

/** `judge` refuses what IAM would (the local runtime's IAM); none judges nothing. */
export async function startSecretsManager(judge?: JudgeCall): Promise<LocalSecrets> {
  const values = new Map<string, { value: string; versionId: string }>();
  const server = await startJsonApi(
    {
      GetSecretValue: (body) => {
        const id = String(body.SecretId);
        const secret = values.get(id);
        if (!secret)
          throw new AwsApiError(
            'ResourceNotFoundException',
            `Secrets Manager can't find the specified secret: ${id}`,
          );
        return {
          ARN: id,
          Name: id,
          SecretString: secret.value,
          VersionId: secret.versionId,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        };
      },
      PutSecretValue: (body) => {
        const id = String(body.SecretId);
        const versionId = randomUUID();
        values.set(id, { value: String(body.SecretString), versionId });
        return { ARN: id, Name: id, VersionId: versionId, VersionStages: ['AWSCURRENT'] };
      },
    },
    'application/x-amz-json-1.1',
    judge,
  );
  return {
    ...server,
    set: (secretId, value) => values.set(secretId, { value, versionId: randomUUID() }),
    get: (secretId) => values.get(secretId)?.value,
  };
}
