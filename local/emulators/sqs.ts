/**
 * The SQS API of the local runtime's two queues, for the ops CLI (`replay-dlq`) and for
 * anyone poking at them with the AWS SDK or CLI: SendMessage to the ingest queue,
 * ReceiveMessage and DeleteMessage on the dead-letter queue, GetQueueAttributes on both.
 * SQS speaks the AWS JSON protocol, so it rides on the same small server as Step Functions.
 */
import { createHash } from 'node:crypto';
import type { LocalQueue } from '../runtime/queue.ts';
import { AwsApiError, startJsonApi, type JsonApiServer } from './json-api.ts';

export interface LocalSqs extends JsonApiServer {
  readonly ingestQueueUrl: string;
  readonly deadLetterQueueUrl: string;
}

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

export async function startSqs(
  queue: LocalQueue,
  names: { ingest: string; deadLetters: string },
): Promise<LocalSqs> {
  let urls = { ingest: '', deadLetters: '' };
  const which = (body: Record<string, unknown>): 'ingest' | 'deadLetters' => {
    const url = body.QueueUrl;
    if (url === urls.ingest) return 'ingest';
    if (url === urls.deadLetters) return 'deadLetters';
    throw new AwsApiError('AWS.SimpleQueueService.NonExistentQueue', `no queue ${String(url)}`);
  };
  const server = await startJsonApi({
    GetQueueUrl: (body) => {
      if (body.QueueName === names.ingest) return { QueueUrl: urls.ingest };
      if (body.QueueName === names.deadLetters) return { QueueUrl: urls.deadLetters };
      throw new AwsApiError('AWS.SimpleQueueService.NonExistentQueue', `no queue ${String(body.QueueName)}`);
    },
    GetQueueAttributes: (body) => ({
      Attributes: {
        ApproximateNumberOfMessages: String(
          which(body) === 'ingest' ? queue.depth : queue.deadLetters.length,
        ),
      },
    }),
    SendMessage: (body) => {
      if (which(body) !== 'ingest')
        throw new AwsApiError('InvalidParameterValue', 'send to the ingest queue only');
      const text = typeof body.MessageBody === 'string' ? body.MessageBody : '';
      queue.send(text);
      return { MessageId: md5(`${text}${Date.now()}`), MD5OfMessageBody: md5(text) };
    },
    ReceiveMessage: (body) => {
      if (which(body) !== 'deadLetters') {
        throw new AwsApiError(
          'InvalidParameterValue',
          'the starter consumes the ingest queue; receive from the DLQ only',
        );
      }
      const max = Math.min(10, Number(body.MaxNumberOfMessages ?? 1));
      const visibilityMs = Number(body.VisibilityTimeout ?? 30) * 1000;
      return {
        Messages: queue.receiveDeadLetters(max, visibilityMs).map(({ receiptHandle, message }) => ({
          MessageId: message.messageId,
          ReceiptHandle: receiptHandle,
          Body: message.body,
          MD5OfBody: md5(message.body),
          Attributes: { ApproximateReceiveCount: String(message.receiveCount) },
        })),
      };
    },
    DeleteMessage: (body) => {
      which(body);
      if (!queue.deleteDeadLetter(String(body.ReceiptHandle))) {
        throw new AwsApiError('ReceiptHandleIsInvalid', 'unknown or expired receipt handle');
      }
      return {};
    },
  });
  urls = {
    ingest: `${server.endpoint}/000000000000/${names.ingest}`,
    deadLetters: `${server.endpoint}/000000000000/${names.deadLetters}`,
  };
  return { ...server, ingestQueueUrl: urls.ingest, deadLetterQueueUrl: urls.deadLetters };
}
