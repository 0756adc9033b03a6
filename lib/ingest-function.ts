import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  type CfnFunction,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../lambdas/shared/metric-names.ts';
import { handlerCode } from './handler-code.ts';
import { HANDLER_METADATA_KEY, type EnvironmentOf, type HandlerName } from './handlers.ts';

export interface IngestFunctionProps<H extends HandlerName> {
  readonly handler: H;
  /** Powertools' service name: the `service` dimension of every metric, one per construct. */
  readonly serviceName: string;
  /** Every variable the handler reads (`lambdas/shared/environments.ts`), no more. */
  readonly environment: EnvironmentOf<H>;
  /** @default 256 */
  readonly memorySize?: number;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  readonly reservedConcurrentExecutions?: number;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * Every handler the same way: Node 22 on arm64, its ESM bundle (`handler-code.ts`),
 * source maps, X-Ray, JSON logs into a log group with a retention.
 */
export class IngestFunction<H extends HandlerName = HandlerName> extends LambdaFunction {
  constructor(scope: Construct, id: string, props: IngestFunctionProps<H>) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // A role of its own that may write to its own log group only, instead of the
    // AWSLambdaBasicExecutionRole managed policy (logs on every log group of the account).
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    super(scope, id, {
      role,
      code: handlerCode(props.handler),
      handler: 'index.handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      loggingFormat: LoggingFormat.JSON,
      logGroup,
      ...(props.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        ...props.environment,
      },
    });
    (this.node.defaultChild as CfnFunction).addMetadata(HANDLER_METADATA_KEY, props.handler);
  }
}
