import { HeadObjectCommand, ListObjectsV2Command, NoSuchKey } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { prepare } from '../../../lambdas/prepare/prepare.ts';
import { getRecord } from '#shared/ingest/store';
import { mp4, png, text } from '#local/media';
import { s3Error } from '../../fixtures/s3-errors.ts';
import { useWorkflowSteps } from '../../helpers/workflow-steps.ts';

const steps = useWorkflowSteps();
const { s3, s3Object, source, prepareDeps } = steps;

describe('Prepare', () => {
  it('accepts media, typed by its bytes whatever the extension, and claims it RECEIVED', async () => {
    s3Object(png(), { 'videogen-display-name': '=?UTF-8?B?w6l0w6kucG5n?=' });
    const input = source('drop/holiday photo.mp4');

    const output = await prepare(prepareDeps(), input);

    expect(output).toEqual({ outcome: 'ACCEPTED', pk: 'SRC#drop/drop/holiday photo.mp4#v1' });
    expect(await getRecord(steps.table.store, output.pk)).toMatchObject({
      status: 'RECEIVED',
      type: 'IMAGE',
      contentType: 'image/png',
      displayName: 'été.png',
      isTemporary: false,
      size: png().length,
    });
  });

  it('reads the temporary option, and stops a source another execution claimed as a duplicate', async () => {
    s3Object(mp4(), { 'videogen-temporary': 'TRUE' });
    const input = source();
    const accepted = await prepare(prepareDeps(), input);
    expect(accepted.outcome).toBe('ACCEPTED');
    expect(await getRecord(steps.table.store, accepted.pk)).toMatchObject({ isTemporary: true });
    // The same execution's Prepare again (its first attempt died after the write): still its own.
    expect((await prepare(prepareDeps(), input)).outcome).toBe('ACCEPTED');
    const otherExecution = { ...input, executionArn: `${input.executionArn}-other` };
    expect((await prepare(prepareDeps(), otherExecution)).outcome).toBe('DUPLICATE');
  });

  it.each([
    ['an empty object', Buffer.alloc(0), {}, 'EMPTY'],
    ['text', text(), {}, 'NOT_MEDIA'],
    ['an object over the limit', Buffer.concat([mp4(), Buffer.alloc(1_000_001)]), {}, 'TOO_LARGE'],
    ['a malformed option', png(), { 'videogen-temporary': 'yes' }, 'INVALID_OPTIONS'],
  ])('records %s REJECTED with its reason, and sends nothing', async (_what, bytes, metadata, code) => {
    s3Object(bytes, metadata);
    const requestsBefore = steps.sim.requests().length;

    const output = await prepare(prepareDeps(), source());

    expect(output).toMatchObject({ outcome: 'REJECTED', error: { code } });
    expect(await getRecord(steps.table.store, output.pk)).toMatchObject({
      status: 'REJECTED',
      error: { code },
    });
    expect(steps.sim.requests()).toHaveLength(requestsBefore);
  });

  it('records a source deleted before Prepare as REJECTED SOURCE_GONE', async () => {
    s3.on(HeadObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    const output = await prepare(prepareDeps(), source());
    expect(output).toMatchObject({ outcome: 'REJECTED', error: { code: 'SOURCE_GONE' } });
  });

  it('records a source deleted before Prepare as REJECTED SOURCE_GONE when S3 answers 403 for it', async () => {
    s3.on(HeadObjectCommand).rejects(s3Error(403, 'Forbidden'));
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 0 });
    const output = await prepare(prepareDeps(), source());
    expect(output).toMatchObject({ outcome: 'REJECTED', error: { code: 'SOURCE_GONE' } });
  });

  it('lets a transient S3 error through for the workflow to retry', async () => {
    s3.on(HeadObjectCommand).rejects(s3Error(500, 'InternalError', 'boom'));
    await expect(prepare(prepareDeps(), source())).rejects.toThrow('boom');
  });
});
