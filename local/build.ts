/**
 * Builds the packed `videogen-ingest-local` (its `prepack`): the runtime's TypeScript, with
 * the construct's shared code it reads (the VideoGen contract, the ingest record, the
 * handlers' names), bundled by esbuild into `dist/`. Its packages stay external, so they
 * are the package's dependencies, one copy each. Entries run by path (the Lambda worker
 * thread, the DynamoDB child process) are entries of their own; the output is flat, so a
 * file's `new URL('./x.mjs', import.meta.url)` finds its sibling from any chunk.
 *
 * Run by hand: `npx tsx local/build.ts` (answers the bare imports of the bundle on stdout).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

const LOCAL = import.meta.dirname;
export const LOCAL_DIST = path.join(LOCAL, 'dist');

/** The entries: the CLI, and what the runtime starts by path. */
const ENTRIES = {
  cli: 'cli.ts',
  'lambda-worker': 'services/lambda/lambda-worker.mjs',
  'dynamodb-process': 'services/dynamodb/dynamodb-process.ts',
};

/** Builds `dist/`; answers the packages the bundle imports (each must be a dependency or a peer). */
export async function buildLocalPackage(): Promise<string[]> {
  await rm(LOCAL_DIST, { recursive: true, force: true });
  const result = await build({
    entryPoints: Object.fromEntries(
      Object.entries(ENTRIES).map(([name, file]) => [name, path.join(LOCAL, file)]),
    ),
    outdir: LOCAL_DIST,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunk-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  const packages = new Set<string>();
  for (const output of Object.values(result.metafile.outputs))
    for (const { path: imported, external } of output.imports)
      if (external && !imported.startsWith('node:') && !imported.startsWith('.'))
        packages.add(/^(@[^/]+\/[^/]+|[^/]+)/.exec(imported)?.[1] ?? imported);
  return [...packages].sort();
}

if (process.argv[1] === import.meta.filename) console.log((await buildLocalPackage()).join('\n'));
