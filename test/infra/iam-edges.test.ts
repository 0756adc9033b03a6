/**
 * Every service-to-service edge of the deployed template, judged by the IAM evaluator the
 * local runtime uses, over the policies the template itself deploys: what AWS would allow
 * or refuse once the stack is in an account.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/cdk-app.ts';
import { VideoGenIngestStack } from '../../lib/videogen-ingest-stack.ts';
import { templateArns, type TemplateArns } from '#local/iam/arns';
import { authorize, type IamRequest } from '#local/iam/authorize';
import { policiesFromTemplate, type TemplatePolicies } from '#local/iam/policies';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '#local/cfn';
import { LOCAL_STACK_PROPS } from '#local/synth';

type Resource = { Type: string; Properties: Record<string, unknown> };
let resources: Record<string, Resource>;
let arns: TemplateArns;
let policies: TemplatePolicies;

beforeAll(() => {
  const app = testApp();
  const stack = new VideoGenIngestStack(app, 'Edges', LOCAL_STACK_PROPS);
  const consumer = new LambdaFunction(stack, 'Consumer', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('export const handler = async () => ({ batchItemFailures: [] });'),
  });
  stack.ingest.addSubscriber(consumer, { statuses: ['READY'] });
  const template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
  arns = templateArns(template);
  policies = policiesFromTemplate(template, arns);
});

const allowed = (request: IamRequest) => authorize(policies, request);
function ofType(type: string): [string, Resource][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}
function logicalIdOf(token: unknown): string {
  const value = token as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const id = value.Ref ?? value['Fn::GetAtt']?.[0];
  if (!id) throw new Error(`not a reference: ${JSON.stringify(token)}`);
  return id;
}

describe('IAM edges of the template', () => {
  it('lets every alarm publish to its topic, as CloudWatch does, and no other account’s alarm', async () => {
    const alarms = ofType('AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    for (const [alarmId, alarm] of alarms) {
      for (const action of alarm.Properties.AlarmActions as unknown[]) {
        const publish = {
          principal: 'cloudwatch.amazonaws.com',
          action: 'sns:Publish',
          resource: arns.resolve(action),
          context: { 'aws:SourceArn': arns.arnOf(alarmId), 'aws:SourceAccount': LOCAL_ACCOUNT },
        };
        expect(await allowed(publish), alarmId).toBe('Allowed');
        const foreign = {
          'aws:SourceArn': 'arn:aws:cloudwatch:us-east-1:999999999999:alarm:x',
          'aws:SourceAccount': '999999999999',
        };
        expect(await allowed({ ...publish, context: foreign }), alarmId).not.toBe('Allowed');
      }
    }
  });

  it('lets the Object Created rule send to its queue and dead-letter queue, and no other rule', async () => {
    const [[ruleId, rule]] = ofType('AWS::Events::Rule') as [[string, Resource]];
    const targets = rule.Properties.Targets as { Arn: unknown; DeadLetterConfig?: { Arn: unknown } }[];
    const queues = targets.flatMap((target) => [
      target.Arn,
      ...(target.DeadLetterConfig ? [target.DeadLetterConfig.Arn] : []),
    ]);
    expect(queues).toHaveLength(2);
    for (const queue of queues) {
      const send = {
        principal: 'events.amazonaws.com',
        action: 'sqs:SendMessage',
        resource: arns.resolve(queue),
        context: { 'aws:SourceArn': arns.arnOf(ruleId) },
      };
      expect(await allowed(send)).toBe('Allowed');
      const otherRule = { 'aws:SourceArn': 'arn:aws:events:us-east-1:000000000000:rule/other' };
      expect(await allowed({ ...send, context: otherRule })).not.toBe('Allowed');
    }
  });

  it('lets the state machine invoke every function its definition names', async () => {
    const [[machineId, machine]] = ofType('AWS::StepFunctions::StateMachine') as [[string, Resource]];
    const invoked = new Set(
      [...JSON.stringify(machine.Properties.DefinitionString).matchAll(/"Fn::GetAtt":\["(\w+)","Arn"\]/g)]
        .map((match) => match[1] ?? '')
        .filter((id) => resources[id]?.Type === 'AWS::Lambda::Function'),
    );
    expect(invoked.size).toBe(4);
    for (const functionId of invoked) {
      const invoke = {
        principal: policies.roleOf(machineId),
        action: 'lambda:InvokeFunction',
        resource: arns.arnOf(functionId),
      };
      expect(await allowed(invoke), functionId).toBe('Allowed');
    }
  });

  it('lets the state machine queue every transfer, and the transfer worker answer its token', async () => {
    const [[machineId, machine]] = ofType('AWS::StepFunctions::StateMachine') as [[string, Resource]];
    const queued = [...JSON.stringify(machine.Properties.DefinitionString).matchAll(/"Ref":"(\w+)"/g)]
      .map((match) => match[1] ?? '')
      .filter((id) => resources[id]?.Type === 'AWS::SQS::Queue');
    expect(queued).toHaveLength(1);
    for (const queueId of queued) {
      const send = {
        principal: policies.roleOf(machineId),
        action: 'sqs:SendMessage',
        resource: arns.arnOf(queueId),
      };
      expect(await allowed(send)).toBe('Allowed');
    }
    const [transferMapping] = ofType('AWS::Lambda::EventSourceMapping').filter(([, mapping]) =>
      arns.resolve(mapping.Properties.EventSourceArn).endsWith(arns.nameOf(queued[0] ?? '')),
    );
    const worker = policies.roleOf(logicalIdOf(transferMapping?.[1].Properties.FunctionName));
    for (const action of ['states:SendTaskSuccess', 'states:SendTaskFailure']) {
      expect(await allowed({ principal: worker, action, resource: arns.arnOf(machineId) }), action).toBe(
        'Allowed',
      );
    }
  });

  it('lets each event source mapping read its queue or stream and send failures to its destination', async () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(3);
    for (const [mappingId, mapping] of mappings) {
      const role = policies.roleOf(logicalIdOf(mapping.Properties.FunctionName));
      const source = arns.resolve(mapping.Properties.EventSourceArn);
      const actions = source.includes(':sqs:')
        ? ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes']
        : [
            'dynamodb:DescribeStream',
            'dynamodb:GetRecords',
            'dynamodb:GetShardIterator',
            'dynamodb:ListStreams',
          ];
      for (const action of actions) {
        const resource = action === 'dynamodb:ListStreams' ? '*' : source; // an action on no resource
        expect(await allowed({ principal: role, action, resource }), `${mappingId} ${action}`).toBe(
          'Allowed',
        );
      }
    }
    const onFailure = mappings.flatMap(([mappingId, mapping]) => {
      const destination = (
        mapping.Properties.DestinationConfig as { OnFailure?: { Destination: unknown } } | undefined
      )?.OnFailure?.Destination;
      return destination === undefined
        ? []
        : [{ mappingId, mapping, destination: arns.resolve(destination) }];
    });
    // The stream subscriber's failures go to its on-failure queue; the queues' mappings have none.
    expect(onFailure.map(({ mappingId }) => mappingId)).toEqual([
      expect.stringMatching(/^ConsumerDynamoDBEventSource/),
    ]);
    for (const { mappingId, mapping, destination } of onFailure) {
      const role = policies.roleOf(logicalIdOf(mapping.Properties.FunctionName));
      expect(
        await allowed({ principal: role, action: 'sqs:SendMessage', resource: destination }),
        `${mappingId} sqs:SendMessage`,
      ).toBe('Allowed');
    }
  });

  it('lets API Gateway invoke the webhook from its own route only, and no one invoke it directly', async () => {
    const [[, integration]] = ofType('AWS::ApiGatewayV2::Integration') as [[string, Resource]];
    const webhook = arns.arnOf(logicalIdOf(integration.Properties.IntegrationUri));
    const apiId = arns.nameOf(logicalIdOf(integration.Properties.ApiId));
    const from = (api: string) => ({
      principal: 'apigateway.amazonaws.com',
      action: 'lambda:InvokeFunction',
      resource: webhook,
      context: {
        'aws:SourceArn': `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${api}/$default/POST/`,
      },
    });
    expect(await allowed(from(apiId))).toBe('Allowed');
    expect(await allowed(from('someoneElsesApi'))).not.toBe('Allowed');
    expect(
      await allowed({ principal: 'anonymous', action: 'lambda:InvokeFunction', resource: webhook }),
    ).not.toBe('Allowed');
  });
});
