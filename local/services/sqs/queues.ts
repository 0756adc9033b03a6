/**
 * The template's SQS queues and the Lambda event source mappings that consume them, made
 * local: each queue with its visibility timeout and redrive policy, each mapping with its
 * batch size, batching window, maximum concurrency and batch-item-failure reporting, as deployed.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import type { SQSEvent } from 'aws-lambda';
import { SqsQueue, type SqsQueueOptions } from './sqs-queue.ts';
import type { HandlerName } from '../../../lib/handlers.ts';
import type { TemplateArns } from '../../iam/arns.ts';
import type { LocalIam } from '../../iam/local-iam.ts';
import type { LocalFunction, LocalLambdas } from '../lambda/lambdas.ts';
import { SqsEventSourceMapping } from './event-source-mapping.ts';

interface QueueProperties {
  VisibilityTimeout?: number;
  RedrivePolicy?: { deadLetterTargetArn?: { 'Fn::GetAtt'?: [string, string] }; maxReceiveCount?: number };
}

interface MappingProperties {
  EventSourceArn?: { 'Fn::GetAtt'?: [string, string] };
  FunctionName?: { Ref?: string };
  BatchSize?: number;
  MaximumBatchingWindowInSeconds?: number;
  ScalingConfig?: { MaximumConcurrency?: number };
  FunctionResponseTypes?: string[];
}

/** A mapping as the template declares it: which queue feeds which function (logical ids). */
export interface MappingSpec {
  readonly queueLogicalId: string;
  readonly functionLogicalId: string;
  readonly batchSize: number;
  /** `MaximumBatchingWindowInSeconds`, in ms (0 when the template sets none). */
  readonly batchingWindowMs: number;
  readonly maxConcurrency: number | undefined;
  readonly reportBatchItemFailures: boolean;
}

export interface TemplateQueues {
  /** By logical id. */
  readonly queues: ReadonlyMap<string, SqsQueue>;
  readonly all: readonly SqsQueue[];
  readonly mappings: readonly MappingSpec[];
  /** The queue a URL names (its last part is the queue's name), as SQS finds it. */
  byUrl(url: string): SqsQueue;
  /** The queue whose mapping feeds the function with this handler. */
  consumedBy(functions: readonly LocalFunction[], handler: HandlerName): SqsQueue;
  /** Where a queue's redrive policy sends its messages (the queue itself when it has none). */
  deadLettersOf(queue: SqsQueue): SqsQueue;
  close(): void;
}

/** Every queue of the template, dead-letter queues first so redrive policies can point at them. */
export function queuesFromTemplate(
  template: Template,
  arns: TemplateArns,
  options: Pick<SqsQueueOptions, 'maxVisibilityChangeMs' | 'duplicateRate' | 'random'> & {
    /** The longest a mapping gathers a batch: its deployed window, or this if shorter. @default as deployed */
    readonly maxBatchingWindowMs?: number;
  } = {},
): TemplateQueues {
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
      ...options,
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
      batchingWindowMs: Math.min(
        (properties.MaximumBatchingWindowInSeconds ?? 0) * 1000,
        options.maxBatchingWindowMs ?? Number.POSITIVE_INFINITY,
      ),
      maxConcurrency: properties.ScalingConfig?.MaximumConcurrency,
      reportBatchItemFailures: (properties.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    });
  }
  const all = [...queues.values()];
  return {
    queues,
    all,
    mappings,
    byUrl: (url) => {
      const queue = all.find((candidate) => candidate.name === url.split('/').pop());
      if (!queue) throw new Error(`no queue ${url} in the template`);
      return queue;
    },
    consumedBy: (functions, handler) => {
      const spec = mappings.find(
        (candidate) =>
          functions.find((fn) => fn.logicalId === candidate.functionLogicalId)?.handlerName === handler,
      );
      const queue = spec && queues.get(spec.queueLogicalId);
      if (!queue) throw new Error(`no queue feeds the ${handler} function in the template`);
      return queue;
    },
    deadLettersOf: (queue) => queue.deadLetterQueue ?? queue,
    close: () => {
      for (const queue of all) queue.close();
    },
  };
}

/**
 * Starts every mapping of the template: each queue's messages to its function, as Lambda's
 * pollers deliver them. As CreateEventSourceMapping does, each first checks that the
 * function's role may read its queue.
 */
export async function startMappings(
  queues: TemplateQueues,
  functions: readonly LocalFunction[],
  lambdas: LocalLambdas,
  iam: LocalIam | undefined,
): Promise<Map<string, SqsEventSourceMapping>> {
  const started = new Map<string, SqsEventSourceMapping>();
  for (const spec of queues.mappings) {
    const queue = queues.queues.get(spec.queueLogicalId);
    const consumer = functions.find((fn) => fn.logicalId === spec.functionLogicalId);
    if (!queue || !consumer) continue;
    for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes']) {
      await iam?.check({ principal: iam.policies.roleOf(consumer.logicalId), action, resource: queue.arn });
    }
    const mapping = new SqsEventSourceMapping({
      queue,
      invoke: (event: SQSEvent) => lambdas.invoke(consumer.functionArn, event),
      batchSize: spec.batchSize,
      batchingWindowMs: spec.batchingWindowMs,
      reportBatchItemFailures: spec.reportBatchItemFailures,
      ...(spec.maxConcurrency === undefined ? {} : { maxConcurrency: spec.maxConcurrency }),
    });
    started.set(consumer.label, mapping);
  }
  return started;
}
