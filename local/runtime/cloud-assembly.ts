/**
 * A user's CDK app, for `start --app DIR` and `run --app DIR`: DIR is an app folder (its
 * `cdk.json` app command is run as `cdk synth` runs it, into a temporary cloud assembly)
 * or a cloud assembly (`cdk.out`). The stack to run is the one holding a VideoGenIngest,
 * or the one `--stack` names. What the runtime does not model is named, never skipped.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HANDLER_METADATA_KEY } from '../../lib/handlers.ts';
import { UsageError } from '../../cli/args.ts';
import type { FunctionNotRun } from '../services/lambda/lambdas.ts';

type TemplateJson = {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
};

export interface AppStack {
  /** The cloud assembly the template and its assets are in. */
  readonly assemblyDir: string;
  readonly stackName: string;
  readonly template: TemplateJson;
  /** Removes the assembly when this synthesized it. */
  dispose(): Promise<void>;
}

/** What `cdk synth` puts in an app's context besides cdk.json's: the metadata the runtime reads assets by. */
const CLI_CONTEXT = {
  'aws:cdk:enable-path-metadata': true,
  'aws:cdk:enable-asset-metadata': true,
  'aws:cdk:version-reporting': false,
};

interface Manifest {
  artifacts?: Record<
    string,
    { type: string; displayName?: string; properties?: { templateFile?: string; directoryName?: string } }
  >;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  return readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as T,
    () => undefined,
  );
}

/** Runs the app's command from its cdk.json into a temporary folder, as `cdk synth` does. */
async function synthesizeApp(dir: string, log: (line: string) => void): Promise<string> {
  const config = await readJson<{ app?: string; context?: Record<string, unknown> }>(
    path.join(dir, 'cdk.json'),
  );
  if (!config?.app)
    throw new UsageError(`${path.join(dir, 'cdk.json')} names no "app" command to synthesize`);
  const saved = (await readJson<Record<string, unknown>>(path.join(dir, 'cdk.context.json'))) ?? {};
  const outdir = await mkdtemp(path.join(tmpdir(), 'videogen-app-'));
  log(`synthesizing ${dir} (${config.app})…`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(config.app as string, {
      cwd: dir,
      shell: true,
      // The app's output is the app's log: stderr, as the rest of the runtime's lines.
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ ...CLI_CONTEXT, ...config.context, ...saved }),
      },
    });
    child.stdout.pipe(process.stderr);
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) {
    await rm(outdir, { recursive: true, force: true });
    throw new UsageError(`synthesizing ${dir} failed: "${config.app}" exited with ${code}`);
  }
  return outdir;
}

/** Every stack of an assembly, those of its stages (nested assemblies, whose assets are theirs) included. */
async function stacksIn(
  dir: string,
): Promise<{ name: string; id: string; dir: string; template: TemplateJson }[]> {
  const manifest = (await readJson<Manifest>(path.join(dir, 'manifest.json'))) ?? {};
  const stacks: { name: string; id: string; dir: string; template: TemplateJson }[] = [];
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      stacks.push(...(await stacksIn(path.join(dir, artifact.properties.directoryName))));
    }
    if (artifact.type !== 'aws:cloudformation:stack' || !artifact.properties?.templateFile) continue;
    const template = await readJson<TemplateJson>(path.join(dir, artifact.properties.templateFile));
    if (template) stacks.push({ name: artifact.displayName ?? id, id, dir, template });
  }
  return stacks;
}

