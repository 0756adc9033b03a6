#!/usr/bin/env node
// The `videogen-ingest` command. The packed package runs its compiled JavaScript; a checkout
// of this repository has the TypeScript sources here and runs them through tsx (a
// devDependency), so it needs no build step.
/* global URL */
import { existsSync } from 'node:fs';

const source = new URL('./main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/ops/videogen-ingest.mjs', import.meta.url).href);
}
