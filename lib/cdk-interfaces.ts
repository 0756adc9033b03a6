/**
 * aws-cdk-lib's L2 classes are not assignable to their own interfaces under
 * `exactOptionalPropertyTypes` (an optional interface property implemented as `T | undefined`:
 * aws/aws-cdk#37996, open). The upcasts this construct needs, each named once here rather
 * than cast where it is used; remove them when the CDK's types allow the plain assignment.
 */
import type { ITable, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { Bucket, IBucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';

export const bucketInterface = (bucket: Bucket): IBucket => bucket as IBucket;
export const secretInterface = (secret: Secret): ISecret => secret as ISecret;
export const tableInterface = (table: TableV2): ITable => table as ITable;
