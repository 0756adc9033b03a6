/**
 * Where the local S3 keeps its objects: s3rver's filesystem store, with each object under a
 * name derived from its key (a SHA-256) instead of under the key itself. S3 keys run to
 * 1,024 bytes and may hold `..`, `//` or a 250-byte segment; a file system takes 255 bytes
 * a name, so s3rver's own layout ended the whole process with `ENAMETOOLONG` on a long key
 * (an unhandled stream error) and again on every start that re-read it.
 *
 * s3rver keeps the rest: metadata, ETags, ranges, multipart uploads, subresources. Listing
 * is answered from an index of the keys (kept beside each object, read once per bucket),
 * sorted as S3 sorts them, by their UTF-8 bytes. Writes go to a temporary file renamed into
 * place, with every stream error handled: a failed write is that request's 500, never a
 * crash, and never half an object. A folder in s3rver's own layout (an older state folder)
 * is moved into this one when its bucket is first read.
 *
 * Hand-written: s3rver's store is the one it ships, and no maintained in-process S3
 * emulator stores keys of any length.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { unlessMissing } from '../../missing-file.ts';
import { FileReads } from './file-reads.ts';
import type S3rverStore from 's3rver/lib/stores/filesystem';
import type S3rverObject from 's3rver/lib/models/object';

const require = createRequire(import.meta.url);
const FilesystemStore = require('s3rver/lib/stores/filesystem') as typeof S3rverStore;
const S3Object = require('s3rver/lib/models/object') as typeof S3rverObject;

/** The folder of a bucket's objects, each in a subfolder named by its hash's first two digits. */
const OBJECTS = 'objects';
const SUFFIX = '._S3rver_';

/** S3's longest key, in UTF-8 bytes. */
export const S3_MAX_KEY_BYTES = 1024;

function keyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** S3 lists keys in the order of their UTF-8 bytes (not of JavaScript's UTF-16 units). */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Streams `content` into `file` through a temporary name: all of it, or nothing and an error. */
async function writeWhole(content: Buffer | Readable, file: string): Promise<{ size: number; md5: string }> {
  await mkdir(path.dirname(file), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  const partial = `${file}.${randomBytes(6).toString('hex')}.partial`;
  try {
    if (Buffer.isBuffer(content)) {
      md5.update(content);
      size = content.length;
      await writeFile(partial, content);
    } else {
      const count = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          md5.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(content, count, createWriteStream(partial));
    }
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { size, md5: md5.digest('hex') };
}

/**
 * Objects whose metadata the store keeps in memory (~0.5 KB each): the recently written ones,
 * which the ingest reads twice soon after their drop, not a whole library.
 */
const KEPT_METADATA = 1_000;

export class HashedKeyStore extends FilesystemStore {
  /** Each bucket's keys, read from disk on the bucket's first use. */
  readonly #keys = new Map<string, Promise<Set<string>>>();
  readonly #buckets = new FileReads<Awaited<ReturnType<S3rverStore['getBucket']>>>();
  /** Subresources (a bucket's CORS, website, an object's tagging) known to be absent. */
  readonly #subresources = new FileReads<unknown>();
  readonly #metadata = new FileReads<Record<string, unknown>>(KEPT_METADATA);

  override getBucket(bucket: string) {
    // An existing bucket only: one being created is read again until it is there.
    return this.#buckets.read(
      this.getBucketPath(bucket),
      () => super.getBucket(bucket),
      (found) => found !== null,
    );
  }

  override async putBucket(bucket: string) {
    this.#buckets.forget(this.getBucketPath(bucket));
    return super.putBucket(bucket);
  }

  override getSubresource(bucket: string, key: string | undefined, resourceType: string) {
    // Only an absent one is kept: a present one is a model its caller may change.
    return this.#subresources.read(
      this.getResourcePath(bucket, key, `${resourceType}.xml`),
      () => super.getSubresource(bucket, key, resourceType),
      (found) => found === null,
    );
  }

  override async putSubresource(
    bucket: string,
    key: string | undefined,
    resource: { readonly type: string },
  ) {
    await this.#subresources.writing(this.getResourcePath(bucket, key, `${resource.type}.xml`), () =>
      super.putSubresource(bucket, key, resource),
    );
  }

  override async deleteSubresource(bucket: string, key: string | undefined, resourceType: string) {
    await this.#subresources.writing(this.getResourcePath(bucket, key, `${resourceType}.xml`), () =>
      super.deleteSubresource(bucket, key, resourceType),
    );
  }

  override async getMetadata(bucket: string, key: string): Promise<Record<string, unknown>> {
    const metadata = await this.#metadata.read(this.getResourcePath(bucket, key, 'object'), () =>
      super.getMetadata(bucket, key),
    );
    // Each caller gets its own copy: s3rver's models keep and may change what they are given.
    return { ...metadata };
  }

  override async putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5?: string,
  ): Promise<void> {
    await this.#metadata.writing(this.getResourcePath(bucket, key, 'object'), () =>
      super.putMetadata(bucket, key, metadata, md5),
    );
  }

  override getResourcePath(bucket: string, key = '', resource: string): string {
    // The bucket's own subresources and its uploads in progress stay where s3rver puts them.
    if (!key) return super.getResourcePath(bucket, key, resource);
    const hash = keyHash(key);
    return path.join(this.rootDirectory, bucket, OBJECTS, hash.slice(0, 2), `${hash}${SUFFIX}${resource}`);
  }

  override async listObjects(
    bucket: string,
    options: { delimiter?: string; startAfter?: string; prefix?: string; maxKeys?: number },
  ) {
    const { delimiter = '', startAfter = '', prefix = '', maxKeys = Infinity } = options;
    const sorted = [...(await this.#keysOf(bucket))].sort(byUtf8);
    const keys: string[] = [];
    const commonPrefixes = new Set<string>();
    let last = '';
    let isTruncated = false;
    // As S3 lists: keys after `startAfter` under `prefix`, rolled up at `delimiter`; a page's
    // keys and common prefixes together at most `maxKeys`, a prefix never on two pages.
    for (const key of sorted) {
      if (byUtf8(key, startAfter) <= 0 || !key.startsWith(prefix)) continue;
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      const common = cut === -1 ? undefined : key.slice(0, cut + delimiter.length);
      if (common !== undefined && (commonPrefixes.has(common) || byUtf8(common, startAfter) <= 0)) continue;
      if (keys.length + commonPrefixes.size >= maxKeys) {
        isTruncated = true;
        break;
      }
      if (common === undefined) keys.push(key);
      else commonPrefixes.add(common);
      last = common ?? key;
    }
    const objects = await Promise.all(
      keys.map(async (key) => {
        // Deleted meanwhile: not listed.
        const metadata = await this.getMetadata(bucket, key).catch(unlessMissing(undefined));
        return metadata && new S3Object(bucket, key, null, metadata);
      }),
    );
    return {
      objects: objects.filter((object) => object !== undefined),
      commonPrefixes: [...commonPrefixes].sort(byUtf8),
      isTruncated,
      /** Where the next page starts (after this key or common prefix), when there is one. */
      nextStartAfter: isTruncated ? last : undefined,
    };
  }

  /**
   * S3 answers any range of an empty object 416 (`InvalidRange`); s3rver's store serves it as
   * a one-byte range it then cannot fill. No content makes s3rver answer `InvalidRange`.
   */
  override async getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<S3rverObject | null> {
    const object = await super.getObject(bucket, key, options);
    if (object?.range && Number(object.metadata['content-length']) === 0) {
      if (object.content && 'destroy' in object.content) object.content.destroy();
      object.content = null;
    }
    return object;
  }

  override async putObject(object: S3rverObject): Promise<{ size: number; md5: string }> {
    const file = this.getResourcePath(object.bucket, object.key, 'object');
    const written = await this.#metadata.writing(file, async () => {
      const whole = await writeWhole(object.content ?? Buffer.alloc(0), file);
      await this.putMetadata(object.bucket, object.key, object.metadata, whole.md5);
      return whole;
    });
    await this.#remember(object.bucket, object.key);
    return written;
  }

  override async putPart(
    bucket: string,
    uploadId: string,
    partNumber: number,
    content: Readable,
  ): Promise<{ size: number; md5: string }> {
    const partPath = path.join(
      this.getResourcePath(bucket, undefined, 'uploads'),
      uploadId,
      String(partNumber),
    );
    const written = await writeWhole(content, partPath);
    await writeFile(`${partPath}.md5`, written.md5);
    return written;
  }

  override async copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata: Record<string, string> | undefined,
  ) {
    // s3rver copies the metadata files themselves when none replaces them.
    const metadata = await this.#metadata.writing(this.getResourcePath(destBucket, destKey, 'object'), () =>
      super.copyObject(srcBucket, srcKey, destBucket, destKey, replacementMetadata),
    );
    await this.#remember(destBucket, destKey);
    return metadata;
  }

  override async deleteObject(bucket: string, key: string): Promise<void> {
    (await this.#keysOf(bucket)).delete(key);
    await this.#metadata.writing(this.getResourcePath(bucket, key, 'object'), () =>
      Promise.all(
        ['object', 'object.md5', 'metadata.json', 'key'].map((resource) =>
          unlink(this.getResourcePath(bucket, key, resource)).catch(unlessMissing(undefined)),
        ),
      ),
    );
  }

  override async deleteBucket(bucket: string): Promise<void> {
    this.#keys.delete(bucket);
    this.#forgetUnder(this.getBucketPath(bucket));
    try {
      await super.deleteBucket(bucket);
    } finally {
      this.#forgetUnder(this.getBucketPath(bucket));
    }
  }

  override reset(): void {
    this.#keys.clear();
    this.#forgetUnder();
    super.reset();
  }

  #forgetUnder(folder?: string): void {
    for (const reads of [this.#buckets, this.#subresources, this.#metadata]) reads.forgetUnder(folder);
  }

  async #remember(bucket: string, key: string): Promise<void> {
    await writeFile(this.getResourcePath(bucket, key, 'key'), key);
    (await this.#keysOf(bucket)).add(key);
  }

  #keysOf(bucket: string): Promise<Set<string>> {
    let keys = this.#keys.get(bucket);
    if (!keys) {
      keys = this.#readKeys(bucket);
      this.#keys.set(bucket, keys);
      // A failed read is tried again on the next request, not remembered.
      keys.catch(() => this.#keys.delete(bucket));
    }
    return keys;
  }

  async #readKeys(bucket: string): Promise<Set<string>> {
    await this.#moveFromS3rverLayout(bucket);
    const objects = path.join(this.getBucketPath(bucket), OBJECTS);
    const keyFiles = (await readdir(objects, { recursive: true }).catch(() => [] as string[])).filter(
      (file) => file.endsWith(`${SUFFIX}key`),
    );
    const keys = await Promise.all(keyFiles.map((file) => readFile(path.join(objects, file), 'utf8')));
    return new Set(keys);
  }

  /** Objects an older start stored under their keys (s3rver's layout), moved to their hashed names. */
  async #moveFromS3rverLayout(bucket: string): Promise<void> {
    const bucketPath = this.getBucketPath(bucket);
    const entries = await readdir(bucketPath, { recursive: true }).catch(() => [] as string[]);
    const objectSuffix = `${SUFFIX}object`;
    const legacy = entries.filter(
      (entry) => entry.endsWith(objectSuffix) && !entry.startsWith(`${OBJECTS}${path.sep}`),
    );
    for (const entry of legacy) {
      const key = entry.slice(0, -objectSuffix.length).split(path.sep).join('/');
      const from = (resource: string) =>
        path.join(bucketPath, `${entry.slice(0, -'object'.length)}${resource}`);
      await mkdir(path.dirname(this.getResourcePath(bucket, key, 'object')), { recursive: true });
      for (const resource of ['object.md5', 'metadata.json', 'object']) {
        await rename(from(resource), this.getResourcePath(bucket, key, resource)).catch(
          unlessMissing(undefined),
        );
      }
      await writeFile(this.getResourcePath(bucket, key, 'key'), key);
    }
    // The folders the keys made, now empty (deepest first).
    const folders = legacy.flatMap((entry) => {
      const parts = entry.split(path.sep).slice(0, -1);
      return parts.map((_, index) => path.join(bucketPath, ...parts.slice(0, index + 1)));
    });
    for (const folder of [...new Set(folders)].sort((a, b) => b.length - a.length)) {
      await rmdir(folder).catch(() => undefined); // not empty: something else lives there
    }
  }
}
