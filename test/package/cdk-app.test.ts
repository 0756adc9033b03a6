/**
 * The construct as a CDK user gets it: `npm pack`, a fresh `cdk init app --language
 * typescript`, the tarball installed, a stack that uses `VideoGenIngest`, and `cdk synth`
 * offline with bundling from the installed package.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_LAMBDA_ENV } from '#local/lambda-env';

const PROJECT = path.resolve(import.meta.dirname, '../..');
const work = mkdtempSync(path.join(tmpdir(), 'videogen-package-'));
const app = path.join(work, 'app');
/** The user's shell: no AWS account, no profile, and npm's own Node (not this project's pin). */
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(AWS_|CDK_|npm_)/.test(name)),
);
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let template: {
  Resources: Record<
    string,
    { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
};

beforeAll(() => {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], PROJECT)) as {
    filename: string;
  }[];
  const tarball = path.join(work, packed[0]?.filename ?? '');
  execFileSync('mkdir', [app]);
  run(
    path.join(PROJECT, 'node_modules/.bin/cdk'),
    ['init', 'app', '--language', 'typescript', '--generate-only'],
    app,
  );
  writeFileSync(
    path.join(app, 'lib/app-stack.ts'),
    `import * as cdk from 'aws-cdk-lib/core';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { VideoGenIngest } from 'videogen-ingest';

export class AppStack extends cdk.Stack {
  constructor(scope: Construct, id: string, props?: cdk.StackProps) {
    super(scope, id, props);
    const ingest = new VideoGenIngest(this, 'Ingest', {
      apiKeySecret: Secret.fromSecretNameV2(this, 'ApiKey', 'videogen/api-key'),
      keySuffixes: ['.mp4'],
    });
    new cdk.CfnOutput(this, 'DropBucket', { value: ingest.bucket.bucketName });
  }
}
`,
  );
  run('npm', ['install', '--no-audit', '--no-fund', tarball], app);
  run('npx', ['cdk', 'synth', '--quiet'], app);
  template = JSON.parse(
    readFileSync(path.join(app, 'cdk.out/AppStack.template.json'), 'utf8'),
  ) as typeof template;
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed construct in a fresh `cdk init` app', () => {
  it('installs as JavaScript with declarations, not TypeScript sources', () => {
    const installed = path.join(app, 'node_modules/videogen-ingest');
    expect(existsSync(path.join(installed, 'dist/lib/index.js'))).toBe(true);
    expect(existsSync(path.join(installed, 'dist/lib/index.d.ts'))).toBe(true);
    // aws-cdk-lib and constructs are peers: one copy, the app's, so its constructs are ours.
    expect(existsSync(path.join(installed, 'node_modules/aws-cdk-lib'))).toBe(false);
    expect(existsSync(path.join(installed, 'node_modules/constructs'))).toBe(false);
    expect(readdirSync(path.join(installed, 'lambdas'))).toContain('transfer');
  });

  it('synthesizes the whole pipeline, every handler bundled from the installed package', () => {
    const functions = Object.values(template.Resources).filter(
      (resource) =>
        resource.Type === 'AWS::Lambda::Function' && resource.Metadata?.['VideoGenIngest:Handler'],
    );
    expect(functions).toHaveLength(8);
    for (const type of [
      'AWS::S3::Bucket',
      'AWS::StepFunctions::StateMachine',
      'AWS::DynamoDB::GlobalTable',
      'AWS::ApiGatewayV2::Api',
    ]) {
      expect(
        Object.values(template.Resources).some((resource) => resource.Type === type),
        type,
      ).toBe(true);
    }
    for (const fn of functions) {
      const assetPath = fn.Metadata?.['aws:asset:path'];
      expect(typeof assetPath).toBe('string');
      const bundle = path.join(app, 'cdk.out', String(assetPath), 'index.mjs');
      // The bundle starts on Node 22 as Lambda starts it: module init runs and exports `handler`.
      const loaded = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`,
        ],
        { env: { ...SAMPLE_LAMBDA_ENV, PATH: process.env.PATH }, encoding: 'utf8' },
      );
      expect(loaded.stderr).toBe('');
      expect(loaded.stdout.trim()).toBe('function');
    }
  });
});
