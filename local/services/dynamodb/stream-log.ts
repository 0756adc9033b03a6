/**
 * Where the streams' records live for their 24 hours: each record's JSON text, written once
 * as `GetRecords` returns it, in the state folder's log (`stream-records.jsonl`, one
 * `{"arn","record"}` line each) or, without a folder, in memory. The heap holds only where
 * each record is: its sequence number, its time and its text's place. Kept as objects, a
 * record with both images took ~8 KB of heap and a file yields about ten of them, so a
 * 10,000-file library grew the DynamoDB process by ~800 MB; `GetRecords` then reads a page's
 * texts and passes them on without parsing them again.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';

/** One record as the log takes it: its stream, its place in order, and its text. */
export interface LoggedRecord {
  readonly arn: string;
  /** The record's sequence number, as a number (ours count up from 1). */
  readonly sequence: number;
  /** `ApproximateCreationDateTime`: seconds since the epoch. */
  readonly createdSeconds: number;
  /** The record's JSON. */
  readonly text: string;
}

/** One stream's records, oldest first, from `first` on (those before it are past retention). */
interface StreamEntries {
  first: number;
  readonly sequences: number[];
  readonly createdSeconds: number[];
  /** In the file: each text's byte offset and length. In memory: `texts` instead. */
  readonly offsets: number[];
  readonly lengths: number[];
  readonly texts: string[];
}

/** Entries dropped by retention are spliced out once this many have gathered. */
const COMPACT_AFTER = 4096;
/** The log is rewritten without what retention dropped once that is at least this much (and most of it). */
const DEFAULT_COMPACT_AT_BYTES = 64 * 1024 * 1024;
/** What `compact` copies at a time. */
const COPY_CHUNK_BYTES = 1024 * 1024;

function linePrefix(arn: string): string {
  return `{"arn":${JSON.stringify(arn)},"record":`;
}

export class StreamRecordLog {
  readonly #file: string | undefined;
  readonly #compactAtBytes: number;
  #fd: number | undefined;
  /** The log file's length in bytes: where the next line goes. */
  #size = 0;
  readonly #streams = new Map<string, StreamEntries>();

  /**
   * `file`: keep the texts there, reading back what an earlier process wrote (`load`);
   * in memory when absent. `compactAtBytes`: see `compact`.
   */
  constructor(file?: string, options: { compactAtBytes?: number } = {}) {
    this.#file = file;
    this.#compactAtBytes = options.compactAtBytes ?? DEFAULT_COMPACT_AT_BYTES;
  }

