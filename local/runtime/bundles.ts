/**
 * The functions' bundles exactly as `cdk deploy` uploads them: the stack synthesized with
 * bundling (NodejsFunction's esbuild, the Lambda-only credential chain, the ESM banner),
 * kept under a hash of everything that goes into them, so a restart does not bundle again.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HANDLER_METADATA_KEY, PROJECT_ROOT, type HandlerName } from '../../lib/handlers.ts';
import { BUILD_CACHE, inputsHash, markUsed, pruneUnused, sourcesUnder } from '../build-cache.ts';
import type { FunctionCode, LocalFunction } from '../services/lambda/lambdas.ts';

/** Each handler's `index.mjs`, by handler name. */
export type Bundles = Readonly<Record<HandlerName, string>>;

const CACHE = path.join(BUILD_CACHE, 'bundles');

/** What a bundle is made of: the handlers' code and how they are bundled (and the locked dependencies). */
async function bundleInputsHash(): Promise<string> {
  const bundling = ['ingest-function.ts', 'handler-code.ts', 'handlers.ts'].map((file) =>
    path.join(PROJECT_ROOT, 'lib', file),
  );
  return inputsHash([...(await sourcesUnder('lambdas')), ...bundling]);
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
  const cached = path.join(CACHE, await bundleInputsHash());
  const manifest = path.join(cached, 'handlers.json');
  if (existsSync(manifest)) {
    await markUsed(cached);
    return bundlesIn(cached, JSON.parse(await readFile(manifest, 'utf8')) as HandlerName[]);
  }

  log('bundling the functions as cdk deploy does (once per code change)…');
  const outdir = await mkdtemp(path.join(tmpdir(), 'videogen-bundle-'));
  try {
    // Loaded only to bundle: aws-cdk-lib takes seconds to load, a cached start needs none of it.
    const { LOCAL_STACK_PROPS, synthesizeStack } = await import('../synth.ts');
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
    await pruneUnused(CACHE, cached);
    return bundlesIn(cached, handlers);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

/**
 * Where each function's code is: the app's own assets (`--app`: as `cdk synth` built them,
 * the package's handlers included), or this repository's deployed bundles.
 */
export async function functionCode(
  options: { app?: { assemblyDir: string } },
  log: (line: string) => void,
): Promise<(fn: LocalFunction) => FunctionCode & { compileCache?: string }> {
  if (options.app) {
    const compileCache = path.join(BUILD_CACHE, 'app-compile-cache');
    return (fn) => {
      if (!fn.code) throw new Error(`no code for ${fn.label} in the app's cloud assembly`);
      return { ...fn.code, compileCache };
    };
  }
  const bundles = await deployedBundles(log);
  return (fn) => {
    if (!fn.handlerName)
      throw new Error(`${fn.label} is not a handler of this package: run its app with --app`);
    return { bundle: bundles[fn.handlerName], exportName: 'handler' };
  };
}
