import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultProvider } from '#shared/lambda-credentials';

const ENV_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'AKIDLAMBDA',
  AWS_SECRET_ACCESS_KEY: 'lambda-secret',
  AWS_SESSION_TOKEN: 'lambda-token',
};

function clearCredentialEnv(): void {
  for (const name of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_CREDENTIAL_EXPIRATION',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_AUTHORIZATION_TOKEN',
  ]) {
    vi.stubEnv(name, undefined);
  }
}

/** A container credentials endpoint on loopback, counting how often it was asked. */
async function credentialsEndpoint(
  expiresInMs: number,
): Promise<{ url: string; calls: () => number; close: () => void }> {
  let calls = 0;
  const server = http.createServer((_request, response) => {
    calls += 1;
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({
        AccessKeyId: `AKIDHTTP${String(calls)}`,
        SecretAccessKey: 'http-secret',
        Token: 'http-token',
        Expiration: new Date(Date.now() + expiresInMs).toISOString(),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${String(port)}/creds`, calls: () => calls, close: () => server.close() };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the Lambda-only credential chain bundled in place of the SDK default chain', () => {
  it('answers with the role credentials the Lambda runtime puts in the environment', async () => {
    clearCredentialEnv();
    for (const [name, value] of Object.entries(ENV_CREDENTIALS)) vi.stubEnv(name, value);
    const credentials = await defaultProvider()();
    expect(credentials).toMatchObject({
      accessKeyId: 'AKIDLAMBDA',
      secretAccessKey: 'lambda-secret',
      sessionToken: 'lambda-token',
    });
  });

  it('falls back to the container credentials endpoint, and refreshes credentials about to expire', async () => {
    clearCredentialEnv();
    const endpoint = await credentialsEndpoint(60_000); // inside the 5-minute refresh margin
    try {
      vi.stubEnv('AWS_CONTAINER_CREDENTIALS_FULL_URI', endpoint.url);
      const provider = defaultProvider();
      const first = await provider();
      const callsAfterFirst = endpoint.calls();
      const second = await provider();
      expect(first.secretAccessKey).toBe('http-secret');
      expect(endpoint.calls()).toBeGreaterThan(callsAfterFirst);
      expect(second.accessKeyId).toBe(`AKIDHTTP${String(endpoint.calls())}`);
    } finally {
      endpoint.close();
    }
  });

  it('keeps credentials that are far from expiry instead of asking again', async () => {
    clearCredentialEnv();
    const endpoint = await credentialsEndpoint(3_600_000);
    try {
      vi.stubEnv('AWS_CONTAINER_CREDENTIALS_FULL_URI', endpoint.url);
      const provider = defaultProvider();
      await provider();
      await provider();
      expect(endpoint.calls()).toBe(1);
    } finally {
      endpoint.close();
    }
  });

  it('fails with a clear error when neither source has credentials', async () => {
    clearCredentialEnv();
    await expect(defaultProvider()()).rejects.toThrow(/credential/i);
  });
});
