/**
 * The SQS API of the local runtime's queues, for the handlers (the transfer worker's
 * ChangeMessageVisibility), the ops CLI (`replay-dlq`) and anyone poking at them with an
 * AWS SDK: GetQueueUrl, GetQueueAttributes, SendMessage, ReceiveMessage, DeleteMessage and
 * ChangeMessageVisibility, ListQueues, judged by the local IAM. SQS speaks the AWS JSON
 * protocol, so it rides on the same small server as Step Functions, and the query protocol
 * the AWS CLI v2.9 speaks (`sqs-query.ts`). A queue that an event source mapping
 * consumes is not received from here: on AWS a second consumer would steal its messages.
 */
import { createHash } from 'node:crypto';
import { AwsApiError, startJsonApi, type JsonApiServer, type JudgeCall } from '../../http/json-api.ts';
import { SqsQueueError, type SqsQueue } from './sqs-queue.ts';
import { SQS_QUERY_PROTOCOL } from './sqs-query.ts';
import { LOCAL_ACCOUNT } from '../../cfn.ts';

export interface LocalSqs extends JsonApiServer {
  /** A queue's URL on this endpoint. */
  urlOf(queue: SqsQueue): string;
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

export async function startSqs(
  queues: readonly SqsQueue[],
  options: { consumed: ReadonlySet<SqsQueue>; judge?: JudgeCall },
): Promise<LocalSqs> {
  const byName = new Map(queues.map((queue) => [queue.name, queue]));
  const queueOf = (body: Record<string, unknown>): SqsQueue => {
    // The name is the URL's last part: the deployed-style URL a function's variables hold works too.
    const url = typeof body.QueueUrl === 'string' ? body.QueueUrl : '';
    const queue = byName.get(url.split('/').pop() ?? '');
    if (!queue) throw new AwsApiError('AWS.SimpleQueueService.NonExistentQueue', `no queue ${url}`);
    return queue;
  };
  const guard = <T>(run: () => T): T => {
    try {
      return run();
    } catch (error) {
      if (error instanceof SqsQueueError) throw new AwsApiError(error.name, error.message);
      throw error;
    }
  };
  let endpoint = '';
  const server = await startJsonApi(
    {
      ListQueues: (body) => {
        const prefix = typeof body.QueueNamePrefix === 'string' ? body.QueueNamePrefix : '';
        return {
          QueueUrls: [...byName.keys()]
            .filter((name) => name.startsWith(prefix))
            .map((name) => `${endpoint}/${LOCAL_ACCOUNT}/${name}`),
        };
      },
      GetQueueUrl: (body) => {
        const queue = byName.get(String(body.QueueName));
        if (!queue)
          throw new AwsApiError(
            'AWS.SimpleQueueService.NonExistentQueue',
            `no queue ${String(body.QueueName)}`,
          );
        return { QueueUrl: `${endpoint}/${LOCAL_ACCOUNT}/${queue.name}` };
      },
      GetQueueAttributes: (body) => {
        const queue = queueOf(body);
        return {
          Attributes: {
            ApproximateNumberOfMessages: String(queue.visible),
            ApproximateNumberOfMessagesNotVisible: String(queue.inFlight),
            VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
            QueueArn: queue.arn,
          },
        };
      },
      SendMessage: (body) =>
        guard(() => {
          const text = typeof body.MessageBody === 'string' ? body.MessageBody : '';
          const message = queueOf(body).send(text, Number(body.DelaySeconds ?? 0));
          return { MessageId: message.messageId, MD5OfMessageBody: md5(text) };
        }),
      ReceiveMessage: (body) => {
        const queue = queueOf(body);
        if (options.consumed.has(queue)) {
          throw new AwsApiError(
            'InvalidParameterValue',
            `a Lambda event source mapping consumes ${queue.name}; receive from its dead-letter queue instead`,
          );
        }
        const max = Math.min(10, Number(body.MaxNumberOfMessages ?? 1));
        const visibility = body.VisibilityTimeout === undefined ? undefined : Number(body.VisibilityTimeout);
        return {
          Messages: queue.receive(max, visibility).map(({ receiptHandle, message }) => ({
            MessageId: message.messageId,
            ReceiptHandle: receiptHandle,
            Body: message.body,
            MD5OfBody: md5(message.body),
            Attributes: { ApproximateReceiveCount: String(message.receiveCount) },
          })),
        };
      },
      DeleteMessage: (body) => {
        if (!queueOf(body).delete(String(body.ReceiptHandle))) {
          throw new AwsApiError('ReceiptHandleIsInvalid', 'unknown or expired receipt handle');
        }
        return {};
      },
      ChangeMessageVisibility: (body) =>
        guard(() => {
          queueOf(body).changeVisibility(String(body.ReceiptHandle), Number(body.VisibilityTimeout));
          return {};
        }),
    },
    'application/x-amz-json-1.0',
    options.judge,
    SQS_QUERY_PROTOCOL,
  );
  endpoint = server.endpoint;
  return { ...server, urlOf: (queue) => `${endpoint}/${LOCAL_ACCOUNT}/${queue.name}` };
}
