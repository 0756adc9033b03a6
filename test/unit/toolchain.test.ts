import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

describe('toolchain', () => {
  it('runs the tests on the Node 22 that the project pins, whatever the machine has', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const pinnedMajor = /\d+/.exec(pkg.devDependencies.node ?? '')?.[0];

    expect(pinnedMajor).toBe('22');
    expect(process.versions.node.split('.')[0]).toBe(pinnedMajor);
  });
});

describe('the unit tier', () => {
  it('opens no socket: a test that listens or connects fails, naming where it belongs', () => {
    expect(() => net.createServer().listen(0)).toThrow('tests that open sockets belong in test/e2e/');
    expect(() => net.connect(1, '127.0.0.1')).toThrow('tests that open sockets belong in test/e2e/');
  });
});

describe('cdk.json', () => {
  it('sets every feature flag the installed CDK recommends, as cdk init does: cdk synth warns of none', () => {
    const recommended = JSON.parse(
      readFileSync('node_modules/aws-cdk-lib/recommended-feature-flags.json', 'utf8'),
    ) as Record<string, unknown>;
    const { context } = JSON.parse(readFileSync('cdk.json', 'utf8')) as { context: Record<string, unknown> };
    const unset = Object.keys(recommended).filter((flag) => !(flag in context));
    // After a CDK upgrade: add the new flags (cdk flags --set --unconfigured --recommended) and
    // read what each changes in the template before committing.
    expect(unset).toEqual([]);
    const differing = Object.entries(recommended).filter(
      ([flag, value]) => JSON.stringify(context[flag]) !== JSON.stringify(value),
    );
    expect(differing).toEqual([]);
  });
});

describe('tsconfig.json', () => {
  it("resolves the package's own name to the sources its `source` export names, for esbuild as for Node", () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      name: string;
      exports: Record<string, string | { source?: string }>;
    };
    const { config } = ts.readConfigFile('tsconfig.json', (file) => ts.sys.readFile(file)) as {
      config: { compilerOptions: { paths: Record<string, string[]> } };
    };
    const sourceExports = Object.fromEntries(
      Object.entries(pkg.exports).flatMap(([subpath, target]) =>
        typeof target === 'object' && target.source
          ? [[path.posix.join(pkg.name, subpath), [target.source]]]
          : [],
      ),
    );
    // Without it, `run --app examples/media-app` in a fresh clone fails: esbuild bundles the
    // subscribers against dist/, which only `npm pack` builds.
    expect(config.compilerOptions.paths).toEqual(sourceExports);
  });
});
