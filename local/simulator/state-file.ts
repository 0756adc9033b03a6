/**
 * The simulator's state across restarts, for `npm start`'s state folder: its files, webhook
 * endpoints, upload-URL secret and port. The real VideoGen never stops; a runtime stopped
 * while the simulator is still processing its files resumes them on the next start, and
 * without this they were gone (each resumed file ended `FAILED VideoGenNotFoundError`).
 *
 * A JSON-lines log: a header, then a line for a file or an endpoint each time it changes
 * (at most every 200 ms, only what changed), rewritten whole when the simulator starts and
 * when it closes. The last line of a file or an endpoint wins; a line a crash cut short is
 * skipped. Not kept: the records of requests, uploads and deliveries (the inspection API
 * starts empty), an upload in progress (the restart cut it: the sender retries), deliveries
 * waiting for a retry, and the faults a file drew.
 */
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { unlessMissing } from '../missing-file.ts';
import type { EndpointState, FileState } from './records.ts';

/** A file as saved: what it needs to go on, without what only a live process has. */
type SavedFile = Omit<FileState, 'held' | 'head' | 'receiving'> & { head?: string };

type Line =
  | { kind: 'header'; port: number; urlSecret: string }
  | { kind: 'file'; state: SavedFile }
  | { kind: 'endpoint'; endpoint: EndpointState };

export interface SavedSimulator {
  readonly port: number;
  readonly urlSecret: Buffer;
  readonly files: FileState[];
  readonly endpoints: EndpointState[];
}

const FLUSH_MS = 200;

function savedFile(state: FileState): SavedFile {
  const { held: _held, head, receiving: _receiving, ...rest } = state;
  return { ...rest, ...(head ? { head: head.toString('base64') } : {}) };
}

function fileState(saved: SavedFile): FileState {
  const { head, ...rest } = saved;
  return { ...rest, held: [], ...(head ? { head: Buffer.from(head, 'base64') } : {}) };
}

/** What changes when a file changes: cheap to compute for every file at each flush. */
function fileMark(state: FileState): string {
  return `${state.file.updatedAt}|${state.file.status}|${state.puts}|${state.events.length}|${state.processing}`;
}

function endpointMark(endpoint: EndpointState): string {
  return `${endpoint.deleted}|${endpoint.secrets.length}|${endpoint.url}|${endpoint.events.join(',')}`;
}

/** The state an earlier simulator left in `file`, or nothing when there is none. */
export async function readSimulatorState(file: string): Promise<SavedSimulator | undefined> {
  const text = await readFile(file, 'utf8').catch(unlessMissing(undefined));
  if (text === undefined) return undefined;
  let header: Extract<Line, { kind: 'header' }> | undefined;
  const files = new Map<string, FileState>();
  const endpoints = new Map<string, EndpointState>();
  for (const entry of text.split('\n')) {
    if (!entry.trim()) continue;
    let line: Line;
    try {
      line = JSON.parse(entry) as Line;
    } catch {
      continue; // cut short by a crash: the change it described is the only one lost
    }
    if (line.kind === 'header') header = line;
    else if (line.kind === 'file') files.set(line.state.file.fileId, fileState(line.state));
    else endpoints.set(line.endpoint.id, line.endpoint);
  }
  if (!header) return undefined;
  return {
    port: header.port,
    urlSecret: Buffer.from(header.urlSecret, 'base64'),
    files: [...files.values()],
    endpoints: [...endpoints.values()],
  };
}

export class SimulatorStateFile {
  readonly #marks = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(
    private readonly file: string,
    private readonly header: { port: number; urlSecret: Buffer },
    private readonly files: ReadonlyMap<string, FileState>,
    private readonly endpoints: ReadonlyMap<string, EndpointState>,
  ) {}

  /** Starts keeping the simulator's `files` and `endpoints` in `file`, written whole first. */
  static async create(
    file: string,
    header: { port: number; urlSecret: Buffer },
    files: ReadonlyMap<string, FileState>,
    endpoints: ReadonlyMap<string, EndpointState>,
  ): Promise<SimulatorStateFile> {
    const stateFile = new SimulatorStateFile(file, header, files, endpoints);
    await stateFile.#rewrite();
    return stateFile;
  }

  /** Something may have changed: the changed files and endpoints are written shortly. */
  changed(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#writing = this.#writing.then(() => this.#appendChanges()).catch(() => undefined);
    }, FLUSH_MS);
  }

  /** Writes everything, whole, and stops. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#writing;
    await this.#rewrite();
  }

  #lines(all: boolean): string {
    const lines: Line[] = [];
    for (const state of this.files.values()) {
      const mark = fileMark(state);
      if (!all && this.#marks.get(state.file.fileId) === mark) continue;
      this.#marks.set(state.file.fileId, mark);
      lines.push({ kind: 'file', state: savedFile(state) });
    }
    for (const endpoint of this.endpoints.values()) {
      const mark = endpointMark(endpoint);
      if (!all && this.#marks.get(endpoint.id) === mark) continue;
      this.#marks.set(endpoint.id, mark);
      lines.push({ kind: 'endpoint', endpoint });
    }
    return lines.map((line) => `${JSON.stringify(line)}\n`).join('');
  }

  async #appendChanges(): Promise<void> {
    const lines = this.#lines(false);
    if (lines) await appendFile(this.file, lines);
  }

  /** The whole state, through a temporary file: a crash leaves the old log or the new one. */
  async #rewrite(): Promise<void> {
    const header: Line = {
      kind: 'header',
      port: this.header.port,
      urlSecret: this.header.urlSecret.toString('base64'),
    };
    const partial = `${this.file}.partial`;
    await writeFile(partial, `${JSON.stringify(header)}\n${this.#lines(true)}`);
    await rename(partial, this.file);
  }
}
