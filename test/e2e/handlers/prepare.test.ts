import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NoSuchKey } from '@aws-sdk/client-s3';
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
    // One ranged read answers what a HEAD would, with the bytes to sniff.
    expect(s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input)).toEqual([
      expect.objectContaining({ Key: 'drop/holiday photo.mp4', VersionId: 'v1', Range: 'bytes=0-4099' }),
    ]);
    expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(0);
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
    // Only an empty object, whose range S3 answers 416, is headed for its version and ETag.
    expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(bytes.length === 0 ? 1 : 0);
  });

  it('records a source deleted before Prepare as REJECTED SOURCE_GONE', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    const output = await prepare(prepareDeps(), source());
    expect(output).toMatchObject({ outcome: 'REJECTED', error: { code: 'SOURCE_GONE' } });
  });

  it('records a source deleted before Prepare as REJECTED SOURCE_GONE when S3 answers 403 for it', async () => {
    s3.on(GetObjectCommand).rejects(s3Error(403, 'Forbidden'));
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 0 });
    const output = await prepare(prepareDeps(), source());
    expect(output).toMatchObject({ outcome: 'REJECTED', error: { code: 'SOURCE_GONE' } });
  });

  describe('the key an S3 event names, URL-encoded or not', () => {
    /** S3's answer to Prepare's ranged read of the object's first bytes. */
    const object = (bytes: Buffer, versionId: string) => ({
      ContentLength: bytes.length,
      ContentRange: `bytes 0-${bytes.length - 1}/${bytes.length}`,
      ETag: '"etag1"',
      VersionId: versionId,
      Metadata: {},
      Body: steps.objectBody(bytes),
    });
    const notFound = () => new NoSuchKey({ message: 'no such key', $metadata: { httpStatusCode: 404 } });

    it.each([
      ['encoded, as AWS documents for notifications', 'a+b%2Bc%2541%C3%A9.mp4'],
      ['raw, as some report for EventBridge', 'a b+c%41é.mp4'],
    ])('resolves a key sent %s to the object', async (_how, eventKey) => {
      s3Object(mp4(), {}, 'v7');
      s3.on(GetObjectCommand).rejects(notFound());
      s3.on(GetObjectCommand, { Key: 'a b+c%41é.mp4' }).callsFake(() => object(mp4(), 'v7'));
      const input = { ...source(), source: { ...source().source, key: eventKey, versionId: 'v7' } };

      const output = await prepare(prepareDeps(), input);

      expect(output).toEqual({ outcome: 'ACCEPTED', pk: 'SRC#drop/a b+c%41é.mp4#v7' });
      expect(await getRecord(steps.table.store, output.pk)).toMatchObject({
        key: 'a b+c%41é.mp4',
        displayName: 'a b+c%41é.mp4',
      });
    });

    it('when both forms name objects, takes the one holding the event’s version', async () => {
      s3Object(mp4(), {}, 'raw-version');
      s3.on(GetObjectCommand).rejects(notFound());
      // "a+b.mp4" sent raw; "a b.mp4" exists too, but not in this version.
      s3.on(GetObjectCommand, { Key: 'a b.mp4', VersionId: 'raw-version' }).rejects(notFound());
      s3.on(GetObjectCommand, { Key: 'a+b.mp4', VersionId: 'raw-version' }).callsFake(() =>
        object(mp4(), 'raw-version'),
      );
      const input = { ...source(), source: { ...source().source, key: 'a+b.mp4', versionId: 'raw-version' } };

      expect(await prepare(prepareDeps(), input)).toEqual({
        outcome: 'ACCEPTED',
        pk: 'SRC#drop/a+b.mp4#raw-version',
      });
    });

    it('records the decoded key overwritten (412) as SOURCE_CHANGED, not gone', async () => {
      s3.on(GetObjectCommand).rejects(notFound());
      s3.on(GetObjectCommand, { Key: 'my clip.mp4' }).rejects(s3Error(412, 'PreconditionFailed'));
      const input = {
        ...source(),
        source: { ...source().source, key: 'my+clip.mp4', versionId: null, etag: 'old' },
      };

      const output = await prepare(prepareDeps(), input);

      expect(output).toMatchObject({ outcome: 'REJECTED', error: { code: 'SOURCE_CHANGED' } });
      expect(output.pk).toBe('SRC#drop/my clip.mp4#old');
    });
  });

  it('lets a transient S3 error through for the workflow to retry', async () => {
    s3.on(GetObjectCommand).rejects(s3Error(500, 'InternalError', 'boom'));
    await expect(prepare(prepareDeps(), source())).rejects.toThrow('boom');
  });
});
