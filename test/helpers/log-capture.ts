/**
 * Captures everything written to stdout and stderr (Powertools logs, console, the
 * simulator's lines) while a test runs, so it can assert that no secret ever reaches a log.
 */
export interface LogCapture {
  text(): string;
  stop(): void;
}

export function captureLogs(): LogCapture {
  const chunks: string[] = [];
  const original = {
    out: process.stdout.write.bind(process.stdout),
    err: process.stderr.write.bind(process.stderr),
  };
  const tap =
    (write: typeof process.stdout.write): typeof process.stdout.write =>
    (chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return (write as (chunk: string | Uint8Array, ...args: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = tap(original.out);
  process.stderr.write = tap(original.err);
  return {
    text: () => chunks.join(''),
    stop: () => {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
    },
  };
}

/** Secrets a log must never hold: the API key, webhook signing keys, presigned URL signatures. */
export function leakedSecrets(
  logs: string,
  secrets: { apiKey: string; webhookSecrets: readonly string[] },
): string[] {
  const leaks: string[] = [];
  if (logs.includes(secrets.apiKey)) leaks.push('the API key');
  for (const secret of secrets.webhookSecrets) {
    if (logs.includes(secret.replace(/^whsec_/, ''))) leaks.push('a webhook signing secret');
  }
  const signature = /[?&]signature=[0-9a-f]{16,}/.exec(logs);
  if (signature) leaks.push(`a presigned URL's query string (${signature[0].slice(0, 20)}…)`);
  return leaks;
}
