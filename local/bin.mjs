#!/usr/bin/env node
// The `videogen-ingest-local` command. The packed package runs its bundle (`dist/`, built by
// `build.ts` when packed); a checkout of the repository runs the TypeScript sources through
// tsx (a devDependency there), so it needs no build step.
//
// The Node it needs is checked here, where it runs, not through package.json `engines`:
// npm compares `engines` with the Node npm itself runs on, which in a checkout of this
// project is not the Node that runs the CLI (npx and npm scripts put the pinned Node 22 of
// the `node` devDependency first on PATH). So `engines` warned about a Node that never ran
// this code, while this check speaks about the one that does.
/* global process, console, URL */
import { existsSync } from 'node:fs';

const source = new URL('./cli.ts', import.meta.url);
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(
    `videogen-ingest-local needs Node 22.12 or newer; this is Node ${process.versions.node}.` +
      (existsSync(source)
        ? ' In a checkout of videogen-ingest, run it through npm or npx (they use the Node 22 that npm ci installed).'
        : ' Install Node 22 (nvm install 22, or your package manager) and run it again.'),
  );
  process.exit(2);
}
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('./dist/cli.mjs', import.meta.url).href);
}
