/** What the local runtime takes, and what it tells the ops CLI. */
import type { Readiness } from '../../lambdas/shared/config.ts';
import type { SqsQueue } from '../services/sqs/sqs-queue.ts';
import type { StateDir } from './state-dir.ts';
import type { SimulatorOptions } from '../simulator/simulator.ts';

export { LOCAL_CREDENTIALS } from '../iam/local-credentials.ts';

export interface LocalRuntimeOptions {
  /** A VideoGen-compatible API; the simulator when absent. */
  readonly videoGenApiUrl?: string;
  /** @default 'local-dev-key' */
  readonly videoGenApiKey?: string;
  /** Options of the simulator, when it is the API. */
  readonly simulator?: SimulatorOptions;
  /** @default 'download' */
  readonly readiness?: Readiness;
  /** Wait for a webhook this long before polling, and between polls. @default 5 */
  readonly pollAfterSeconds?: number;
  /** @default 600 */
  readonly maxWaitSeconds?: number;
  /** Transfers at once: the transfer queue mapping's maximum concurrency. @default 10, as deployed */
  readonly maxConcurrentTransfers?: number;
  /** The longest a file may wait in the transfer queue. @default 24 h, as deployed */
  readonly maxQueueWaitSeconds?: number;
  /**
   * The account's Lambda concurrency quota: invocations beyond it (or beyond a function's
   * reservation) are throttled as Lambda throttles them. @default 1000, AWS's default quota
   */
  readonly accountConcurrency?: number;
  readonly maxFileSizeBytes?: number;
  readonly keyPrefix?: string;
  readonly keySuffixes?: readonly string[];
  /**
   * The webhook stage's throttle. The benchmarks raise it, so that what they measure is the
   * runtime's own cost per file rather than the stage's 429s. @default as deployed (20 a second, 10 at once)
   */
  readonly webhookThrottle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Pause before every workflow retry, instead of the deployed backoff; also the longest a
   * transfer message is put back for a retry (its worker's ChangeMessageVisibility).
   */
  readonly retryPauseMs?: number;
  /**
   * The longest an SQS event source mapping gathers a batch (the starter's queue has a 1 s
   * `MaximumBatchingWindowInSeconds`): the tests' speed knob, as `retryPauseMs` is; a shorter
   * window still gathers, it only waits less. @default as deployed
   */
  readonly maxBatchingWindowMs?: number;
  /** The S3 endpoint's port (for `aws s3 --endpoint-url`). @default any free port */
  readonly s3Port?: number;
  /**
   * Register the local webhook URL with the API (and delete it on stop), as the deployed
   * custom resource does. @default whether the API is on this machine (only then can it call back)
   */
  readonly registerWebhooks?: boolean;
  /** The drop bucket's name. @default videogen-drop-<runtime id> */
  readonly bucketName?: string;
  /**
   * Keep the bucket's objects, the table and the runtime's id in this state folder (opened
   * and locked by the caller), so a restart continues where the last run stopped.
   * @default everything in temporary folders and memory, gone on stop
   */
  readonly state?: StateDir;
  /**
   * Chaos: this share of webhook requests is handled, then answered 500 anyway, as when a
   * handler dies after its write and before its answer; VideoGen delivers them again.
   * @default 0
   */
  readonly webhookFailureRate?: number;
  /**
   * At-least-once delivery, as SQS standard queues may do it: this share of receives of
   * every queue also delivers a copy of the message while the first is still being handled.
   * @default 0
   */
  readonly duplicateDeliveryRate?: number;
  /** Seeds the dice of `webhookFailureRate` and `duplicateDeliveryRate`. @default 1 */
  readonly seed?: number;
  /**
   * Authorize every call as AWS IAM would, from the template's policies. Off only to
   * measure what it costs. @default true
   */
  readonly iam?: boolean;
  /** Changes the synthesized template before the runtime reads it (tests: a grant removed). */
  readonly editTemplate?: (template: {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  }) => void;
  /** Powertools log level of the handlers. @default 'WARN' */
  readonly handlerLogLevel?: string;
  /**
   * Each line a function writes (its CloudWatch log group on AWS), with the function that
   * wrote it (its handler's name, or a subscriber's construct id). @default this process's
   * stderr (stdout is for results)
   */
  readonly onFunctionOutput?: (label: string, line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Run this app's stack (`--app DIR`, loaded by `cloud-assembly.ts`) instead of this
   * repository's: its template as synthesized, every function from its own asset. The
   * run's stack settings (readiness, waits, caps) are then the app's.
   */
  readonly app?: {
    readonly template: Record<string, unknown> & {
      Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    };
    readonly assemblyDir: string;
  };
  /**
   * Let the handlers publish their metrics: Powertools writes them to the function's
   * output as CloudWatch embedded-metric-format lines, as on Lambda. @default false
   */
  readonly publishMetrics?: boolean;
  /**
   * The most environments (isolates) any function may have at once. Benchmarks set 1 to
   * measure the warmest code the runtime can run, every function's traffic on one isolate.
   * @default one per core (2 to 8), the webhook twice that, the transfer worker its cap
   */
  readonly environmentsPerFunction?: number;
  /** Told what the runtime does, a line at a time. */
  readonly log?: (line: string) => void;
}

/** The runtime's queues, by their part in the pipeline. */
export interface LocalQueues {
  readonly ingest: SqsQueue;
  readonly deadLetters: SqsQueue;
  readonly transfer: SqsQueue;
  readonly transferDeadLetters: SqsQueue;
}

export interface DropOptions {
  /** One of the stack's drop buckets (`LocalRuntime.ingests`). @default the primary ingest's */
  readonly bucket?: string;
  readonly metadata?: Record<string, string>;
  readonly contentType?: string;
}

export type { LocalOpsEndpoints } from '../../ops/handshake.ts';
