/**
 * Which IAM action and resource each emulated API call is, as the AWS Service
 * Authorization Reference lists them for the calls the handlers make.
 */
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../cfn.ts';

export interface ActionOnResource {
  readonly action: string;
  readonly resource: string;
  readonly context?: Record<string, string>;
}

/** An S3 REST call (path-style) as its action: object reads and writes, and listing. */
export function s3Action(method: string, url: string): ActionOnResource | undefined {
  const parsed = new URL(url, 'http://local');
  const [bucket = '', ...keyParts] = parsed.pathname.replace(/^\//, '').split('/');
  const key = keyParts.map((part) => decodeURIComponent(part)).join('/');
  const query = parsed.searchParams;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  if (key === '') {
    if (method !== 'GET') return undefined;
    if (query.has('versions')) return { action: 's3:ListBucketVersions', resource: bucketArn };
    return {
      action: 's3:ListBucket',
      resource: bucketArn,
      context: { 's3:prefix': query.get('prefix') ?? '' },
    };
  }
  const objectArn = `${bucketArn}/${key}`;
  if (method === 'GET' || method === 'HEAD') {
    return { action: query.has('versionId') ? 's3:GetObjectVersion' : 's3:GetObject', resource: objectArn };
  }
  if (method === 'PUT' || method === 'POST') return { action: 's3:PutObject', resource: objectArn };
  if (method === 'DELETE') return { action: 's3:DeleteObject', resource: objectArn };
  return undefined;
}

/** A table's ARN, from its name or from its ARN (DynamoDB takes either where a table is named). */
const TABLE_ARN = (table: string) =>
  table.startsWith('arn:') ? table : `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${table}`;

/**
 * A DynamoDB (or DynamoDB Streams) call as its actions: a transaction is one per item, as
 * IAM judges it; `ListStreams` is on no resource ("*"); `GetRecords` is on the stream its
 * iterator names (an iterator begins with the stream's ARN).
 */
export function dynamoDbActions(operation: string, body: Record<string, unknown>): ActionOnResource[] {
  if (operation === 'ListStreams') return [{ action: 'dynamodb:ListStreams', resource: '*' }];
  if (operation === 'DescribeStream' || operation === 'GetShardIterator') {
    return [
      { action: `dynamodb:${operation}`, resource: typeof body.StreamArn === 'string' ? body.StreamArn : '' },
    ];
  }
  if (operation === 'GetRecords') {
    const iterator = typeof body.ShardIterator === 'string' ? body.ShardIterator : '';
    return [{ action: 'dynamodb:GetRecords', resource: iterator.split('|')[0] ?? '' }];
  }
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    const items = (body.TransactItems ?? []) as Record<string, { TableName?: string }>[];
    const itemAction: Record<string, string> = {
      Put: 'PutItem',
      Update: 'UpdateItem',
      Delete: 'DeleteItem',
      ConditionCheck: 'ConditionCheckItem',
      Get: 'GetItem',
    };
    return items.flatMap((item) =>
      Object.entries(item).map(([kind, target]) => ({
        action: `dynamodb:${itemAction[kind] ?? kind}`,
        resource: TABLE_ARN(target.TableName ?? ''),
      })),
    );
  }
  if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') {
    // The action on every table the batch names, as IAM authorizes a batch.
    const tables = Object.keys(body.RequestItems ?? {});
    return tables.map((table) => ({ action: `dynamodb:${operation}`, resource: TABLE_ARN(table) }));
  }
  const table = typeof body.TableName === 'string' ? body.TableName : '';
  const index = typeof body.IndexName === 'string' ? `/index/${body.IndexName}` : '';
  return [{ action: `dynamodb:${operation}`, resource: `${TABLE_ARN(table)}${index}` }];
}

/** A Step Functions call as its action, on the state machine it concerns. */
export function stepFunctionsAction(
  operation: string,
  body: Record<string, unknown>,
  stateMachineOfToken: (token: string) => string | undefined,
): ActionOnResource {
  const action = `states:${operation}`;
  if (typeof body.stateMachineArn === 'string') return { action, resource: body.stateMachineArn };
  if (typeof body.taskToken === 'string') {
    return { action, resource: stateMachineOfToken(body.taskToken) ?? '*' };
  }
  if (typeof body.executionArn === 'string') return { action, resource: body.executionArn };
  return { action, resource: '*' };
}

/**
 * A Secrets Manager call as its action. A secret's ARN ends in six random characters that
 * IAM policies match (`name-??????`); a partial ARN or a name is judged as the full ARN.
 */
export function secretsManagerAction(operation: string, body: Record<string, unknown>): ActionOnResource {
  const id = typeof body.SecretId === 'string' ? body.SecretId : '';
  const arn = id.startsWith('arn:')
    ? id
    : `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${id}`;
  return {
    action: `secretsmanager:${operation}`,
    resource: /-[A-Za-z0-9]{6}$/.test(arn) ? arn : `${arn}-AbCdEf`,
  };
}

/** An SQS call as its action on the queue its `QueueUrl` names (the queue's name is the URL's last part). */
export function sqsAction(operation: string, body: Record<string, unknown>): ActionOnResource {
  const named = body.QueueUrl ?? body.QueueName;
  const url = typeof named === 'string' ? named : '';
  const name = url.split('/').pop() ?? '';
  return { action: `sqs:${operation}`, resource: `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${name}` };
}
