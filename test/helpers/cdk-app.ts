import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, type AppProps } from 'aws-cdk-lib';
import { afterAll } from 'vitest';
import { cdkJsonContext } from '#local/synth';

const outdirs: string[] = [];
afterAll(() => {
  for (const outdir of outdirs.splice(0)) rmSync(outdir, { recursive: true, force: true });
});

/**
 * A CDK app whose synth output goes to a temp folder removed after the test file (an App
 * without an outdir leaves a cdk.out folder in the temp dir on every synth), with cdk.json's
 * feature flags. No bundling.
 */
export function testApp(props: AppProps = {}): App {
  const outdir = mkdtempSync(path.join(tmpdir(), 'videogen-test-cdk-'));
  outdirs.push(outdir);
  return new App({
    ...props,
    outdir,
    // The feature flags cdk synth applies, so the templates tested are the ones deployed.
    context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [], ...props.context },
  });
}
