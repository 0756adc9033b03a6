import type { RemovalPolicy } from 'aws-cdk-lib';
import {
  HttpApi,
  HttpMethod,
  HttpRoute,
  HttpRouteKey,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** How many webhook requests reach the function: API Gateway's token bucket, per second and at once. */
export interface WebhookThrottle {
  /** Requests per second, sustained. */
  readonly rateLimit: number;
  /** Requests at once, above the rate (the bucket's size). */
  readonly burstLimit: number;
}

export interface WebhookEndpointProps {
  readonly handler: IFunction;
  readonly throttle: WebhookThrottle;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The public webhook URL: an HTTP API whose one route, `POST /`, invokes the webhook
 * function, throttled at the stage. It is the bulkhead a public, unauthenticated endpoint
 * needs: a flood of forged requests is answered 429 by API Gateway before it becomes an
 * invocation, so it cannot take the account's Lambda concurrency from the transfers. (A
 * Function URL has no throttle; a reserved concurrency needs 100 unreserved executions
 * left, which small accounts do not have.) The Standard Webhooks signature, verified in
 * the function, is the authentication: VideoGen cannot sign AWS requests.
 */
export class WebhookEndpoint extends Construct {
  /** `https://{api}.execute-api.{region}.amazonaws.com/`, what VideoGen delivers to. */
  readonly url: string;
  readonly api: HttpApi;
  /** `POST /`, the one route. */
  readonly route: HttpRoute;

  constructor(scope: Construct, id: string, props: WebhookEndpointProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'VideoGen webhook deliveries (Standard Webhooks, verified by the function)',
      createDefaultStage: false,
    });
    const stage = this.api.addStage('Stage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(
          new LogGroup(this, 'AccessLogs', {
            retention: props.logRetention,
            removalPolicy: props.removalPolicy,
          }),
        ),
      },
    });
    this.route = new HttpRoute(this, 'Deliveries', {
      httpApi: this.api,
      routeKey: HttpRouteKey.with('/', HttpMethod.POST),
      integration: new HttpLambdaIntegration('Deliveries', props.handler),
    });
    this.url = stage.url;
  }
}
