/**
 * The two packages as a CDK user gets them: `npm pack` of both, a fresh `cdk init app
 * --language typescript`, the construct installed and synthesized (its handlers prebuilt:
 * no bundler runs), then the local runtime added as a devDependency and the app run on
 * this laptop with `npx videogen-ingest-local run --app . FILE`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_LAMBDA_ENV } from '../fixtures/lambda-env.ts';
import { png } from '#local/media';

const PROJECT = path.resolve(import.meta.dirname, '../..');
const work = mkdtempSync(path.join(tmpdir(), 'videogen-package-'));
const app = path.join(work, 'app');
/** What the construct must not bring into an app: the local runtime's tools and their native code. */
const LOCAL_ONLY = [
  's3rver',
  'dynalite',
  'classic-level',
  'aws-local-stepfunctions',
  'chokidar',
  'tsx',
  'esbuild',
  '@cloud-copilot/iam-simulate',
  'videogen-ingest-local',
];
const MAX_ADDED_MB = 30;

/**
 * The user's shell: no AWS account, no profile, not this project's npm settings, and the
 * machine's own Node on PATH, not the Node 22 that npm put first for this project's scripts.
 */
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(AWS_|CDK_|npm_)/.test(name))),
  PATH: (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !dir.includes(`${path.sep}node_modules${path.sep}`))
    .join(path.delimiter),
};
const run = (command: string, args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}) =>
  execFileSync(command, args, {
    cwd,
    env: { ...env, ...extra },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
const megabytes = (dir: string) => Number(run('du', ['-sm', dir], work).split('\t')[0]);

type Template = {
  Resources: Record<
    string,
    { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
};
type NpmTree = { dependencies?: Record<string, NpmTree> };

let tarballs: { construct: string; local: string };
let addedMb: number;
let template: Template;

/** Every package under `name` in the app's tree, its dependencies' dependencies included. */
function packagesUnder(name: string): Set<string> {
  const tree = JSON.parse(run('npm', ['ls', '--all', '--json'], app)) as NpmTree;
  const found = new Set<string>();
  const walk = (node: NpmTree) => {
    for (const [child, sub] of Object.entries(node.dependencies ?? {})) {
      if (found.has(child)) continue;
      found.add(child);
      walk(sub);
    }
  };
  walk(tree.dependencies?.[name] ?? {});
  return found;
}

beforeAll(() => {
  // Both workspaces, each built by its own prepack: the construct's handlers and command
  // bundled, the local runtime bundled.
  run('npm', ['pack', '--workspaces', '--include-workspace-root', '--pack-destination', work], PROJECT);
  const packed = readdirSync(work).filter((file) => file.endsWith('.tgz'));
  const named = (prefix: RegExp) => path.join(work, packed.find((file) => prefix.test(file)) ?? '');
  tarballs = { construct: named(/^videogen-ingest-\d/), local: named(/^videogen-ingest-local-\d/) };
  mkdirSync(app);
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
      keySuffixes: ['.mp4', '.png'],
    });
    new cdk.CfnOutput(this, 'DropBucket', { value: ingest.bucket.bucketName });
  }
}
`,
  );
  run('npm', ['install', '--no-audit', '--no-fund'], app);
  const before = megabytes(path.join(app, 'node_modules'));
  run('npm', ['install', '--no-audit', '--no-fund', tarballs.construct], app);
  addedMb = megabytes(path.join(app, 'node_modules')) - before;
  console.error(`the construct added ${addedMb} MB to the app's node_modules`);
  run('npx', ['cdk', 'synth', '--quiet', '--no-notices'], app);
  template = JSON.parse(readFileSync(path.join(app, 'cdk.out/AppStack.template.json'), 'utf8')) as Template;
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed construct in a fresh `cdk init` app', () => {
  const installed = () => path.join(app, 'node_modules/videogen-ingest');

  it('installs as JavaScript with declarations and prebuilt handlers, no sources', () => {
    expect(existsSync(path.join(installed(), 'dist/lib/index.js'))).toBe(true);
    expect(existsSync(path.join(installed(), 'dist/lib/index.d.ts'))).toBe(true);
    expect(readdirSync(path.join(installed(), 'dist/handlers'))).toContain('transfer');
    expect(existsSync(path.join(installed(), 'lambdas'))).toBe(false);
    expect(existsSync(path.join(installed(), 'local'))).toBe(false);
    // aws-cdk-lib and constructs are peers: one copy, the app's, so its constructs are ours.
    expect(existsSync(path.join(installed(), 'node_modules/aws-cdk-lib'))).toBe(false);
    expect(existsSync(path.join(installed(), 'node_modules/constructs'))).toBe(false);
  });

  it('brings none of the local runtime, runs nothing on install, and adds at most 30 MB', () => {
    const tree = packagesUnder('videogen-ingest');
    expect(LOCAL_ONLY.filter((name) => tree.has(name))).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(installed(), 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    const installScripts = ['preinstall', 'install', 'postinstall', 'prepare'];
    expect(Object.keys(manifest.scripts ?? {}).filter((name) => installScripts.includes(name))).toEqual([]);
    expect(addedMb).toBeLessThanOrEqual(MAX_ADDED_MB);
  });

  it('synthesizes the whole pipeline from the prebuilt handlers, each loading on Node 22', () => {
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
      const handler = String(fn.Metadata?.['VideoGenIngest:Handler']);
      const bundle = path.join(app, 'cdk.out', String(fn.Metadata?.['aws:asset:path']), 'index.mjs');
      // The asset is the package's own bundle, byte for byte: the synth bundled nothing.
      expect(readFileSync(bundle)).toEqual(
        readFileSync(path.join(installed(), 'dist/handlers', handler, 'index.mjs')),
      );
      // It starts on Node 22 as Lambda starts it: module init runs and exports `handler`.
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

  it('gives the app the videogen-ingest command, which finds no local runtime and says so', () => {
    expect(run('npx', ['videogen-ingest', '--help'], app)).toMatch(/^Usage: videogen-ingest <command>/);
    const status = spawnSync('npx', ['videogen-ingest', 'status'], { cwd: app, env, encoding: 'utf8' });
    expect(status.status).toBe(1);
    expect(status.stderr).toContain('no local runtime here');
    expect(status.stderr).toContain('npx videogen-ingest-local start');
  });
});

describe('the packed local runtime, a devDependency of that app', () => {
  beforeAll(() => {
    run('npm', ['install', '--no-audit', '--no-fund', '--save-dev', tarballs.local], app);
  });

  it('runs the app on this laptop: a dropped PNG ends READY, its record on stdout', () => {
    writeFileSync(path.join(app, 'cover.png'), png(16, 16));
    // Node 22 first on PATH, as a user who installed it has.
    const node22 = { PATH: `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}` };
    const result = spawnSync('npx', ['videogen-ingest-local', 'run', '--app', '.', 'cover.png'], {
      cwd: app,
      env: { ...env, ...node22 },
      encoding: 'utf8',
    });
    expect(result.stderr).toContain(`synthesizing ${app}`);
    expect(result.stdout).toMatch(/^cover\.png: READY \(vg_file_\w+\)$/m);
    expect(result.status).toBe(0);
  });

  it("on the machine's older Node, says which Node it needs and how to get it", () => {
    // These machines have Node 20; the project's Node 22 comes from its devDependency.
    expect(spawnSync('node', ['--version'], { env, encoding: 'utf8' }).stdout).toMatch(/^v20\./);
    const result = spawnSync('npx', ['videogen-ingest-local', '--help'], { cwd: app, env, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('needs Node 22.12 or newer');
    expect(result.stderr).not.toContain('checkout of videogen-ingest');
  });
});
