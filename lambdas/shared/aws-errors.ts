/** The HTTP status an AWS SDK error carries (S3 answers a missing object 404, a failed `If-Match` 412). */
export function httpStatusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}
