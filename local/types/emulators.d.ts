// Type declarations for the emulators that ship none.
declare module 'dynalite' {
  import type { Server } from 'node:http';
  interface DynaliteOptions {
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    /** A LevelDB folder: tables outlive the process. In memory when absent. */
    path?: string;
    maxItemSizeKb?: number;
    path?: string;
  }
  export default function dynalite(options?: DynaliteOptions): Server;
}

declare module 's3rver' {
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }
  interface S3rverEventRecord {
    eventName: string;
    eventTime: string;
    s3: {
      bucket: { name: string };
      object: { key: string; size?: number; eTag?: string; sequencer: string };
    };
  }
  export default class S3rver {
    constructor(options?: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    on(event: 'event', listener: (event: { Records: S3rverEventRecord[] }) => void): this;
    /** The store its routes use (set on both in its constructor). */
    store: unknown;
    context: { store: unknown };
    /** Koa's request handler, of the middleware as it is when called. */
    callback(): (
      request: import('node:http').IncomingMessage,
      response: import('node:http').ServerResponse,
    ) => void;
    /** Koa's middleware list (s3rver is a Koa application). */
    middleware: ((context: unknown, next: () => Promise<void>) => Promise<void>)[];
  }
}

// s3rver's error: thrown by what s3rver calls, it answers with its code and S3's status for it.
declare module 's3rver/lib/models/error' {
  class S3Error extends Error {
    constructor(code: string, message: string, detail?: Record<string, string>);
    readonly code: string;
    readonly status: number;
  }
  export = S3Error;
}

// s3rver's store and object model, which `local/services/s3/s3-store.ts` extends.
declare module 's3rver/lib/models/object' {
  import type { Readable } from 'node:stream';
  class S3Object {
    constructor(
      bucket: string,
      key: string,
      content: Buffer | Readable | null,
      metadata: Record<string, unknown>,
    );
    readonly bucket: string;
    readonly key: string;
    content: Buffer | Readable | null;
    readonly metadata: Record<string, string>;
    /** Set when the read asked a range (`getObject`'s `options`). */
    range?: { start: number; end: number };
  }
  export = S3Object;
}

declare module 's3rver/lib/stores/filesystem' {
  import type { Readable } from 'node:stream';
  import type S3Object from 's3rver/lib/models/object';
  class FilesystemStore {
    constructor(rootDirectory: string);
    readonly rootDirectory: string;
    getBucketPath(bucket: string): string;
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    getMetadata(bucket: string, key: string): Promise<Record<string, unknown>>;
    getBucket(bucket: string): Promise<{ readonly name: string; readonly creationDate: Date } | null>;
    putBucket(bucket: string): Promise<{ readonly name: string; readonly creationDate: Date } | null>;
    getSubresource(bucket: string, key: string | undefined, resourceType: string): Promise<unknown>;
    putSubresource(
      bucket: string,
      key: string | undefined,
      resource: { readonly type: string },
    ): Promise<void>;
    deleteSubresource(bucket: string, key: string | undefined, resourceType: string): Promise<void>;
    putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5?: string): Promise<void>;
    listObjects(
      bucket: string,
      options: { delimiter?: string; startAfter?: string; prefix?: string; maxKeys?: number },
    ): Promise<{ objects: S3Object[]; commonPrefixes: string[]; isTruncated: boolean }>;
    putObject(object: S3Object): Promise<{ size: number; md5: string }>;
    putPart(
      bucket: string,
      uploadId: string,
      partNumber: number,
      content: Readable,
    ): Promise<{ size: number; md5: string }>;
    copyObject(
      srcBucket: string,
      srcKey: string,
      destBucket: string,
      destKey: string,
      replacementMetadata: Record<string, string> | undefined,
    ): Promise<Record<string, unknown>>;
    getObject(
      bucket: string,
      key: string,
      options?: { start?: number; end?: number },
    ): Promise<S3Object | null>;
    deleteObject(bucket: string, key: string): Promise<void>;
    deleteBucket(bucket: string): Promise<void>;
    reset(): void;
  }
  export = FilesystemStore;
}
