/**
 * The VideoGen client as handlers get it: the API key read from Secrets Manager through
 * Powertools Parameters (cached for `maxAge`, so a rotated key is picked up without a
 * redeploy), one client per key so connections stay warm.
 */
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { VideoGenClient } from './videogen/client.ts';
import { ConfigError } from './config.ts';

const SECRET_CACHE_SECONDS = 300;

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

export async function readSecret(secretId: string, field: string): Promise<string> {
  return secretValue(await getSecret(secretId, { maxAge: SECRET_CACHE_SECONDS }), field, secretId);
}

export function videoGenClientProvider(
  apiUrl: string,
  apiKeySecretId: string,
): () => Promise<VideoGenClient> {
  let cached: { key: string; client: VideoGenClient } | undefined;
  return async () => {
    const key = await readSecret(apiKeySecretId, 'apiKey');
    if (cached?.key !== key) cached = { key, client: new VideoGenClient({ baseUrl: apiUrl, apiKey: key }) };
    return cached.client;
  };
}
