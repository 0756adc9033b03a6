import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { templateArns } from '#local/iam/arns';
import { LocalIam, serviceJudges } from '#local/iam/local-iam';

/** A user's app: a function granted writes to one table (`grantWriteData`, batches included) and nothing on another. */
let judge: ReturnType<typeof serviceJudges>['dynamodb'];
let writerKey: string;
let granted = '';
let other = '';

beforeAll(() => {
  const stack = new Stack(new App(), 'UserApp');
  const grantedTable = new Table(stack, 'Granted', {
    partitionKey: { name: 'pk', type: AttributeType.STRING },
  });
  new Table(stack, 'Other', { partitionKey: { name: 'pk', type: AttributeType.STRING } });
  const writer = new LambdaFunction(stack, 'Writer', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => undefined;'),
  });
  grantedTable.grantWriteData(writer);
  const template = Template.fromStack(stack);
  const arns = templateArns(template);
  const resources = template.toJSON().Resources as Record<string, { Type: string }>;
  const logicalId = (prefix: string, type: string) =>
    Object.keys(resources).find((id) => id.startsWith(prefix) && resources[id]?.Type === type) ?? '';
  granted = arns.nameOf(logicalId('Granted', 'AWS::DynamoDB::Table'));
  other = arns.nameOf(logicalId('Other', 'AWS::DynamoDB::Table'));
  const iam = new LocalIam(template, arns);
  writerKey = iam.credentialsFor(logicalId('Writer', 'AWS::Lambda::Function')).accessKeyId;
  judge = serviceJudges(iam, () => undefined).dynamodb;
});

const batch = (...tables: string[]) => ({
  RequestItems: Object.fromEntries(
    tables.map((table) => [table, [{ PutRequest: { Item: { pk: { S: 'a' } } } }]]),
  ),
});

describe('local IAM on DynamoDB batches', () => {
  it('judges a batch on every table it names, as IAM does: allowed on the granted table, by name or by ARN', async () => {
    await expect(judge('BatchWriteItem', batch(granted), writerKey)).resolves.toBeUndefined();
    const arn = `arn:aws:dynamodb:us-east-1:000000000000:table/${granted}`;
    await expect(judge('BatchWriteItem', batch(arn), writerKey)).resolves.toBeUndefined();
    await expect(judge('PutItem', { TableName: arn }, writerKey)).resolves.toBeUndefined();
  });

  it('refuses a batch that names a table the role may not write, naming that table', async () => {
    await expect(judge('BatchWriteItem', batch(granted, other), writerKey)).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(
        `dynamodb:BatchWriteItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${other}`,
      ),
    });
    // grantWriteData gives no reads.
    await expect(judge('BatchGetItem', batch(granted), writerKey)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });
});
