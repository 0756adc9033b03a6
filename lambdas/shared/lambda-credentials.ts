/**
 * Bundled in place of `@aws-sdk/credential-provider-node` (an esbuild alias in
 * `lib/ingest-function.ts`); never imported by name.
 *
 * The SDK's default chain tries the environment, SSO, ini files, credential processes, web
 * identity and instance metadata, and brings the STS, SSO and sign-in clients along: about
 * 100 KiB of every bundle, a fifth of the cold start budget. On Lambda the runtime puts the
 * role's credentials in the environment, so the chain's first link is the only one that ever
 * answers; the container credentials endpoint stays as the fallback for runtimes that serve
 * them over HTTP. No package offers this Lambda-only chain; the SDK's own providers do the
 * work, this file only picks them. Local runs are not bundled and keep the full chain.
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { chain, memoize } from '@smithy/core/config';

/** Refresh five minutes before the credentials expire, as the default chain does. */
const REFRESH_BEFORE_MS = 300_000;

function expiresSoon(credentials: AwsCredentialIdentity): boolean {
  return (
    credentials.expiration !== undefined && credentials.expiration.getTime() - Date.now() < REFRESH_BEFORE_MS
  );
}

/**
 * Same name and shape as the default chain's export, so clients pick it up unchanged.
 * `fromHttp` is made on first use: it throws at once when no endpoint is configured,
 * which must be the chain's last error, not the import's.
 */
export function defaultProvider(init: Parameters<typeof fromHttp>[0] = {}): AwsCredentialIdentityProvider {
  return memoize(
    chain(fromEnv(init), () => fromHttp(init)()),
    expiresSoon,
    (credentials) => credentials.expiration !== undefined,
  );
}
