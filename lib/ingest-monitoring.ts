import { Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  Stats,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { METRIC, METRIC_DIMENSION, METRIC_NAMESPACE } from '../lambdas/shared/metric-names.ts';

export interface IngestMonitoringProps {
  /** The `service` dimension the construct's functions publish under. */
  readonly metricsService: string;
  readonly stateMachine: IStateMachine;
  readonly deadLetterQueue: IQueue;
  readonly ingestQueue: IQueue;
  /** Files waiting their turn to transfer (the admission cap's backlog). */
  readonly transferQueue: IQueue;
  /** Transfer messages no worker could take (malformed, or every delivery crashed). */
  readonly transferDeadLetterQueue: IQueue;
  readonly maxWait: Duration;
  readonly maxQueueWait: Duration;
  /** Where alarms go; a new topic when absent. */
  readonly alarmTopic?: ITopic;
  /** Webhook signature failures in 5 minutes that raise the alarm. */
  readonly signatureFailureThreshold: number;
}

const PERIOD = Duration.minutes(5);

/**
 * The pipeline at a glance: a dashboard of the ingest metrics, the queues and the
 * workflow, and alarms that notify an SNS topic (subscribe e-mail, chat or paging to it).
 */
export class IngestMonitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly alarmTopic: ITopic;
  readonly alarms: {
    readonly failedExecutions: Alarm;
    readonly overdueExecutions: Alarm;
    readonly timedOutFiles: Alarm;
    readonly deadLetters: Alarm;
    readonly transferDeadLetters: Alarm;
    readonly signatureFailures: Alarm;
  };

  constructor(scope: Construct, id: string, props: IngestMonitoringProps) {
    super(scope, id);
    const ingestMetric = (metricName: string, statistic: string = Stats.SUM, label?: string): Metric =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName,
        dimensionsMap: { [METRIC_DIMENSION.service]: props.metricsService },
        statistic,
        period: PERIOD,
        ...(label ? { label } : {}),
      });
    /** Every value of a metric's second dimension (outcome, code), one line each. */
    const byDimension = (metricName: string, dimension: string, label: string): IMetric =>
      new MathExpression({
        expression: `SEARCH('{${METRIC_NAMESPACE},${METRIC_DIMENSION.service},${dimension}} MetricName="${metricName}" ${METRIC_DIMENSION.service}="${props.metricsService}"', 'Sum', ${PERIOD.toSeconds()})`,
        label,
        period: PERIOD,
        usingMetrics: {},
      });

    // TLS only. Not encrypted at rest: CloudWatch cannot publish to a topic under the AWS managed
    // key, and alarm notifications carry names and numbers, no data (bring `alarmTopic` with a key of yours).
    this.alarmTopic = props.alarmTopic ?? this.createAlarmTopic();
    const action = new SnsAction(this.alarmTopic);
    const alarm = (alarmId: string, description: string, metric: IMetric, threshold = 1): Alarm => {
      const created = new Alarm(this, alarmId, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      return created;
    };
    const maxWait = props.maxWait.toHumanString();
    this.alarms = {
      failedExecutions: alarm(
        'FailedExecutions',
        'Ingest executions failed: FAILED records in the table (videogen-ingest status --status FAILED)',
        props.stateMachine.metricFailed({ period: PERIOD }),
      ),
      overdueExecutions: alarm(
        'OverdueExecutions',
        `Ingest executions ran past the max queue wait (${props.maxQueueWait.toHumanString()}) and max wait (${maxWait}) plus an hour and were stopped by Step Functions`,
        props.stateMachine.metricTimedOut({ period: PERIOD }),
      ),
      timedOutFiles: alarm(
        'TimedOutFiles',
        `Files not ready within the max wait (${maxWait}): TIMED_OUT records (videogen-ingest retry KEY)`,
        ingestMetric(METRIC.filesTimedOut),
      ),
      deadLetters: alarm(
        'DeadLetters',
        'S3 events the starter could not handle wait in the dead-letter queue (videogen-ingest replay-dlq)',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: PERIOD,
          statistic: Stats.MAXIMUM,
        }),
      ),
      transferDeadLetters: alarm(
        'TransferDeadLetters',
        'Transfer messages no worker could finish are in the transfer dead-letter queue; their files end FAILED TransferQueueTimeoutError at the max queue wait (videogen-ingest retry KEY)',
        props.transferDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: PERIOD,
          statistic: Stats.MAXIMUM,
        }),
      ),
      signatureFailures: alarm(
        'SignatureFailures',
        `At least ${props.signatureFailureThreshold} webhook requests with a bad signature in 5 minutes: a rotated secret, or someone probing the URL`,
        ingestMetric(METRIC.webhookSignatureFailures),
        props.signatureFailureThreshold,
      ),
    };

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# VideoGen ingest · \`${props.metricsService}\`\nFiles dropped, made VideoGen files, and how they end. Alarms notify the topic \`${this.alarmTopic.topicName}\`.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Files',
        left: [
          ingestMetric(METRIC.executionsStarted, Stats.SUM, 'started'),
          ingestMetric(METRIC.filesReady, Stats.SUM, 'ready'),
          ingestMetric(METRIC.filesRejected, Stats.SUM, 'rejected'),
          ingestMetric(METRIC.filesFailed, Stats.SUM, 'failed'),
          ingestMetric(METRIC.filesTimedOut, Stats.SUM, 'timed out'),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'Drop to READY (ms)',
        left: [
          ingestMetric(METRIC.dropToReadyLatency, Stats.p(50), 'p50'),
          ingestMetric(METRIC.dropToReadyLatency, Stats.p(95), 'p95'),
          ingestMetric(METRIC.dropToReadyLatency, Stats.MAXIMUM, 'max'),
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Bytes transferred',
        left: [ingestMetric(METRIC.bytesTransferred, Stats.SUM, 'bytes')],
        width: 8,
      }),
      new GraphWidget({
        title: 'Webhook deliveries by outcome',
        left: [byDimension(METRIC.webhookDeliveries, METRIC_DIMENSION.outcome, 'deliveries')],
        width: 8,
      }),
      new GraphWidget({
        title: 'VideoGen errors by code',
        left: [byDimension(METRIC.videoGenErrors, METRIC_DIMENSION.code, 'errors')],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Workflow executions',
        left: [
          props.stateMachine.metricStarted({ period: PERIOD, label: 'started' }),
          props.stateMachine.metricSucceeded({ period: PERIOD, label: 'succeeded' }),
          props.stateMachine.metricFailed({ period: PERIOD, label: 'failed' }),
          props.stateMachine.metricTimedOut({ period: PERIOD, label: 'timed out' }),
        ],
        width: 8,
      }),
      new SingleValueWidget({
        title: 'Dead-letter queue',
        metrics: [
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: PERIOD,
            statistic: Stats.MAXIMUM,
            label: 'messages',
          }),
          props.deadLetterQueue.metricApproximateAgeOfOldestMessage({
            period: PERIOD,
            statistic: Stats.MAXIMUM,
            label: 'oldest (s)',
          }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Ingest queue',
        left: [
          props.ingestQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: 'waiting' }),
        ],
        right: [
          props.ingestQueue.metricApproximateAgeOfOldestMessage({ period: PERIOD, label: 'oldest (s)' }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Transfer queue: files waiting their turn, and transferring',
        left: [
          props.transferQueue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, label: 'waiting' }),
          props.transferQueue.metricApproximateNumberOfMessagesNotVisible({
            period: PERIOD,
            label: 'transferring or deferred',
          }),
        ],
        right: [
          props.transferQueue.metricApproximateAgeOfOldestMessage({ period: PERIOD, label: 'oldest (s)' }),
          ingestMetric(METRIC.transfersDeferred, Stats.SUM, 'deferred (429, retry)'),
        ],
        width: 24,
      }),
    );
  }

  /**
   * A TLS-only topic the alarms can publish to. `enforceSSL` writes a topic policy, and a
   * topic policy replaces SNS's default one: without this statement CloudWatch may not
   * publish, and the alarms change state in silence. Scoped to this account's alarms
   * (the confused-deputy guard AWS documents for service principals).
   */
  private createAlarmTopic(): Topic {
    const topic = new Topic(this, 'AlarmTopic', { displayName: 'VideoGen ingest alarms', enforceSSL: true });
    const { account, region, partition } = Stack.of(this);
    topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      }),
    );
    return topic;
  }
}
