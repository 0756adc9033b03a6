import { existsSync } from 'node:fs';
import path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type CfnFunction, LoggingFormat, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../lambdas/shared/metric-names.ts';
import {
  HANDLER_METADATA_KEY,
  handlerEntry,
  PROJECT_ROOT,
  type EnvironmentOf,
  type HandlerName,
} from './handlers.ts';

/**
 * What NodejsFunction takes as the lock file: it only tells npm from yarn or pnpm here (no
 * `nodeModules` are installed). npm never packs package-lock.json, so an installed package
 * names its package.json instead.
 */
const DEPS_LOCK_FILE = [
  path.join(PROJECT_ROOT, 'package-lock.json'),
  path.join(PROJECT_ROOT, 'package.json'),
].find((file) => existsSync(file));

/** The Lambda-only credential chain bundled instead of the SDK's default chain (see the file). */
const LAMBDA_CREDENTIALS = path.join(PROJECT_ROOT, 'lambdas/shared/lambda-credentials.ts');

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
 * Every handler the same way: Node 22 on arm64, an ESM bundle by esbuild with the AWS SDK
 * clients bundled in (smaller cold starts than the runtime's copy, and pinned versions) and
 * the Lambda-only credential chain in place of the SDK's default one,
 * source maps, X-Ray, JSON logs into a log group with a retention.
 */
export class IngestFunction<H extends HandlerName = HandlerName> extends NodejsFunction {
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
      entry: handlerEntry(props.handler),
      handler: 'handler',
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
      projectRoot: PROJECT_ROOT,
      ...(DEPS_LOCK_FILE ? { depsLockFilePath: DEPS_LOCK_FILE } : {}),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRIC_NAMESPACE,
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        externalModules: [],
        mainFields: ['module', 'main'],
        // Some dependencies still call `require`; ESM bundles need it defined.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        metafile: true,
        esbuildArgs: { '--alias': `@aws-sdk/credential-provider-node=${LAMBDA_CREDENTIALS}` },
      },
    });
    (this.node.defaultChild as CfnFunction).addMetadata(HANDLER_METADATA_KEY, props.handler);
  }
}
