/** The access key a SigV4-signed request names (the Authorization header, or a presigned URL's query), if any. */
export function signingAccessKey(authorization: string | undefined, url = ''): string | undefined {
  const fromHeader = /Credential=([^/,\s]+)\//.exec(authorization ?? '')?.[1];
  if (fromHeader) return fromHeader;
  const query = new URL(url, 'http://local').searchParams.get('X-Amz-Credential');
  return query?.split('/')[0] ?? undefined;
}
