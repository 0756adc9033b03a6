import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadApp, outsideTheModel } from '#local/runtime/cloud-assembly';

const folders: string[] = [];
afterEach(async () => {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

const INGEST = {
  Resources: {
    Prepare: { Type: 'AWS::Lambda::Function', Metadata: { 'VideoGenIngest:Handler': 'prepare' } },
  },
};
const PLAIN = { Resources: { Bucket: { Type: 'AWS::S3::Bucket' } } };

/** A cloud assembly as `cdk synth` writes one: a manifest naming each stack's template (and stages' assemblies). */
async function assembly(stacks: Record<string, object>, stages: Record<string, Record<string, object>> = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'videogen-assembly-'));
  folders.push(dir);
  const write = async (folder: string, own: Record<string, object>, nested: Record<string, string> = {}) => {
    await mkdir(folder, { recursive: true });
    const artifacts: Record<string, unknown> = {};
    for (const [name, template] of Object.entries(own)) {
      await writeFile(path.join(folder, `${name}.template.json`), JSON.stringify(template));
      artifacts[name] = {
        type: 'aws:cloudformation:stack',
        displayName: name,
        properties: { templateFile: `${name}.template.json` },
      };
    }
    for (const [name, directoryName] of Object.entries(nested)) {
      artifacts[`assembly-${name}`] = { type: 'cdk:cloud-assembly', properties: { directoryName } };
    }
    await writeFile(path.join(folder, 'manifest.json'), JSON.stringify({ version: '48.0.0', artifacts }));
  };
  for (const [stage, own] of Object.entries(stages)) await write(path.join(dir, `assembly-${stage}`), own);
  await write(
    dir,
    stacks,
    Object.fromEntries(Object.keys(stages).map((stage) => [stage, `assembly-${stage}`])),
  );
  return dir;
}

describe('loading an app for --app', () => {
  it('picks the stack that holds a VideoGenIngest, in a stage too (its assets are its assembly’s)', async () => {
    const top = await assembly({ Network: PLAIN, Media: INGEST });
    expect((await loadApp(top)).stackName).toBe('Media');
    const staged = await assembly({ Network: PLAIN }, { Prod: { 'Prod-Media': INGEST } });
    const loaded = await loadApp(staged);
    expect(loaded.stackName).toBe('Prod-Media');
    expect(loaded.assemblyDir).toBe(path.join(staged, 'assembly-Prod'));
  });

  it('asks for --stack when several stacks hold one, and names the stacks when none or no such one does', async () => {
    const several = await assembly({ A: INGEST, B: INGEST });
    await expect(loadApp(several)).rejects.toThrow('several stacks of');
    expect((await loadApp(several, { stackName: 'B' })).stackName).toBe('B');
    await expect(loadApp(several, { stackName: 'C' })).rejects.toThrow('--stack C: no such stack in');
    await expect(loadApp(await assembly({ Network: PLAIN }))).rejects.toThrow(
      /no stack of .* holds a VideoGenIngest \(its stacks: Network\)/,
    );
    const neither = await mkdtemp(path.join(tmpdir(), 'videogen-neither-'));
    folders.push(neither);
    await expect(loadApp(neither)).rejects.toThrow('is neither');
  });

  it('names what it does not run and the resource types no emulator serves', () => {
    const lines = outsideTheModel(
      {
        Resources: {
          ...INGEST.Resources,
          Catalog: { Type: 'AWS::DynamoDB::Table' },
          T2: { Type: 'AWS::DynamoDB::Table' },
        },
      },
      [
        { label: 'PythonAuditor', reason: 'python3.12: only Node.js functions run locally' },
        {
          label: 'framework-onEvent',
          reason: 'nothing runs it locally (a deploy-time custom resource, or invoked from outside)',
        },
      ],
    );
    expect(lines).toEqual([
      'not run locally: function PythonAuditor: python3.12: only Node.js functions run locally',
      expect.stringMatching(/^not run locally: framework-onEvent \(no event source/),
      'not emulated: AWS::DynamoDB::Table ×2 (no local emulator serves it; calls to it fail)',
    ]);
  });
});
