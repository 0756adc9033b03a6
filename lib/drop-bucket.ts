import { Duration, FeatureFlags, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';
import { bucketInterface } from './cdk-interfaces.ts';

/**
 * The drop bucket made for you: private, SSE-S3, TLS only, versioned, access-logged to a
 * bucket of its own, EventBridge on, incomplete multipart uploads aborted after a day. In
 * `scope` itself (not a construct of its own), so the logical ids of deployed buckets stay.
 */
export function createDropBucket(scope: Construct, removalPolicy: RemovalPolicy): Bucket {
  const secure = {
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy,
    autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
  };
  // Without this feature flag CDK grants log delivery through an ACL, which needs ObjectWriter ownership.
  const logsByPolicy =
    FeatureFlags.of(scope).isEnabled('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy') ?? false;
  const accessLogs = new Bucket(scope, 'AccessLogsBucket', {
    ...secure,
    objectOwnership: logsByPolicy ? ObjectOwnership.BUCKET_OWNER_ENFORCED : ObjectOwnership.OBJECT_WRITER,
    lifecycleRules: [{ expiration: Duration.days(90) }],
  });
  return new Bucket(scope, 'DropBucket', {
    ...secure,
    versioned: true,
    eventBridgeEnabled: true,
    serverAccessLogsBucket: bucketInterface(accessLogs),
    serverAccessLogsPrefix: 'drop-bucket/',
    lifecycleRules: [
      { abortIncompleteMultipartUploadAfter: Duration.days(1) },
      { noncurrentVersionExpiration: Duration.days(30) },
    ],
  });
}
