/**
 * `VideoGenIngest`'s props: what each means and its default (TSDoc), and `resolveProps`,
 * which applies the defaults and checks every value first, with messages that say what to
 * change, before the construct builds anything.
 */
import { Duration, RemovalPolicy, type Size } from 'aws-cdk-lib';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { READINESS_LEVELS, type Readiness } from '../lambdas/shared/config.ts';
import type { DropFilter } from '../lambdas/shared/drop-filter.ts';
import { DEFAULT_VIDEOGEN_API_URL, MAX_SINGLE_PUT_BYTES } from '../lambdas/shared/videogen/contract.ts';
import type { IngestStatus } from '../lambdas/shared/ingest/record.ts';
import { checkHistoryBudget } from './ingest-workflow.ts';
import type { WebhookThrottle } from './webhook-endpoint.ts';

/**
 * Transfers really started for one source before the worker fails its file
 * (`TransferAttemptsExhaustedError`): crashes and transient errors, each retried after a
 * growing delay (15 s doubling to 15 min, about two hours in all). Counted on the record,
 * not as SQS receives: a delivery that waited out VideoGen's rate limit, or found another
 * delivery of the same message at work, is not an attempt.
 */
export const MAX_TRANSFER_ATTEMPTS = 10;
/**
 * Receives of one transfer message before SQS moves it to the dead-letter queue: a safety
 * net for messages no worker can read (the worker fails a file itself after
 * `MAX_TRANSFER_ATTEMPTS`), with room for deliveries that only waited.
 */
export const TRANSFER_MAX_RECEIVE_COUNT = 50;
/** The webhook stage's throttle unless `webhookThrottle` says otherwise (why: its TSDoc). */
export const DEFAULT_WEBHOOK_THROTTLE: WebhookThrottle = { rateLimit: 100, burstLimit: 20 };

