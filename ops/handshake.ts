/**
 * How the ops commands find a running `videogen-ingest-local start`: a file in its state folder
 * (`local.json`) naming the runtime's endpoints and its pid, written once the runtime is
 * ready and removed when it stops. A file whose pid is gone is a runtime that crashed.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where the ops CLI finds a local runtime's table, workflow and queues (`.videogen-ingest/local.json`). */
export interface LocalOpsEndpoints {
  readonly region: string;
  readonly bucket: string;
  readonly tableName: string;
  readonly stateMachineArn: string;
  readonly ingestQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly endpoints: {
    readonly dynamodb: string;
    readonly sfn: string;
    readonly sqs: string;
    readonly s3: string;
  };
}

/** `start`'s state folder by default, relative to its working directory. */
export const LOCAL_STATE_DIR = '.videogen-ingest';

export interface LocalState extends LocalOpsEndpoints {
  readonly pid: number;
}

export function handshakeFile(stateDir: string = LOCAL_STATE_DIR): string {
  return path.join(stateDir, 'local.json');
}

export async function writeHandshake(stateDir: string, endpoints: LocalOpsEndpoints): Promise<void> {
  const state: LocalState = { ...endpoints, pid: process.pid };
  await writeFile(handshakeFile(stateDir), `${JSON.stringify(state, null, 2)}\n`);
}

export async function removeHandshake(stateDir: string): Promise<void> {
  await rm(handshakeFile(stateDir), { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running runtime's endpoints; `missing` when no start wrote the file, `gone` when its process died. */
export async function readHandshake(
  stateDir: string = LOCAL_STATE_DIR,
): Promise<{ state: LocalState } | { missing: string } | { gone: number; file: string }> {
  const file = handshakeFile(stateDir);
  let state: LocalState;
  try {
    state = JSON.parse(await readFile(file, 'utf8')) as LocalState;
  } catch {
    return { missing: file };
  }
  return isAlive(state.pid) ? { state } : { gone: state.pid, file };
}
