import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { VideoGenIngest, type VideoGenIngestProps } from './videogen-ingest.ts';

export interface VideoGenIngestStackProps extends StackProps {
  /** The name of the Secrets Manager secret holding the VideoGen API key. */
  readonly apiKeySecretName: string;
  /** Ingest from this existing bucket instead of creating one. */
  readonly existingBucketName?: string;
  /** The KMS key ARN of that bucket's SSE-KMS encryption (the readers get `kms:Decrypt`). */
  readonly existingBucketKmsKeyArn?: string;
  /** The customer managed KMS key ARN that encrypts the API key secret (its readers get `kms:Decrypt`). */
  readonly apiKeySecretKmsKeyArn?: string;
  /** Verify webhooks with this existing secret instead of registering automatically. */
  readonly webhookSecretName?: string;
  /** Subscribe this address to the alarm topic (it must confirm the subscription e-mail). */
  readonly alarmEmail?: string;
  readonly ingest?: Omit<
    VideoGenIngestProps,
    'apiKeySecret' | 'apiKeySecretEncryptionKey' | 'bucket' | 'bucketEncryptionKey' | 'webhookSecret'
  >;
}

/** The deployable app: one VideoGenIngest and the outputs a user needs. */
export class VideoGenIngestStack extends Stack {
  readonly ingest: VideoGenIngest;

  constructor(scope: Construct, id: string, props: VideoGenIngestStackProps) {
    super(scope, id, props);
    this.ingest = new VideoGenIngest(this, 'Ingest', {
      ...props.ingest,
      apiKeySecret: Secret.fromSecretNameV2(this, 'ApiKey', props.apiKeySecretName),
      ...(props.apiKeySecretKmsKeyArn
        ? { apiKeySecretEncryptionKey: Key.fromKeyArn(this, 'ApiKeyKey', props.apiKeySecretKmsKeyArn) }
        : {}),
      ...(props.existingBucketName
        ? { bucket: Bucket.fromBucketName(this, 'DropBucket', props.existingBucketName) }
        : {}),
      ...(props.existingBucketKmsKeyArn
        ? { bucketEncryptionKey: Key.fromKeyArn(this, 'DropBucketKey', props.existingBucketKmsKeyArn) }
        : {}),
      ...(props.webhookSecretName
        ? { webhookSecret: Secret.fromSecretNameV2(this, 'WebhookSecret', props.webhookSecretName) }
        : {}),
    });
    if (props.alarmEmail) this.ingest.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    const outputs: Record<string, [string, string]> = {
      BucketName: [this.ingest.bucket.bucketName, 'Drop files here: aws s3 cp FILE s3://BUCKET/'],
      WebhookUrl: [
        this.ingest.webhookUrl,
        'The VideoGen webhook endpoint (registered automatically unless you brought a secret)',
      ],
      TableName: [this.ingest.table.tableName, 'Ingest records'],
      TableStreamArn: [this.ingest.table.tableStreamArn ?? '', 'Subscribe downstream systems to this stream'],
      StateMachineArn: [this.ingest.stateMachine.stateMachineArn, 'One execution per dropped object version'],
      IngestQueueUrl: [this.ingest.ingestQueue.queueUrl, 'S3 events on their way to the starter'],
      DeadLetterQueueUrl: [this.ingest.deadLetterQueue.queueUrl, 'S3 events that could not be started'],
      TransferQueueUrl: [this.ingest.transferQueue.queueUrl, 'Files waiting their turn to transfer'],
      AlarmTopicArn: [
        this.ingest.alarmTopic.topicArn,
        'Alarms notify this topic: subscribe e-mail, chat or paging to it',
      ],
      DashboardName: [this.ingest.dashboard.dashboardName, 'The CloudWatch dashboard of the pipeline'],
    };
    for (const [id, [value, description]] of Object.entries(outputs))
      new CfnOutput(this, id, { value, description });
  }
}
