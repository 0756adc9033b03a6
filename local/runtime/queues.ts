/**
 * The template's SQS queues and the Lambda event source mappings that consume them, made
 * local: each queue with its visibility timeout and redrive policy, each mapping with its
 * batch size, maximum concurrency and batch-item-failure reporting, as deployed.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import type { SQSEvent } from 'aws-lambda';
import { SqsQueue } from '../emulators/sqs-queue.ts';
import type { TemplateArns } from '../iam/arns.ts';
import { SqsEventSourceMapping } from './event-source-mapping.ts';

interface QueueProperties {
  VisibilityTimeout?: number;
  RedrivePolicy?: { deadLetterTargetArn?: { 'Fn::GetAtt'?: [string, string] }; maxReceiveCount?: number };
}

interface MappingProperties {
  EventSourceArn?: { 'Fn::GetAtt'?: [string, string] };
  FunctionName?: { Ref?: string };
  BatchSize?: number;
  ScalingConfig?: { MaximumConcurrency?: number };
  FunctionResponseTypes?: string[];
}

/** A mapping as the template declares it: which queue feeds which function (logical ids). */
export interface MappingSpec {
  readonly queueLogicalId: string;
  readonly functionLogicalId: string;
  readonly batchSize: number;
  readonly maxConcurrency: number | undefined;
  readonly reportBatchItemFailures: boolean;
}

export interface LocalQueues {
  /** By logical id. */
  readonly queues: ReadonlyMap<string, SqsQueue>;
  readonly mappings: readonly MappingSpec[];
}

/** Every queue of the template, dead-letter queues first so redrive policies can point at them. */
export function queuesFromTemplate(
  template: Template,
  arns: TemplateArns,
  options: { maxVisibilityChangeMs?: number } = {},
): LocalQueues {
  const resources = template.findResources('AWS::SQS::Queue') as Record<
    string,
    { Properties?: QueueProperties }
  >;
  const queues = new Map<string, SqsQueue>();
  const make = (logicalId: string): SqsQueue => {
    const known = queues.get(logicalId);
    if (known) return known;
    const properties = resources[logicalId]?.Properties ?? {};
    const target = properties.RedrivePolicy?.deadLetterTargetArn?.['Fn::GetAtt']?.[0];
    const queue = new SqsQueue({
      name: arns.nameOf(logicalId),
      arn: arns.arnOf(logicalId),
      visibilityTimeoutSeconds: properties.VisibilityTimeout ?? 30,
      ...(options.maxVisibilityChangeMs === undefined
        ? {}
        : { maxVisibilityChangeMs: options.maxVisibilityChangeMs }),
      ...(target && properties.RedrivePolicy?.maxReceiveCount
        ? {
            redrive: {
              deadLetterQueue: make(target),
              maxReceiveCount: properties.RedrivePolicy.maxReceiveCount,
            },
          }
        : {}),
    });
    queues.set(logicalId, queue);
    return queue;
  };
  for (const logicalId of Object.keys(resources)) make(logicalId);

  const mappings: MappingSpec[] = [];
  const declared = template.findResources('AWS::Lambda::EventSourceMapping') as Record<
    string,
    { Properties: MappingProperties }
  >;
  for (const { Properties: properties } of Object.values(declared)) {
    const queueLogicalId = properties.EventSourceArn?.['Fn::GetAtt']?.[0];
    const functionLogicalId = properties.FunctionName?.Ref;
    // Stream mappings (a subscriber's) are not run locally; only queues feed functions here.
    if (!queueLogicalId || !functionLogicalId || !queues.has(queueLogicalId)) continue;
    mappings.push({
      queueLogicalId,
      functionLogicalId,
      batchSize: properties.BatchSize ?? 10,
      maxConcurrency: properties.ScalingConfig?.MaximumConcurrency,
      reportBatchItemFailures: (properties.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    });
  }
  return { queues, mappings };
}

/** Starts a mapping: the queue's messages to `invoke`, as Lambda's pollers deliver them. */
export function startMapping(
  spec: MappingSpec,
  queue: SqsQueue,
  invoke: (event: SQSEvent) => Promise<unknown>,
): SqsEventSourceMapping {
  return new SqsEventSourceMapping({
    queue,
    invoke,
    batchSize: spec.batchSize,
    reportBatchItemFailures: spec.reportBatchItemFailures,
    ...(spec.maxConcurrency === undefined ? {} : { maxConcurrency: spec.maxConcurrency }),
  });
}
