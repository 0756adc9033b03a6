import path from 'node:path';

/**
 * What the local S3 store (`s3-store.ts`) last read of each file, while nothing has written
 * it since: every request s3rver serves asks again whether its bucket exists and has a
 * website or CORS configuration, and a GET reads the object's metadata and ETag files. From
 * disk, that is a dozen file operations a request, each a trip through libuv's thread pool.
 * This process is the only writer of these files, so each write forgets what it changes; a
 * read that a write overtook keeps nothing.
 */
export class FileReads<T> {
  readonly #kept = new Map<string, T>();
  readonly #reading = new Map<string, object>();
  readonly #capacity: number;

  constructor(capacity = Infinity) {
    this.#capacity = capacity;
  }

  async read(file: string, load: () => Promise<T>, keep: (value: T) => boolean = () => true): Promise<T> {
    if (this.#kept.has(file)) return this.#kept.get(file) as T;
    const token = {};
    this.#reading.set(file, token);
    let value: T;
    try {
      value = await load();
    } catch (error) {
      if (this.#reading.get(file) === token) this.#reading.delete(file);
      throw error;
    }
    if (this.#reading.get(file) !== token) return value;
    this.#reading.delete(file);
    if (keep(value)) {
      this.#kept.set(file, value);
      // A Map iterates in insertion order: the first is the longest kept.
      if (this.#kept.size > this.#capacity) this.#kept.delete(this.#kept.keys().next().value as string);
    }
    return value;
  }

  /**
   * Runs `write`, a write of `file`: what was kept of it is forgotten before (a read while it is
   * written goes to disk) and again after (a read the write overtook keeps nothing).
   */
  async writing<R>(file: string, write: () => Promise<R>): Promise<R> {
    this.forget(file);
    try {
      return await write();
    } finally {
      this.forget(file);
    }
  }

  forget(file: string): void {
    this.#kept.delete(file);
    this.#reading.delete(file);
  }

  /** Forgets every file under `folder` (a bucket's), or everything. */
  forgetUnder(folder?: string): void {
    for (const file of [...this.#kept.keys(), ...this.#reading.keys()]) {
      if (folder === undefined || file === folder || file.startsWith(`${folder}${path.sep}`))
        this.forget(file);
    }
  }
}