export interface VideoGenIngestProps {
  /**
   * The API key, as a Secrets Manager secret holding the key itself or `{"apiKey": "…"}`.
   */
  readonly apiKeySecret: ISecret;
  /**
   * The customer managed KMS key that encrypts `apiKeySecret`, when it is not the account's
   * `aws/secretsmanager` key: the functions that read the secret get `kms:Decrypt` on it,
   * through Secrets Manager only. (The key's policy must let the account's IAM policies
   * grant its use, as a key's default policy does.)
   * @default the secret's own `encryptionKey`, if any; else none needed
   */
  readonly apiKeySecretEncryptionKey?: IKey;
  /**
   * The drop bucket. For an existing bucket the stack turns on its "Send notifications
   * to Amazon EventBridge" (its other notifications are left alone).
   * @default a new bucket: private, encrypted, TLS only, versioned, with EventBridge notifications
   */
  readonly bucket?: IBucket;
  /**
   * The KMS key of a bring-your-own bucket encrypted with SSE-KMS: the functions that read
   * the sources get `kms:Decrypt` on it. (A bucket made here, or one whose `encryptionKey`
   * is set, needs none.)
   * @default the bucket's `encryptionKey`, if any
   */
  readonly bucketEncryptionKey?: IKey;
  /**
   * Only keys under this prefix are ingested.
   * @default '' (every key)
   */
  readonly keyPrefix?: string;
  /**
   * Only keys ending in one of these, compared without case (`.mp4` matches `CLIP.MP4`).
   * @default [] (every key)
   */
  readonly keySuffixes?: readonly string[];
  /**
   * The VideoGen API's base URL.
   * @default https://api.videogen.io
   */
  readonly videoGenApiUrl?: string;
  /**
   * The webhook signing secret (`{"secret": "whsec_…"}` or the value itself), for when you
   * register the webhook URL with VideoGen yourself. When absent, a custom resource
   * registers it on deploy, keeps the secret in a new secret, and deletes it on stack deletion.
   * @default registered automatically
   */
  readonly webhookSecret?: ISecret;
  /**
   * When a file counts as READY: `upload` (bytes stored), `playback` (HLS ready; images:
   * download), `download` (static rendition ready), `analysis` (analysis finished;
   * temporary files: download).
   * @default 'download'
   */
  readonly readiness?: Readiness;
  /**
   * Larger objects are recorded REJECTED. At most 5 GiB, the single-PUT ceiling.
   * @default Size.gibibytes(5)
   */
  readonly maxFileSize?: Size;
  /**
   * At most this many transfers at once (create + PUT): the transfer queue's event source
   * mapping `MaximumConcurrency` (2 to 1,000). Files beyond it wait in the queue, at no cost
   * per minute of waiting. No reserved concurrency is needed, so any account can deploy it.
   * @default 10
   */
  readonly maxConcurrentTransfers?: number;
  /**
   * How long a file may wait in the transfer queue, transfer included, before it ends
   * FAILED `TransferQueueTimeoutError`. From 1 minute to 13 days (the queue keeps a message
   * at most 14 days).
   * @default Duration.hours(24)
   */
  readonly maxQueueWait?: Duration;
  /**
   * Reserved concurrency of the webhook function (VideoGen retries what is throttled).
   * Opt in only where the account has room: Lambda keeps at least 100 executions of the
   * account's concurrency unreserved, so a reservation needs the quota to be at least 100
   * plus all reservations (new accounts often have a quota of 10, and the deploy fails).
   * @default no reservation
   */
  readonly maxConcurrentWebhooks?: number;
  /**
   * What the public webhook URL lets through to the function, per second and at once (API
   * Gateway's stage throttling); past it, requests are answered 429 without an invocation,
   * and VideoGen delivers them again later. The bulkhead that keeps a flood of forged
   * requests from taking the account's Lambda concurrency from the transfers: at the default,
   * a flood costs at most 100 short invocations a second, a few at once. The default lets in
   * the events of about twenty files a second (three to five events a file), which a library
   * of small files reaches: 1,000 images copied into the local runtime's drop folder at once
   * (`bench:pace`) had half of their 3,000 events given up after VideoGen's retries at 20 a
   * second, each such file then waiting for its `pollAfter`, and one in twenty at 100. Lower
   * it where files arrive slowly and the bulkhead matters more.
   * @default { rateLimit: 100, burstLimit: 20 }
   */
  readonly webhookThrottle?: WebhookThrottle;
  /**
   * How long to wait for a webhook before polling `GET /v1/files/{id}` (and between polls).
   * @default Duration.minutes(10)
   */
  readonly pollAfter?: Duration;
  /**
   * How long an ingest waits for readiness before it is recorded TIMED_OUT.
   * @default Duration.hours(6)
   */
  readonly maxWait?: Duration;
  /**
   * VideoGen files one source may get, each after the previous upload URL expired.
   * @default 3
   */
  readonly maxUploadUrlAttempts?: number;
  /**
   * Memory of the Transfer function; Lambda's network share grows with it.
   * @default 1024
   */
  readonly transferMemoryMiB?: number;
  /**
   * What happens to the bucket (when created here), the table and the log groups on stack deletion.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Where the alarms notify (subscribe e-mail, chat or paging to it). Its policy must let
   * `cloudwatch.amazonaws.com` publish (a topic policy replaces SNS's default one).
   * @default a new topic, TLS only, that this account's CloudWatch alarms may publish to
   */
  readonly alarmTopic?: ITopic;
  /**
   * Webhook requests with a bad signature in 5 minutes that raise the alarm.
   * @default 10
   */
  readonly signatureFailureAlarmThreshold?: number;
}

/** How a stream subscriber is wired; see `VideoGenIngest.addSubscriber`. */
export interface SubscriberOptions {
  /**
   * Deliver only records that just entered one of these statuses: INSERTs in one, and
   * MODIFYs that changed the status (`statusChanged`) to one. `READY` means the file became
   * ready: also the change that took it from before READY straight to `ANALYZED` or
   * `ANALYSIS_FAILED` (its analysis was known when the ingest first saw it ready).
   * @default every status change
   */
  readonly statuses?: readonly IngestStatus[];
  /** @default 10 */
  readonly batchSize?: number;
  /**
   * Retries of a failing batch (halved each time: bisect on error) before its records go
   * to the on-failure destination.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this go to the on-failure destination instead of being retried.
   * @default Duration.days(1)
   */
  readonly maxRecordAge?: Duration;
  /**
   * Where records that still fail are sent (as stream pointers, to read back within 24 h).
   * @default a new SQS queue, `subscriberFailures`, kept 14 days
   */
  readonly onFailureQueue?: IQueue;
}

/** Props after defaults, as the construct uses them. */
export interface ResolvedProps {
  readonly filter: DropFilter;
  readonly videoGenApiUrl: string;
  readonly readiness: Readiness;
  readonly maxFileBytes: number;
  readonly maxConcurrentTransfers: number;
  readonly maxQueueWait: Duration;
  readonly maxConcurrentWebhooks: number | undefined;
  readonly webhookThrottle: WebhookThrottle;
  readonly pollAfter: Duration;
  readonly maxWait: Duration;
  readonly maxUploadUrlAttempts: number;
  readonly transferMemoryMiB: number;
  readonly signatureFailureAlarmThreshold: number;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: RetentionDays;
}

