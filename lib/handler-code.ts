/**
 * Where a function's code comes from. The packed package ships every handler prebuilt
 * (`dist/handlers/<name>/index.mjs`, bundled by `npm pack`), so an app's `cdk synth` runs no
 * bundler and the app installs no esbuild. In this repository's checkout the handlers'
 * sources are here, and each synth bundles them with the same options, through CDK's local
 * bundling (so `aws:cdk:bundling-stacks` skips it as it skips NodejsFunction's).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import { handlerEntry, PROJECT_ROOT, type HandlerName } from './handlers.ts';

/** The folder of a handler's prebuilt bundle in the packed package. */
export function prebuiltHandlerDir(name: HandlerName, root = PROJECT_ROOT): string {
  return path.join(root, 'dist', 'handlers', name);
}

/**
 * esbuild's options for a handler: what NodejsFunction would pass for an ESM bundle with
 * the AWS SDK clients bundled in (smaller cold starts than the runtime's copy, and pinned
 * versions), the Lambda-only credential chain in place of the SDK's default one
 * (`lambdas/shared/lambda-credentials.ts`), and an external source map.
 * Plain data, so the package needs no esbuild to load this module.
 */
export function handlerBundleOptions(name: HandlerName, outdir: string) {
  return {
    entryPoints: [handlerEntry(name)],
    outfile: path.join(outdir, 'index.mjs'),
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: 'node22',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ['module', 'main'],
    // Some dependencies still call `require`; ESM bundles need it defined.
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    alias: {
      '@aws-sdk/credential-provider-node': path.join(PROJECT_ROOT, 'lambdas/shared/lambda-credentials.ts'),
    },
    metafile: true,
    logLevel: 'warning' as const,
  };
}

interface Esbuild {
  buildSync(options: ReturnType<typeof handlerBundleOptions>): { metafile?: unknown };
}

/**
 * Bundles a handler from its sources into `outdir` (`index.mjs`, its map, and
 * `index.meta.json` for the bundle-size figures). Needs esbuild, a devDependency here:
 * required only when called, so the packed construct never loads it.
 */
export function bundleHandler(name: HandlerName, outdir: string): void {
  const esbuild = createRequire(import.meta.url)('esbuild') as Esbuild;
  const { metafile } = esbuild.buildSync(handlerBundleOptions(name, outdir));
  // esbuild returns the metafile in memory only.
  writeFileSync(path.join(outdir, 'index.meta.json'), JSON.stringify(metafile));
}

/**
 * A handler's code: bundled from its sources when they are here (this repository), else
 * the prebuilt bundle the package ships. Either way the asset is the bundle itself, so its
 * hash changes exactly when the deployed code does.
 */
export function handlerCode(name: HandlerName): Code {
  if (!existsSync(handlerEntry(name))) {
    const prebuilt = prebuiltHandlerDir(name);
    if (!existsSync(path.join(prebuilt, 'index.mjs')))
      throw new Error(
        `videogen-ingest: neither the sources nor the prebuilt bundle of the ${name} handler are in ${PROJECT_ROOT}; reinstall the package`,
      );
    return Code.fromAsset(prebuilt);
  }
  return Code.fromAsset(path.dirname(handlerEntry(name)), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling always succeeds where the sources and esbuild are.
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      local: {
        tryBundle(outputDir) {
          bundleHandler(name, outputDir);
          return true;
        },
      },
    },
  });
}
