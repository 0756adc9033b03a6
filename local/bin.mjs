#!/usr/bin/env node
// The `videogen-ingest` command: the TypeScript CLI run through tsx, no build step.
//
// The Node it needs is checked here, where it runs, not through package.json `engines`:
// npm compares `engines` with the Node npm itself runs on, which in a checkout of this
// project is not the Node that runs the CLI (npx and npm scripts put the pinned Node 22 of
// the `node` devDependency first on PATH). So `engines` warned about a Node that never ran
// this code, while this check speaks about the one that does.
/* global process, console */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `videogen-ingest needs Node 22.12 or newer; this is Node ${process.versions.node}. ` +
      'In a checkout of videogen-ingest, run it through npm or npx (they use the Node 22 that npm ci installed).',
  );
  process.exit(2);
}
const { register } = await import('tsx/esm/api');
register();
await import('./cli.ts');
