/** The HTTP status an AWS SDK error carries (S3 answers a missing object 404, a failed `If-Match` 412). */
export function httpStatusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/** AWS SDK errors that another try may not meet: throttling, 5xx, timeouts and dropped connections. */
export function isTransientAwsError(error: unknown): boolean {
  const candidate = error as { name?: string; $retryable?: unknown; code?: string } | undefined;
  if (candidate?.$retryable) return true;
  const status = httpStatusOf(error);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return /Throttl|TooManyRequests|ProvisionedThroughputExceeded|RequestLimitExceeded|TimeoutError|ECONNRESET|EPIPE|ETIMEDOUT|ECONNREFUSED/.test(
    `${candidate?.name ?? ''} ${candidate?.code ?? ''}`,
  );
}
