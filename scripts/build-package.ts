/**
 * What `npm pack` ships besides the compiled library (`npm run build` runs both): every
 * handler bundled into `dist/handlers/<name>/`, so an app's synth bundles nothing
 * (`lib/handler-code.ts`), and the `videogen-ingest` command bundled into one file with its
 * AWS SDK clients, so installing the construct installs none of them.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { bundleHandler, prebuiltHandlerDir } from '../lib/handler-code.ts';
import type { HandlerName } from '../lib/handlers.ts';
import { ENVIRONMENTS } from '../lambdas/shared/environments.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const HANDLERS = path.dirname(prebuiltHandlerDir('starter', ROOT));
/** Where `ops/bin.mjs` finds the command in the packed package. */
export const OPS_BUNDLE = path.join(ROOT, 'dist', 'ops', 'videogen-ingest.mjs');

await rm(HANDLERS, { recursive: true, force: true });
for (const name of Object.keys(ENVIRONMENTS) as HandlerName[])
  bundleHandler(name, prebuiltHandlerDir(name, ROOT));

await rm(path.dirname(OPS_BUNDLE), { recursive: true, force: true });
await build({
  entryPoints: [path.join(ROOT, 'ops', 'main.ts')],
  outfile: OPS_BUNDLE,
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The app's Node, not the runtime's: the command runs wherever the construct is installed.
  target: 'node20',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  // Some dependencies still call `require`; ESM bundles need it defined.
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
console.error(`bundled ${Object.keys(ENVIRONMENTS).length} handlers into ${HANDLERS}, and ${OPS_BUNDLE}`);
