/**
 * What a second deploy meets: after `cdk destroy`, or after a first deploy that rolled back,
 * retained resources are still there, so none may have a name fixed by the template alone;
 * and a first create that rolls back cleans up after itself.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { beforeAll, describe, expect, it } from 'vitest';
import { VideoGenIngest } from '../../lib/videogen-ingest.ts';
import { synthesizeStack } from '#local/synth';
import { testApp } from '../helpers/cdk-app.ts';

/** Properties that name a resource physically (two stacks' resources must not share one). */
const PHYSICAL_NAME =
  /^(BucketName|TableName|LogGroupName|QueueName|TopicName|FunctionName|RoleName|StateMachineName|DashboardName|AlarmName|AliasName|SecretName|Name)$/;
const KEPT = ['Retain', 'RetainExceptOnCreate', 'Snapshot'];

interface Resource {
  Type: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Properties?: Record<string, unknown>;
}

/** Retained resources whose physical name is the same for every stack created under this name. */
function fixedNamesOfKeptResources(template: Template): string[] {
  const problems: string[] = [];
  for (const [logicalId, resource] of Object.entries(
    template.toJSON().Resources as Record<string, Resource>,
  )) {
    if (!KEPT.includes(resource.DeletionPolicy ?? 'Delete')) continue;
    for (const [property, value] of Object.entries(resource.Properties ?? {})) {
      if (!PHYSICAL_NAME.test(property)) continue;
      // A name made from the stack's id is new with each stack; anything else is fixed.
      if (!JSON.stringify(value).includes('AWS::StackId'))
        problems.push(`${logicalId} (${resource.Type}) ${property}: ${JSON.stringify(value)}`);
    }
  }
  return problems;
}

let template: Template;
beforeAll(() => {
  template = synthesizeStack().template;
});

describe('a redeploy', () => {
  it('meets no retained resource of an earlier stack by name: no kept resource has a fixed physical name', () => {
    expect(fixedNamesOfKeptResources(template)).toEqual([]);
    // The workflow's log group keeps its /aws/vendedlogs/ prefix, with the stack's id in its name.
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: {
        'Fn::Join': [
          '',
          Match.arrayWith([
            Match.stringLikeRegexp('^/aws/vendedlogs/states/VideoGenIngest-Workflow-[0-9A-F]{8}-$'),
          ]),
        ],
      },
    });
  });

  it('the check finds a fixed name on a kept resource', () => {
    const stack = new Stack(testApp(), 'Named');
    new Secret(stack, 'Named', { secretName: 'fixed' }).applyRemovalPolicy(RemovalPolicy.RETAIN);
    expect(fixedNamesOfKeptResources(Template.fromStack(stack))).toEqual([
      expect.stringContaining('Name: "fixed"'),
    ]);
  });

  it('keeps data on deletion, but a first create that rolls back leaves nothing behind', () => {
    const kept = Object.values(template.toJSON().Resources as Record<string, Resource>).filter((resource) =>
      KEPT.includes(resource.DeletionPolicy ?? 'Delete'),
    );
    expect(kept.map((resource) => resource.Type)).toEqual(
      expect.arrayContaining(['AWS::DynamoDB::GlobalTable', 'AWS::S3::Bucket', 'AWS::Logs::LogGroup']),
    );
    for (const resource of kept) {
      expect(resource).toMatchObject({
        DeletionPolicy: 'RetainExceptOnCreate',
        UpdateReplacePolicy: 'Retain',
      });
    }
  });

  it('deletes everything with removalPolicy DESTROY', () => {
    const stack = new Stack(testApp(), 'Destroy');
    new VideoGenIngest(stack, 'Ingest', {
      apiKeySecret: Secret.fromSecretNameV2(stack, 'Key', 'k'),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const resources = Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, Resource>);
    expect(resources.filter((resource) => KEPT.includes(resource.DeletionPolicy ?? 'Delete'))).toEqual([]);
  });
});
