/**
 * The package's handlers as data, without CDK: their names (one per entry of
 * `lambdas/shared/environments.ts`), where their code is, and the template metadata that names them. The construct builds functions from it; the local
 * runtime finds them in a cached template with it, without loading aws-cdk-lib.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HandlerName } from '../lambdas/shared/environments.ts';

export type { EnvironmentOf, HandlerName } from '../lambdas/shared/environments.ts';
/** Template metadata naming a function's handler folder: how tests and the local runtime find them. */
export const HANDLER_METADATA_KEY = 'VideoGenIngest:Handler';

/**
 * The package's folder, where `lambdas/` is: the parent of `lib/` in this repository, of
 * `dist/lib/` in the packed package an app installs.
 */
export const PROJECT_ROOT = packageRoot(fileURLToPath(new URL('.', import.meta.url)));

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export function handlerEntry(name: HandlerName): string {
  return path.join(PROJECT_ROOT, 'lambdas', name, 'handler.ts');
}
