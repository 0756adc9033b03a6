/**
 * Cold start: each Lambda bundle's size (as esbuild wrote it, AWS SDK clients inside)
 * and its module init time on Node 22 (import of the bundle in a fresh process, median of 5).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { VideoGenIngestStack } from '../lib/videogen-ingest-stack.ts';
import { SAMPLE_LAMBDA_ENV } from '../test/fixtures/lambda-env.ts';
import { median, round } from './stats.ts';

export interface BundleFigures {
  readonly handler: string;
  readonly bytes: number;
  readonly initMs: number;
  /** The biggest packages in the bundle, in KB. */
  readonly largest: Record<string, number>;
}

function initTimeMs(bundle: string): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(bundle)}); console.log(performance.now() - t);`;
  const runs = Array.from({ length: 5 }, () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...SAMPLE_LAMBDA_ENV, PATH: process.env.PATH },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`${bundle} failed to load: ${child.stderr}`);
    return Number(child.stdout.trim());
  });
  return round(median(runs), 1);
}

export function measureColdStart(): BundleFigures[] {
  const outdir = mkdtempSync(path.join(tmpdir(), 'bench-cdk-'));
  try {
    const app = new App({ outdir });
    new VideoGenIngestStack(app, 'Bench', { apiKeySecretName: 'videogen/api-key' });
    app.synth();
    const figures: BundleFigures[] = [];
    for (const asset of readdirSync(outdir)) {
      const metaFile = path.join(outdir, asset, 'index.meta.json');
      if (!existsSync(metaFile)) continue;
      const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as {
        outputs: Record<string, { entryPoint?: string; inputs: Record<string, { bytesInOutput: number }> }>;
      };
      const output = Object.values(meta.outputs).find((candidate) => candidate.entryPoint);
      if (!output?.entryPoint) continue;
      const byPackage: Record<string, number> = {};
      for (const [file, input] of Object.entries(output.inputs)) {
        const name = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? 'project';
        byPackage[name] = (byPackage[name] ?? 0) + input.bytesInOutput;
      }
      const bundle = path.join(outdir, asset, 'index.mjs');
      figures.push({
        handler: /lambdas\/([^/]+)\//.exec(output.entryPoint)?.[1] ?? output.entryPoint,
        bytes: statSync(bundle).size,
        initMs: initTimeMs(bundle),
        largest: Object.fromEntries(
          Object.entries(byPackage)
            .sort((a, b) => b[1] - a[1])
            .slice(0, 5)
            .map(([name, bytes]) => [name, Math.round(bytes / 1000)]),
        ),
      });
    }
    return figures.sort((a, b) => a.handler.localeCompare(b.handler));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
