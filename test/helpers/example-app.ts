/**
 * CDK apps of their own (their folder, their cdk.json) for the `--app` tests: the example app
 * of `docs/local-runtime.md`, as written there, or a variant of it. The folder is inside this checkout
 * (`.local/test-apps/`, ignored by git) so that `videogen-ingest` resolves to this package,
 * and the app runs with the `source` condition, so to its TypeScript sources: a user's app
 * gets the same construct from its installed package.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const PROJECT = path.resolve(import.meta.dirname, '../..');
const APPS = path.join(PROJECT, '.local', 'test-apps');

/** The documented example app: each block after a `<!-- example-app: PATH -->` marker, by its path. */
export async function documentedExampleApp(): Promise<Record<string, string>> {
  const readme = await readFile(path.join(PROJECT, 'docs', 'local-runtime.md'), 'utf8');
  const files: Record<string, string> = {};
  for (const match of readme.matchAll(/<!-- example-app: (\S+) -->\s*```ts\n([\s\S]*?)```/g)) {
    const [, file = '', body = ''] = match;
    files[file] = body;
  }
  return files;
}

export interface ExampleApp {
  readonly dir: string;
  remove(): Promise<void>;
}

/** Writes an app folder: its files, and a cdk.json whose app command synthesizes it. */
export async function writeApp(files: Record<string, string>): Promise<ExampleApp> {
  await mkdir(APPS, { recursive: true });
  const dir = await mkdtemp(path.join(APPS, 'app-'));
  await writeFile(
    path.join(dir, 'cdk.json'),
    JSON.stringify({ app: 'node --conditions=source --import tsx bin/app.ts' }, null, 2),
  );
  for (const [file, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), body);
  }
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