/** The app's stack that holds a VideoGenIngest (or the one `stackName` names), from its cloud assembly. */
export async function loadApp(
  dir: string,
  options: { stackName?: string; log?: (line: string) => void } = {},
): Promise<AppStack> {
  const log = options.log ?? (() => undefined);
  const folder = path.resolve(dir);
  let assemblyDir: string;
  let synthesized = false;
  if (existsSync(path.join(folder, 'manifest.json'))) assemblyDir = folder;
  else if (existsSync(path.join(folder, 'cdk.json'))) {
    assemblyDir = await synthesizeApp(folder, log);
    synthesized = true;
  } else {
    throw new UsageError(
      `--app takes a CDK app folder (with a cdk.json) or a cloud assembly (cdk.out); ${folder} is neither`,
    );
  }
  const dispose = () => (synthesized ? rm(assemblyDir, { recursive: true, force: true }) : Promise.resolve());
  try {
    const stacks = await stacksIn(assemblyDir);
    const holdsIngest = (template: TemplateJson) =>
      Object.values(template.Resources).some((resource) => resource.Metadata?.[HANDLER_METADATA_KEY]);
    const names = stacks.map((stack) => stack.name).join(', ') || 'none';
    const candidates = options.stackName
      ? stacks.filter((stack) => stack.name === options.stackName || stack.id === options.stackName)
      : stacks.filter((stack) => holdsIngest(stack.template));
    if (options.stackName && candidates.length === 0) {
      throw new UsageError(`--stack ${options.stackName}: no such stack in ${dir} (its stacks: ${names})`);
    }
    if (candidates.length === 0)
      throw new UsageError(`no stack of ${dir} holds a VideoGenIngest (its stacks: ${names})`);
    if (candidates.length > 1) {
      throw new UsageError(
        `several stacks of ${dir} hold a VideoGenIngest (${candidates.map((stack) => stack.name).join(', ')}): pass --stack NAME`,
      );
    }
    const [chosen] = candidates as [(typeof candidates)[0]];
    if (!holdsIngest(chosen.template)) throw new UsageError(`stack ${chosen.name} holds no VideoGenIngest`);
    return { assemblyDir: chosen.dir, stackName: chosen.name, template: chosen.template, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * Resource types the runtime serves (or that change nothing locally: logs, alarms, the
 * deploy-time custom resources whose work it does itself): those of the stack a
 * VideoGenIngest makes, and a subscriber's mapping and destination.
 */
const MODELLED = new Set([
  'AWS::CDK::Metadata',
  'AWS::S3::Bucket',
  'AWS::S3::BucketPolicy',
  'Custom::S3AutoDeleteObjects',
  'Custom::S3BucketNotifications',
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::DynamoDB::GlobalTable',
  'AWS::SQS::Queue',
  'AWS::SQS::QueuePolicy',
  'AWS::Events::Rule',
  'AWS::Logs::LogGroup',
  'AWS::Lambda::Function',
  'AWS::Lambda::EventSourceMapping',
  'AWS::Lambda::Permission',
  'AWS::StepFunctions::StateMachine',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Stage',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Route',
  'AWS::SecretsManager::Secret',
  'Custom::VideoGenWebhookEndpoint',
  'AWS::SNS::Topic',
  'AWS::SNS::TopicPolicy',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::Dashboard',
]);

/** Lines naming what of the app the runtime does not run: functions (with why) and resource types no emulator serves. */
export function outsideTheModel(template: TemplateJson, notRun: readonly FunctionNotRun[]): string[] {
  const counts = new Map<string, number>();
  for (const resource of Object.values(template.Resources)) {
    if (!MODELLED.has(resource.Type)) counts.set(resource.Type, (counts.get(resource.Type) ?? 0) + 1);
  }
  const deployTime = notRun.filter((fn) => fn.reason.startsWith('nothing runs it locally'));
  return [
    ...notRun
      .filter((fn) => !deployTime.includes(fn))
      .map((fn) => `not run locally: function ${fn.label}: ${fn.reason}`),
    ...(deployTime.length > 0
      ? [
          `not run locally: ${deployTime.map((fn) => fn.label).join(', ')} (no event source, workflow or endpoint invokes them here: deploy-time custom resources, or invoked from outside)`,
        ]
      : []),
    ...[...counts].map(
      ([type, count]) =>
        `not emulated: ${type}${count > 1 ? ` ×${count}` : ''} (no local emulator serves it; calls to it fail)`,
    ),
  ];
}
