/**
 * Secrets and the VideoGen client as handlers get them: secrets read from Secrets
 * Manager through a Powertools Parameters provider (cached for `maxAge`, so a rotated key
 * is picked up without a redeploy), one VideoGen client per key so connections stay warm.
 * Each handler makes its provider at module scope (`createSecretsProvider`), so its SDK
 * client is its own.
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError } from '../config.ts';
import { VideoGenClient } from './client.ts';
import { signingSecretsOf } from './signing-secret.ts';

const SECRET_CACHE_SECONDS = 300;

export function createSecretsProvider(): SecretsProvider {
  return new SecretsProvider({ awsSdkV3Client: new SecretsManagerClient({}) });
}

/** A secret holds the value itself, or JSON with the value under `field`. */
export function secretValue(raw: unknown, field: string, secretId: string): string {
  if (typeof raw !== 'string' || raw.trim() === '')
    throw new ConfigError(`secret ${secretId} is empty or not text`);
  const text = raw.trim();
  if (!text.startsWith('{')) return text;
  try {
    const value = (JSON.parse(text) as Record<string, unknown>)[field];
    if (typeof value === 'string' && value !== '') return value;
  } catch {
    // fall through to the error below
  }
  throw new ConfigError(`secret ${secretId} is JSON without a non-empty "${field}"`);
}

function fetchSecret(provider: SecretsProvider, secretId: string, options: { forceFetch?: boolean }) {
  return provider.get(secretId, {
    maxAge: SECRET_CACHE_SECONDS,
    ...(options.forceFetch ? { forceFetch: true } : {}),
  });
}

/** Reads `field` of a secret; `forceFetch` skips the cache (after a signature failure, say). */
export async function readSecret(
  provider: SecretsProvider,
  secretId: string,
  field: string,
  options: { forceFetch?: boolean } = {},
): Promise<string> {
  return secretValue(await fetchSecret(provider, secretId, options), field, secretId);
}

/** Every secret a webhook delivery may be signed with (see `signingSecretsOf`). */
export async function readSigningSecrets(
  provider: SecretsProvider,
  secretId: string,
  options: { forceFetch?: boolean } = {},
): Promise<string[]> {
  const raw = await fetchSecret(provider, secretId, options);
  return signingSecretsOf(typeof raw === 'string' ? raw : '', () => secretValue(raw, 'secret', secretId));
}

export function videoGenClientProvider(
  apiUrl: string,
  apiKeySecretId: string,
  secrets: SecretsProvider = createSecretsProvider(),
): () => Promise<VideoGenClient> {
  let cached: { key: string; client: VideoGenClient } | undefined;
  return async () => {
    const key = await readSecret(secrets, apiKeySecretId, 'apiKey');
    if (cached?.key !== key) cached = { key, client: new VideoGenClient({ baseUrl: apiUrl, apiKey: key }) };
    return cached.client;
  };
}
