import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalRuntime } from '#local/runtime/runtime';
import { mp4, png, text, wav } from '#local/media';
import { present } from '../helpers/present.ts';
import { executionOf, ingestAll, receivedBy, sha256, startRuntime } from '../helpers/runtime.ts';

describe('the local runtime, end to end (default readiness: download)', () => {
  let runtime: LocalRuntime;
  beforeAll(async () => {
    runtime = await startRuntime({
      maxFileSizeBytes: 64 * 1024,
      // Webhooks carry every file here; a loaded CI machine must not send one down the poll path.
      pollAfterSeconds: 30,
    });
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('turns an image, a video and an audio file into VideoGen files typed by their bytes, bytes intact', async () => {
    const files = {
      'media/photo.png': { body: png(32, 32) },
      'media/clip.bin': { body: mp4(4000) },
      'media/voice.wav': { body: wav(0.5) },
    };

    await ingestAll(runtime, files);
    // Deliveries come in any order (each in an environment of its own): a later event can make
    // the file ready before an earlier one lands. Once all have landed, the record holds each.
    await runtime.simulator?.settled();
    const records = Object.fromEntries((await runtime.records()).map((record) => [record.key, record]));

    expect(records['media/photo.png']).toMatchObject({
      status: expect.stringMatching(/READY|ANALYZED/),
      type: 'IMAGE',
      contentType: 'image/png',
    });
    expect(records['media/clip.bin']).toMatchObject({ type: 'VIDEO', contentType: 'video/mp4' });
    expect(records['media/voice.wav']).toMatchObject({ type: 'AUDIO' });
    for (const [key, file] of Object.entries(files)) {
      expect(receivedBy(runtime, records[key])).toEqual({
        bytes: file.body.length,
        sha256: sha256(file.body),
        at: expect.any(String),
      });
      expect(records[key]?.events).toHaveProperty('file.download_ready');
      expect(records[key]?.readyAt).toEqual(expect.any(String));
    }
    expect(runtime.simulator?.file(records['media/clip.bin']?.fileId ?? '')?.file.type).toBe('VIDEO');
    // What the execution carries after Transfer (`$.upload`, the worker's answer) holds the
    // file id, the bytes and when they were accepted: never the presigned URL.
    const output = JSON.parse(present(executionOf(runtime, 'media/clip.bin')?.output, 'the output')) as {
      upload: Record<string, unknown>;
    };
    expect(Object.keys(output.upload).sort()).toEqual(['bytes', 'fileId', 'sent', 'uploadedAt']);
    expect(JSON.stringify(output)).not.toMatch(/uploadUrl|\/upload\/|X-Amz|signature/i);
  });

  it('sends a temporary file as temporary, and it is never analyzed', async () => {
    const records = await ingestAll(runtime, {
      'tmp/clip.mp4': {
        body: mp4(),
        metadata: { 'videogen-temporary': 'true', 'videogen-display-name': 'Quick clip' },
      },
    });
    const record = records['tmp/clip.mp4'];
    expect(record).toMatchObject({ status: 'READY', isTemporary: true, displayName: 'Quick clip' });
    await runtime.simulator?.settled();
    expect(runtime.simulator?.file(record?.fileId ?? '')?.file).toMatchObject({
      isTemporary: true,
      displayName: 'Quick clip',
      analysis: { status: 'SKIPPED' },
    });
  });

  it('records bad input REJECTED with its reason and sends VideoGen nothing', async () => {
    const createsBefore = runtime.simulator?.requests().filter((request) => request.op === 'create').length;

    const records = await ingestAll(runtime, {
      'bad/empty.mp4': { body: Buffer.alloc(0) },
      'bad/notes.mp4': { body: text() },
      'bad/huge.mp4': { body: mp4(70 * 1024) },
      'bad/options.png': { body: png(), metadata: { 'videogen-temporary': 'maybe' } },
    });

    expect(
      Object.fromEntries(
        Object.entries(records)
          .filter(([key]) => key.startsWith('bad/'))
          .map(([key, record]) => [key, [record.status, record.error?.code]]),
      ),
    ).toEqual({
      'bad/empty.mp4': ['REJECTED', 'EMPTY'],
      'bad/notes.mp4': ['REJECTED', 'NOT_MEDIA'],
      'bad/huge.mp4': ['REJECTED', 'TOO_LARGE'],
      'bad/options.png': ['REJECTED', 'INVALID_OPTIONS'],
    });
    expect(runtime.simulator?.requests().filter((request) => request.op === 'create')).toHaveLength(
      createsBefore ?? -1,
    );
  });

  it('ingests keys with spaces, unicode, + and % exactly as named (the local S3 events carry them URL-encoded)', async () => {
    const keys = [
      'odd names/my clip (1).mp4',
      'odd names/été 日本.png',
      'odd names/a+b=c.wav',
      'odd names/100%.mp4',
      'a b+c%41é.mp4',
      '100%.png',
      '日本/音.mp3',
      // 994 bytes, a segment longer than a file name may be: S3 takes up to 1,024.
      `long/${'é'.repeat(300)}/${'k'.repeat(383)}.mp4`,
    ];
    const bodies = [mp4(), png(), wav(), mp4(10), mp4(20), png(3, 3), wav(0.02), mp4(30)];
    const records = await ingestAll(
      runtime,
      Object.fromEntries(keys.map((key, index) => [key, { body: bodies[index] ?? Buffer.alloc(0) }])),
    );
    for (const key of keys) {
      expect(records[key], key).toMatchObject({ key, status: expect.stringMatching(/READY|ANALYZED/) });
      expect(runtime.simulator?.file(records[key]?.fileId ?? '')?.file.displayName).toBe(
        key.split('/').pop(),
      );
    }
    // The events did carry encoded keys.
    expect(JSON.parse(runtime.lastS3Event() ?? '{}')).toMatchObject({
      detail: { object: { key: expect.stringMatching(/^long\/(%C3%A9)+\/k+\.mp4$/) as unknown } },
    });
  });

  it("answers a malformed request to any endpoint with that request's error, and goes on ingesting", async () => {
    const { endpoints } = runtime.ops;
    const signed = {
      authorization:
        'AWS4-HMAC-SHA256 Credential=S3RVER/20260101/us-east-1/x/aws4_request, SignedHeaders=host, Signature=0',
    };
    const json = (target: string) => ({
      ...signed,
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': target,
    });
    // The earlier files' last events (analysis) still arrive: past the webhook stage's burst
    // they are answered 429, and so would the forged request be.
    await runtime.simulator?.settled();
    await runtime.idle();
    const answers = await Promise.all(
      [
        [`${endpoints.s3}/${runtime.bucket}/bad%E0%A4%A.mp4`, { method: 'PUT', body: 'x', headers: signed }],
        [endpoints.dynamodb, { method: 'POST', body: '{no', headers: json('DynamoDB_20120810.GetItem') }],
        [
          endpoints.sfn,
          { method: 'POST', body: '{"a": 5', headers: json('AWSStepFunctions.StartExecution') },
        ],
        [endpoints.sqs, { method: 'POST', body: '{bad', headers: json('AmazonSQS.SendMessage') }],
        [
          runtime.webhookUrl,
          { method: 'POST', body: '{bad', headers: { 'content-type': 'application/json' } },
        ],
      ].map(async ([url, init]) => (await fetch(url as string, init as RequestInit)).status),
    );
    expect(answers).toEqual([400, 400, 400, 400, 401]);
    const records = await ingestAll(runtime, { 'after-bad-requests.png': { body: png(4, 4) } });
    expect(records['after-bad-requests.png']?.status).toMatch(/READY|ANALYZED/);
  });

  it('makes a duplicated S3 event a no-op: one execution, one VideoGen file', async () => {
    const creates = () =>
      runtime.simulator?.requests().filter((request) => request.op === 'create').length ?? 0;
    await runtime.drop('dup/once.mp4', mp4());
    runtime.redeliverLastS3Event();
    runtime.redeliverLastS3Event();
    const before = creates();
    const records = await ingestAll(runtime, {});
    expect(records['dup/once.mp4']?.attempts).toBe(1);
    expect(
      runtime.stepFunctions.executions().filter((execution) => execution.name.startsWith('once_mp4')),
    ).toHaveLength(1);
    expect(creates()).toBeLessThanOrEqual(before + 1);
    expect(runtime.queues.deadLetters.depth).toBe(0);
  });

  it('runs the happy path in 6 state transitions', () => {
    const happy = runtime.stepFunctions
      .executions()
      .find((execution) => execution.name.startsWith('photo_png'));
    expect(happy).toMatchObject({ status: 'SUCCEEDED', transitions: 6 });
    expect(happy?.statesEntered).not.toHaveProperty('Poll');
  });
});
