/**
 * `ListObjectsV2` for the local drop bucket, answered by the S3 front from the store's key
 * index. s3rver's own answer cannot page: it makes its continuation tokens with DES, which
 * OpenSSL 3 (every Node this project runs) refuses, so any listing past one page (an
 * `aws s3 sync` of over 1,000 files, a `MaxKeys` page) was a 500. It also ignored
 * `encoding-type=url`, which the AWS CLI always sends and decodes.
 *
 * The token is the last key of the page, base64url-encoded: opaque to clients, as S3's is.
 */
import type { HashedKeyStore } from './s3-store.ts';
import { xmlEscape } from '../../http/xml.ts';

/** S3's most keys a page, whatever `max-keys` asks. */
const PAGE_MAX_KEYS = 1000;

export type ListAnswer =
  | { readonly status: 200; readonly body: string }
  | { readonly status: 400; readonly code: string; readonly message: string };

/** `GET /bucket?list-type=2&…`, as S3 answers it. */
export async function listObjectsV2(
  store: HashedKeyStore,
  bucket: string,
  query: URLSearchParams,
): Promise<ListAnswer> {
  const maxKeysAsked = query.get('max-keys') ?? String(PAGE_MAX_KEYS);
  if (!/^\d+$/.test(maxKeysAsked)) {
    return {
      status: 400,
      code: 'InvalidArgument',
      message: 'Provided max-keys not an integer or within integer range',
    };
  }
  const token = query.get('continuation-token');
  const startAfter =
    token === null ? (query.get('start-after') ?? '') : Buffer.from(token, 'base64url').toString();
  if (token !== null && !startAfter) {
    return { status: 400, code: 'InvalidArgument', message: 'The continuation token provided is incorrect' };
  }
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeys = Math.min(PAGE_MAX_KEYS, Number(maxKeysAsked));
  const encode = query.get('encoding-type') === 'url' ? encodeURIComponent : (text: string) => text;
  const text = (value: string) => xmlEscape(encode(value));
  const result =
    maxKeys === 0
      ? { objects: [], commonPrefixes: [], isTruncated: false, nextStartAfter: undefined }
      : await store.listObjects(bucket, { prefix, delimiter, startAfter, maxKeys });
  const owner =
    query.get('fetch-owner') === 'true'
      ? '<Owner><ID>local</ID><DisplayName>local</DisplayName></Owner>'
      : '';
  const contents = result.objects
    .map(
      (object) =>
        `<Contents><Key>${text(object.key)}</Key><LastModified>${new Date(object.metadata['last-modified'] ?? 0).toISOString()}</LastModified><ETag>${xmlEscape(object.metadata.etag ?? '')}</ETag><Size>${object.metadata['content-length']}</Size>${owner}<StorageClass>STANDARD</StorageClass></Contents>`,
    )
    .join('');
  const prefixes = result.commonPrefixes
    .map((common) => `<CommonPrefixes><Prefix>${text(common)}</Prefix></CommonPrefixes>`)
    .join('');
  const body = [
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Name>${xmlEscape(bucket)}</Name><Prefix>${text(prefix)}</Prefix>`,
    token === null ? (startAfter ? `<StartAfter>${text(startAfter)}</StartAfter>` : '') : '',
    token === null ? '' : `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>`,
    result.nextStartAfter
      ? `<NextContinuationToken>${Buffer.from(result.nextStartAfter).toString('base64url')}</NextContinuationToken>`
      : '',
    `<KeyCount>${result.objects.length + result.commonPrefixes.length}</KeyCount><MaxKeys>${maxKeysAsked}</MaxKeys>`,
    delimiter ? `<Delimiter>${text(delimiter)}</Delimiter>` : '',
    query.get('encoding-type') === 'url' ? '<EncodingType>url</EncodingType>' : '',
    `<IsTruncated>${result.isTruncated}</IsTruncated>${contents}${prefixes}</ListBucketResult>`,
  ].join('');
  return { status: 200, body };
}
