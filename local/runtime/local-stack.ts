/**
 * The stack `cdk deploy` deploys, synthesized with a local run's settings and read once:
 * its template (edited first, when a test asks), the names this runtime gives its
 * resources (the template's ARNs resolve to them), the functions and the state machine.
 */
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { HANDLER_METADATA_KEY, type HandlerName } from '../../lib/ingest-function.ts';
import { templateArns, type TemplateArns } from '../iam/arns.ts';
import { synthesizeStack } from '../synth.ts';
import { functionsFromTemplate, localFunctionName, type LocalFunction } from './lambdas.ts';
import type { LocalRuntimeOptions } from './options.ts';

export interface LocalStack {
  readonly template: Template;
  readonly arns: TemplateArns;
  readonly functions: LocalFunction[];
  readonly stateMachineLogicalId: string;
  readonly stateMachineArn: string;
  readonly bucket: string;
  readonly tableName: string;
}

export function synthesizeLocalStack(runtimeId: string, options: LocalRuntimeOptions): LocalStack {
  const synthesized = synthesizeStack({
    apiKeySecretName: `local/${runtimeId}/videogen-api-key`,
    ingest: {
      videoGenApiUrl: 'https://api.videogen.io', // the construct wants https; functions get the local URL
      readiness: options.readiness ?? 'download',
      pollAfter: Duration.seconds(options.pollAfterSeconds ?? 5),
      maxWait: Duration.seconds(options.maxWaitSeconds ?? 600),
      ...(options.maxConcurrentTransfers === undefined
        ? {}
        : { maxConcurrentTransfers: options.maxConcurrentTransfers }),
      ...(options.maxQueueWaitSeconds === undefined
        ? {}
        : { maxQueueWait: Duration.seconds(options.maxQueueWaitSeconds) }),
      removalPolicy: RemovalPolicy.DESTROY,
      ...(options.maxFileSizeBytes === undefined
        ? {}
        : { maxFileSize: Size.bytes(options.maxFileSizeBytes) }),
      ...(options.keyPrefix ? { keyPrefix: options.keyPrefix } : {}),
      ...(options.keySuffixes ? { keySuffixes: options.keySuffixes } : {}),
    },
  });
  let template = synthesized.template;
  if (options.editTemplate) {
    const json = template.toJSON() as Parameters<NonNullable<LocalRuntimeOptions['editTemplate']>>[0];
    options.editTemplate(json);
    template = Template.fromJSON(json);
  }
  const bucket = options.bucketName ?? `videogen-drop-${runtimeId}`;
  const tableName = `videogen-ingest-${runtimeId}`;
  const { Resources: resources } = template.toJSON() as {
    Resources: Record<string, { Metadata?: Record<string, unknown> }>;
  };
  const handlerOf = (logicalId: string) =>
    resources[logicalId]?.Metadata?.[HANDLER_METADATA_KEY] as HandlerName | undefined;
  const arns = templateArns(template, (logicalId, type) => {
    if (type === 'AWS::DynamoDB::GlobalTable') return tableName;
    if (type === 'AWS::StepFunctions::StateMachine') return `videogen-ingest-${runtimeId}`;
    if (type === 'AWS::S3::Bucket' && logicalId.includes('DropBucket')) return bucket;
    if (type === 'AWS::SecretsManager::Secret') return `local/${runtimeId}/${logicalId}`;
    // Queues are found by what consumes them, so any name of this runtime's will do.
    if (type === 'AWS::SQS::Queue') return `videogen-${runtimeId}-${logicalId}`.slice(0, 80);
    const handler = type === 'AWS::Lambda::Function' ? handlerOf(logicalId) : undefined;
    return handler ? localFunctionName(handler, runtimeId) : undefined;
  });
  const [stateMachineLogicalId = ''] = Object.keys(
    template.findResources('AWS::StepFunctions::StateMachine'),
  );
  return {
    template,
    arns,
    functions: functionsFromTemplate(template, arns.resolve, runtimeId),
    stateMachineLogicalId,
    stateMachineArn: arns.arnOf(stateMachineLogicalId),
    bucket,
    tableName,
  };
}
