import { readFileSync } from 'node:fs';
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