  /** Starts keeping records for a stream (a no-op when it has them already). */
  open(arn: string): void {
    if (this.#streams.has(arn)) return;
    this.#streams.set(arn, {
      first: 0,
      sequences: [],
      createdSeconds: [],
      offsets: [],
      lengths: [],
      texts: [],
    });
  }

  /** Forgets a stream's records (its table was deleted, or its stream turned off). */
  drop(arn: string): void {
    this.#streams.delete(arn);
  }

  append(record: LoggedRecord): void {
    const entries = this.#streams.get(record.arn);
    if (!entries) return;
    if (this.#file === undefined) {
      entries.sequences.push(record.sequence);
      entries.createdSeconds.push(record.createdSeconds);
      entries.texts.push(record.text);
      return;
    }
    this.#fd ??= openSync(this.#file, 'a+');
    writeSync(this.#fd, this.#place(entries, record));
  }

  /** The sequence number of the stream's oldest kept record. */
  firstSequence(arn: string): number | undefined {
    const entries = this.#streams.get(arn);
    return entries && entries.first < entries.sequences.length ? entries.sequences[entries.first] : undefined;
  }

  /** The texts of up to `limit` records at or after sequence `from`, and the last one's sequence. */
  page(arn: string, from: number, limit: number): { texts: string[]; lastSequence: number | undefined } {
    const entries = this.#streams.get(arn);
    if (!entries) return { texts: [], lastSequence: undefined };
    const start = this.#firstAtOrAfter(entries, from);
    const end = Math.min(entries.sequences.length, start + limit);
    if (start >= end) return { texts: [], lastSequence: undefined };
    return { texts: this.#texts(entries, start, end), lastSequence: entries.sequences[end - 1] };
  }

  /**
   * Drops the records created before `horizonSeconds`; answers the last dropped one's
   * sequence number, or undefined when none was.
   */
  trim(arn: string, horizonSeconds: number): number | undefined {
    const entries = this.#streams.get(arn);
    if (!entries) return undefined;
    let first = entries.first;
    while (first < entries.sequences.length && (entries.createdSeconds[first] as number) < horizonSeconds)
      first += 1;
    if (first === entries.first) return undefined;
    entries.first = first;
    const lastDropped = entries.sequences[first - 1];
    if (first >= COMPACT_AFTER && first * 2 >= entries.sequences.length) this.#forgetDropped(entries);
    return lastDropped;
  }

  /**
   * Reads the records an earlier process logged (lines cut short by a crash are skipped),
   * keeps those `keep` accepts of the streams opened already, and writes the log anew with
   * only them (through a new file renamed over the old, so a crash meanwhile loses nothing):
   * it does not grow across restarts.
   */
  load(keep: (record: LoggedRecord) => boolean): LoggedRecord[] {
    if (this.#file === undefined || !existsSync(this.#file)) return [];
    const kept: LoggedRecord[] = [];
    for (const line of readFileSync(this.#file, 'utf8').split('\n')) {
      if (!line) continue;
      let entry: {
        arn: string;
        record: { dynamodb: { SequenceNumber: string; ApproximateCreationDateTime: number } };
      };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      const record: LoggedRecord = {
        arn: entry.arn,
        sequence: Number(entry.record.dynamodb.SequenceNumber),
        createdSeconds: entry.record.dynamodb.ApproximateCreationDateTime,
        text: line.slice(linePrefix(entry.arn).length, -1),
      };
      if (keep(record)) kept.push(record);
    }
    const rewritten = `${this.#file}.new`;
    const fd = openSync(rewritten, 'w');
    this.#size = 0;
    try {
      for (const record of kept) {
        const entries = this.#streams.get(record.arn);
        if (entries) writeSync(fd, this.#place(entries, record));
      }
    } finally {
      closeSync(fd);
    }
    renameSync(rewritten, this.#file);
    return kept;
  }

  /**
   * Rewrites the log without what retention dropped, once that is most of it and at least
   * `compactAtBytes`: a runtime left running for days keeps about a day of records on disk,
   * not every one since it started. Lines are appended in time order and retention cuts by
   * time, so what is kept is the log's tail: copied in chunks through a new file renamed over
   * the old, never read whole.
   */
  compact(): void {
    if (this.#file === undefined) return;
    let cut = this.#size;
    for (const [arn, entries] of this.#streams) {
      if (entries.first < entries.offsets.length)
        cut = Math.min(cut, (entries.offsets[entries.first] as number) - Buffer.byteLength(linePrefix(arn)));
    }
    if (cut < this.#compactAtBytes || cut < this.#size - cut) return;
    this.#fd ??= openSync(this.#file, 'a+');
    const rewritten = `${this.#file}.new`;
    const out = openSync(rewritten, 'w');
    try {
      const chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
      for (let at = cut; at < this.#size;) {
        const got = readSync(this.#fd, chunk, 0, Math.min(chunk.length, this.#size - at), at);
        if (got === 0) throw new Error(`the stream log ${this.#file} ends at ${at}, before ${this.#size}`);
        writeSync(out, chunk, 0, got);
        at += got;
      }
    } finally {
      closeSync(out);
    }
    closeSync(this.#fd);
    renameSync(rewritten, this.#file);
    this.#fd = openSync(this.#file, 'a+');
    this.#size -= cut;
    for (const entries of this.#streams.values()) {
      this.#forgetDropped(entries);
      for (let index = 0; index < entries.offsets.length; index += 1)
        entries.offsets[index] = (entries.offsets[index] as number) - cut;
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Indexes `record` as the log's next line (at `#size`), and answers that line. */
  #place(entries: StreamEntries, record: LoggedRecord): string {
    const prefix = linePrefix(record.arn);
    const line = `${prefix}${record.text}}\n`;
    entries.sequences.push(record.sequence);
    entries.createdSeconds.push(record.createdSeconds);
    entries.offsets.push(this.#size + Buffer.byteLength(prefix));
    entries.lengths.push(Buffer.byteLength(record.text));
    this.#size += Buffer.byteLength(line);
    return line;
  }

  /** Splices out the entries retention dropped (those before `first`). */
  #forgetDropped(entries: StreamEntries): void {
    for (const list of [
      entries.sequences,
      entries.createdSeconds,
      entries.offsets,
      entries.lengths,
      entries.texts,
    ])
      list.splice(0, entries.first);
    entries.first = 0;
  }

  /** The index of the first kept record at or after `sequence` (binary search: they are in order). */
  #firstAtOrAfter(entries: StreamEntries, sequence: number): number {
    let low = entries.first;
    let high = entries.sequences.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((entries.sequences[middle] as number) < sequence) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Records `start` to `end` (exclusive): one read of the span they occupy in the file. */
  #texts(entries: StreamEntries, start: number, end: number): string[] {
    if (this.#file === undefined) return entries.texts.slice(start, end);
    const from = entries.offsets[start] as number;
    const to = (entries.offsets[end - 1] as number) + (entries.lengths[end - 1] as number);
    const span = Buffer.allocUnsafe(to - from);
    this.#fd ??= openSync(this.#file, 'a+');
    for (let read = 0; read < span.length;) {
      const got = readSync(this.#fd, span, read, span.length - read, from + read);
      if (got === 0) throw new Error(`the stream log ${this.#file} ends before its record at ${from + read}`);
      read += got;
    }
    const texts: string[] = [];
    for (let index = start; index < end; index += 1) {
      const offset = (entries.offsets[index] as number) - from;
      texts.push(span.toString('utf8', offset, offset + (entries.lengths[index] as number)));
    }
    return texts;
  }
}
