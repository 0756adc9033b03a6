/** Debian's AWS CLI (v2.9: `.ci/run` installs it) against a local endpoint, as a user runs it. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { LOCAL_CREDENTIALS } from '#local/runtime/options';

const run = promisify(execFile);
// By its path: a pyenv shim may shadow `aws` on PATH.
const AWS = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws';

export interface AwsCliTarget {
  readonly endpoint: string;
  readonly region: string;
  /** Its HOME: no profile or cache of the machine's user is read. */
  readonly home: string;
}

/** `aws …` with the runtime's credentials; answers parsed JSON (or the text printed). */
export async function awsCli(target: AwsCliTarget, ...args: string[]): Promise<unknown> {
  const { stdout } = await run(AWS, [...args, '--endpoint-url', target.endpoint, '--output', 'json'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: target.home,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_DEFAULT_REGION: target.region,
      AWS_PAGER: '',
    },
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: unknown) => {
    const failure = error as { code?: string; stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error('the AWS CLI is not installed: apt-get install -y awscli (what .ci/run does)');
    }
    throw new Error(`aws ${args.slice(0, 2).join(' ')} failed: ${failure.stderr ?? String(error)}`);
  });
  return stdout.trim().startsWith('{') ? (JSON.parse(stdout) as unknown) : stdout;
}
