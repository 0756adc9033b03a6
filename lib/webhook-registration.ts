import { CustomResource, Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { WEBHOOK_EVENT_TYPES } from '../lambdas/shared/videogen/contract.ts';
import { IngestFunction } from './ingest-function.ts';
import { grantApiKeyRead } from './ingest-grants.ts';

export interface WebhookRegistrationProps {
  readonly serviceName: string;
  readonly webhookUrl: string;
  readonly apiKeySecret: ISecret;
  /** The KMS key that encrypts the API key secret, when it is a customer managed key. */
  readonly apiKeySecretKey: IKey | undefined;
  readonly videoGenApiUrl: string;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Registers the webhook URL with `POST /v1/webhooks/endpoints` on deploy, keeps the
 * answered signing secret in Secrets Manager, and deletes the endpoint on stack deletion.
 */
export class WebhookRegistration extends Construct {
  /** Holds `{"secret": "whsec_…", "endpointId": "vg_whep_…"}` once registered. */
  readonly secret: Secret;
  readonly endpointId: string;
  readonly registerFunction: IngestFunction;
  /** The CDK custom-resource framework's function (for cdk-nag acknowledgments). */
  readonly providerFunction: IConstruct;

  constructor(scope: Construct, id: string, props: WebhookRegistrationProps) {
    super(scope, id);
    this.secret = new Secret(this, 'SigningSecret', {
      description: 'VideoGen webhook signing secret, written by the webhook registration on deploy',
      removalPolicy: props.removalPolicy,
    });
    const register = new IngestFunction(this, 'Register', {
      handler: 'register-webhook',
      serviceName: props.serviceName,
      timeout: Duration.minutes(1),
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      environment: {
        VIDEOGEN_API_URL: props.videoGenApiUrl,
        VIDEOGEN_API_KEY_SECRET: props.apiKeySecret.secretArn,
      },
    });
    this.registerFunction = register;
    grantApiKeyRead(register, props.apiKeySecret, props.apiKeySecretKey);
    // Get and Put only: `grantWrite` would add UpdateSecret and UpdateSecretVersionStage. It reads
    // the endpoints still registered, so an update keeps the old one's secret and a rollback reuses it.
    register.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue'],
        resources: [this.secret.secretArn],
      }),
    );
    const provider = new Provider(this, 'Provider', {
      onEventHandler: register,
      logGroup: new LogGroup(this, 'ProviderLogs', {
        retention: props.logRetention,
        removalPolicy: props.removalPolicy,
      }),
    });
    const resource = new CustomResource(this, 'Endpoint', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::VideoGenWebhookEndpoint',
      // The event types too: a release that subscribes to a new one re-registers on deploy.
      properties: {
        WebhookUrl: props.webhookUrl,
        SecretId: this.secret.secretArn,
        Events: [...WEBHOOK_EVENT_TYPES],
      },
    });
    this.endpointId = resource.ref;
    this.providerFunction = provider.node.findChild('framework-onEvent');
  }
}