export function wholeInRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function optionalWholeInRange(name: string, value: number | undefined, min: number, max: number) {
  return value === undefined ? undefined : wholeInRange(name, value, min, max);
}

/** Applies defaults and checks every prop, with messages that say what to change. */
export function resolveProps(props: VideoGenIngestProps): ResolvedProps {
  const readiness = props.readiness ?? 'download';
  if (!READINESS_LEVELS.includes(readiness)) {
    throw new Error(`readiness must be one of ${READINESS_LEVELS.join(', ')}, got "${readiness as string}"`);
  }
  const videoGenApiUrl = (props.videoGenApiUrl ?? DEFAULT_VIDEOGEN_API_URL).replace(/\/+$/, '');
  if (!/^https:\/\/[^/\s]+/.test(videoGenApiUrl)) {
    throw new Error(`videoGenApiUrl must be an https:// URL, got "${videoGenApiUrl}"`);
  }
  const keyPrefix = props.keyPrefix ?? '';
  if (keyPrefix.startsWith('/')) throw new Error(`keyPrefix must not start with "/", got "${keyPrefix}"`);
  const suffixes = [...(props.keySuffixes ?? [])];
  for (const suffix of suffixes) {
    if (suffix.trim() === '' || /[*?]/.test(suffix)) {
      throw new Error(`keySuffixes must be plain endings such as ".mp4", got "${suffix}"`);
    }
  }
  const maxFileBytes = props.maxFileSize?.toBytes() ?? MAX_SINGLE_PUT_BYTES;
  if (maxFileBytes < 1 || maxFileBytes > MAX_SINGLE_PUT_BYTES) {
    throw new Error(
      `maxFileSize must be from 1 byte to 5 GiB (the single-PUT ceiling), got ${maxFileBytes} bytes`,
    );
  }
  const pollAfter = props.pollAfter ?? Duration.minutes(10);
  const maxWait = props.maxWait ?? Duration.hours(6);
  if (pollAfter.toMilliseconds() < 1000) throw new Error('pollAfter must be at least 1 second');
  if (maxWait.toSeconds() < pollAfter.toSeconds()) {
    throw new Error(
      `maxWait (${maxWait.toHumanString()}) must be at least pollAfter (${pollAfter.toHumanString()})`,
    );
  }
  if (maxWait.toDays({ integral: false }) > 364)
    throw new Error('maxWait must be under 364 days (a Standard workflow lives at most a year)');
  checkHistoryBudget(maxWait, pollAfter);
  const maxQueueWait = props.maxQueueWait ?? Duration.hours(24);
  if (maxQueueWait.toSeconds() < 60 || maxQueueWait.toSeconds() > Duration.days(13).toSeconds()) {
    throw new Error(
      `maxQueueWait must be from 1 minute to 13 days (the transfer queue keeps a message at most 14 days), got ${maxQueueWait.toHumanString()}`,
    );
  }
  return {
    filter: { prefix: keyPrefix, suffixes },
    videoGenApiUrl,
    readiness,
    maxFileBytes,
    maxConcurrentTransfers: wholeInRange(
      'maxConcurrentTransfers',
      props.maxConcurrentTransfers ?? 10,
      2,
      1000,
    ),
    maxQueueWait,
    maxConcurrentWebhooks: optionalWholeInRange(
      'maxConcurrentWebhooks',
      props.maxConcurrentWebhooks,
      1,
      1000,
    ),
    webhookThrottle: {
      rateLimit: wholeInRange(
        'webhookThrottle.rateLimit',
        props.webhookThrottle?.rateLimit ?? DEFAULT_WEBHOOK_THROTTLE.rateLimit,
        1,
        10_000,
      ),
      burstLimit: wholeInRange(
        'webhookThrottle.burstLimit',
        props.webhookThrottle?.burstLimit ?? DEFAULT_WEBHOOK_THROTTLE.burstLimit,
        1,
        5_000,
      ),
    },
    pollAfter,
    maxWait,
    maxUploadUrlAttempts: wholeInRange('maxUploadUrlAttempts', props.maxUploadUrlAttempts ?? 3, 1, 10),
    transferMemoryMiB: wholeInRange('transferMemoryMiB', props.transferMemoryMiB ?? 1024, 128, 10240),
    signatureFailureAlarmThreshold: wholeInRange(
      'signatureFailureAlarmThreshold',
      props.signatureFailureAlarmThreshold ?? 10,
      1,
      100_000,
    ),
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
  };
}
