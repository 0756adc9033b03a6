/**
 * Whether the local runtime runs from a checkout of the videogen-ingest repository. There
 * the construct's sources are beside it, and `start` or `run` without `--app` run the
 * repository's own stack, bundled from those sources. The packed `videogen-ingest-local`
 * ships no construct sources: there they run the CDK app of the current folder, as
 * `cdk synth` would.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const IN_REPOSITORY = existsSync(
  fileURLToPath(new URL('../lib/videogen-ingest-stack.ts', import.meta.url)),
);
