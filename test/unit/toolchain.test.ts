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
