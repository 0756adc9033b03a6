/**
 * The functions' bundles exactly as `cdk deploy` uploads them: the stack synthesized with
 * bundling (NodejsFunction's esbuild, the Lambda-only credential chain, the ESM banner),
 * kept under a hash of everything that goes into them, so a restart does not bundle again.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HANDLER_METADATA_KEY, PROJECT_ROOT, type HandlerName } from '../../lib/ingest-function.ts';
import { LOCAL_STACK_PROPS, synthesizeStack } from '../synth.ts';

/** Each handler's `index.mjs`, by handler name. */
export type Bundles = Readonly<Record<HandlerName, string>>;

const CACHE = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'videogen-ingest', 'bundles');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && !entry.name.endsWith('.test.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
}

/** What a bundle is made of: the handlers' code, how they are bundled, and the locked dependencies. */
async function contentHash(): Promise<string> {
  const hash = createHash('sha256');
  const inputs = [
    ...(await filesUnder(path.join(PROJECT_ROOT, 'lambdas'))),
    path.join(PROJECT_ROOT, 'lib', 'ingest-function.ts'),
    ...['package-lock.json', 'package.json'].map((file) => path.join(PROJECT_ROOT, file)).filter(existsSync),
  ];
  for (const file of inputs)
    hash
      .update(path.relative(PROJECT_ROOT, file))
      .update('\0')
      .update(await readFile(file));
  return hash.digest('hex').slice(0, 24);
}

function bundlesIn(dir: string, handlers: readonly HandlerName[]): Bundles {
  return Object.fromEntries(
    handlers.map((handler) => [handler, path.join(dir, handler, 'index.mjs')]),
  ) as Bundles;
}

/**
 * The deployed bundles, from the cache when the code is unchanged; otherwise bundled by a
 * synth into a temporary folder and moved into the cache in one rename, so runtimes that
 * start together never see half a cache.
 */
export async function deployedBundles(log: (line: string) => void = () => undefined): Promise<Bundles> {
  const cached = path.join(CACHE, await contentHash());
  const manifest = path.join(cached, 'handlers.json');
  if (existsSync(manifest))
    return bundlesIn(cached, JSON.parse(await readFile(manifest, 'utf8')) as HandlerName[]);

  log('bundling the functions as cdk deploy does (once per code change)…');
  const outdir = await mkdtemp(path.join(tmpdir(), 'videogen-bundle-'));
  try {
    const { template } = synthesizeStack(LOCAL_STACK_PROPS, { bundleInto: outdir });
    await mkdir(CACHE, { recursive: true });
    const staging = await mkdtemp(path.join(CACHE, 'staging-'));
    const handlers: HandlerName[] = [];
    for (const resource of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const metadata = (resource as { Metadata?: Record<string, unknown> }).Metadata ?? {};
      const handler = metadata[HANDLER_METADATA_KEY] as HandlerName | undefined;
      const asset = metadata['aws:asset:path'];
      if (!handler || typeof asset !== 'string') continue;
      await cp(path.join(outdir, asset), path.join(staging, handler), { recursive: true });
      handlers.push(handler);
    }
    await writeFile(path.join(staging, 'handlers.json'), JSON.stringify(handlers));
    await rename(staging, cached).catch(async (error: unknown) => {
      // Another runtime cached the same code first: use its copy.
      await rm(staging, { recursive: true, force: true });
      if (!existsSync(manifest)) throw error;
    });
    return bundlesIn(cached, handlers);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}
