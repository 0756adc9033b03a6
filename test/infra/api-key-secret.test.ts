/**
 * An API key secret encrypted with a customer managed KMS key: every function that reads it
 * (Transfer, Poll, the webhook registration) may decrypt with that key, through Secrets
 * Manager only; nothing else gets the key.
 */
import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { stackPropsFromContext } from '../../lib/app-config.ts';
import { VideoGenIngest } from '../../lib/videogen-ingest.ts';
import { VideoGenIngestStack } from '../../lib/videogen-ingest-stack.ts';
import { testApp } from '../helpers/cdk-app.ts';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1111aaaa-2222-bbbb-3333-cccc4444dddd';

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/** The statements that let a role decrypt with KEY_ARN, by the role's logical id. */
function decryptersOf(template: Template): Map<string, Statement[]> {
  const byRole = new Map<string, Statement[]>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const { Roles, PolicyDocument } = (
      policy as { Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } } }
    ).Properties;
    const statements = PolicyDocument.Statement.filter(
      (statement) =>
        [statement.Action].flat().includes('kms:Decrypt') &&
        JSON.stringify(statement.Resource).includes(KEY_ARN),
    );
    for (const role of Roles) if (statements.length) byRole.set(role.Ref, statements);
  }
  return byRole;
}

const roleIdOf = (stack: Stack, construct: { role?: { node: { defaultChild?: unknown } } | undefined }) =>
  stack.getLogicalId(construct.role?.node.defaultChild as CfnElement);

describe('an API key secret encrypted with a customer managed key', () => {
  it('lets its readers decrypt with the key, through Secrets Manager only', () => {
    const stack = new Stack(testApp(), 'CmkSecret', {
      env: { region: 'eu-west-1', account: '123456789012' },
    });
    const ingest = new VideoGenIngest(stack, 'Ingest', {
      apiKeySecret: Secret.fromSecretNameV2(stack, 'Key', 'videogen/api-key'),
      apiKeySecretEncryptionKey: Key.fromKeyArn(stack, 'SecretKey', KEY_ARN),
    });
    const registration = ingest.node.findChild('WebhookRegistration').node.findChild('Register') as {
      role?: { node: { defaultChild?: unknown } };
    };
    const decrypters = decryptersOf(Template.fromStack(stack));

    expect([...decrypters.keys()].sort()).toEqual(
      [
        roleIdOf(stack, ingest.functions.transfer),
        roleIdOf(stack, ingest.functions.poll),
        roleIdOf(stack, registration),
      ].sort(),
    );
    for (const statements of decrypters.values()) {
      expect(statements).toEqual([
        expect.objectContaining({
          Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } },
        }),
      ]);
    }
  });

  it('is given to the app with -c apiKeySecretKmsKeyArn, and a bad ARN is refused with its key', () => {
    const props = stackPropsFromContext((key) => ({ apiKeySecretKmsKeyArn: KEY_ARN })[key]);
    expect(props.apiKeySecretKmsKeyArn).toBe(KEY_ARN);
    const stack = new VideoGenIngestStack(testApp(), 'FromContext', props);
    expect(decryptersOf(Template.fromStack(stack)).size).toBe(3);
    expect(() => stackPropsFromContext((key) => ({ apiKeySecretKmsKeyArn: 'alias/mine' })[key])).toThrow(
      /-c apiKeySecretKmsKeyArn: must be a KMS key ARN/,
    );
  });

  it('grants no key when the secret uses the account’s own key', () => {
    const stack = new Stack(testApp(), 'AwsKey');
    new VideoGenIngest(stack, 'Ingest', { apiKeySecret: Secret.fromSecretNameV2(stack, 'Key', 'k') });
    expect(decryptersOf(Template.fromStack(stack)).size).toBe(0);
  });
});
