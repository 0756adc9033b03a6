#!/usr/bin/env node
// The `videogen-ingest` command: the TypeScript CLI run through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
