/** What operating the pipeline rests on: the alarms' topic, the dashboard, stream subscribers. */
import { type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { stackWithSubscriber } from '../helpers/cdk-app.ts';
import { HANDLER_METADATA_KEY } from '../../lib/handlers.ts';

describe('operations: dashboard, alarms to a topic, stream subscribers', () => {
  it('sends every alarm, and its recovery, to the topic the construct exposes', () => {
    const { template, ingest } = stackWithSubscriber();
    const topicId = Stack.of(ingest).getLogicalId(ingest.alarmTopic.node.defaultChild as CfnElement);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(6);
    for (const alarm of alarms) {
      expect(alarm.Properties).toMatchObject({
        AlarmActions: [{ Ref: topicId }],
        OKActions: [{ Ref: topicId }],
      });
    }
  });

  it('alarms on a spike of webhook signature failures of this deployment', () => {
    const { template, ingest } = stackWithSubscriber();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'VideoGenIngest',
      MetricName: 'WebhookSignatureFailures',
      Dimensions: [{ Name: 'service', Value: ingest.metricsService }],
      Threshold: 10,
      Statistic: 'Sum',
    });
  });

  it('graphs the ingest metrics, the dead-letter queue depth and its oldest message on a dashboard', () => {
    const { template, ingest } = stackWithSubscriber();
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.Properties);
    for (const metricName of [
      'ExecutionsStarted',
      'FilesReady',
      'FilesRejected',
      'FilesFailed',
      'FilesTimedOut',
      'DropToReadyLatency',
      'BytesTransferred',
      'WebhookDeliveries',
      'VideoGenErrors',
      'ApproximateNumberOfMessagesVisible',
      'ApproximateAgeOfOldestMessage',
    ]) {
      expect(body).toContain(metricName);
    }
    expect(body).toContain(ingest.metricsService);
    // Every function publishes under the one service name the dashboard reads.
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      if ((fn as { Metadata?: Record<string, unknown> }).Metadata?.[HANDLER_METADATA_KEY] === undefined)
        continue;
      expect(JSON.stringify(fn)).toContain(`"POWERTOOLS_SERVICE_NAME":"${ingest.metricsService}"`);
    }
  });

  it('wires a subscriber to the stream: ingest records entering the statuses asked for, bisect, bounded retries, on-failure queue', () => {
    const { template } = stackWithSubscriber({ statuses: ['READY', 'FAILED'] });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('IngestTable'), 'StreamArn'] },
      StartingPosition: 'LATEST',
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 86_400,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('SubscriberFailures'), 'Arn'] } },
      },
      // What the filters let through is evaluated as Lambda does in test/e2e/subscriptions.test.ts.
      FilterCriteria: { Filters: Match.anyValue() },
    });
    // The consumer may read the stream and send to its failure queue, nothing of the table's items.
    const consumerPolicy = Object.values(template.findResources('AWS::IAM::Policy')).find((policy) =>
      JSON.stringify(policy).includes('ConsumerServiceRole'),
    );
    const actions = JSON.stringify(consumerPolicy);
    expect(actions).toContain('dynamodb:GetRecords');
    expect(actions).toContain('sqs:SendMessage');
    expect(actions).not.toContain('dynamodb:PutItem');
  });

  it('refuses subscriber options that cannot work, saying why', () => {
    expect(() => stackWithSubscriber({ statuses: ['DONE' as never] })).toThrow(
      /"DONE" is not an ingest status/,
    );
    expect(() => stackWithSubscriber({ statuses: [] })).toThrow('statuses must name at least one status');
    expect(() => stackWithSubscriber({ maxRecordAge: Duration.seconds(5) })).toThrow(
      /maxRecordAge must be from 1 minute to 7 days/,
    );
  });
});
