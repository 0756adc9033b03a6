import { Readable } from 'node:stream';
import { GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { sdkStreamMixin } from '@smithy/util-stream';
import { describe, expect, it } from 'vitest';
import { createVideoGenFile } from '../../../lambdas/transfer/create.ts';
import { transfer } from '../../../lambdas/transfer/transfer.ts';
import { getRecord } from '#shared/ingest/store';
import { uploadToPresignedUrl, UploadUrlExpiredError } from '#shared/videogen/index';
import { mp4, png } from '#local/media';
import { s3Error } from '../../fixtures/s3-errors.ts';
import { useWorkflowSteps } from '../../helpers/workflow-steps.ts';

const steps = useWorkflowSteps();
const { s3, now, noWait, objectBody, acceptedRecord, createDeps } = steps;

describe('Transfer', () => {
  const transferDeps = () => ({
    s3: new S3Client({}),
    store: steps.table.store,
    upload: uploadToPresignedUrl,
    now,
    retry: noWait,
  });

  async function createdFor(bytes: Buffer) {
    const record = await acceptedRecord(undefined, { size: bytes.length });
    const created = await createVideoGenFile(createDeps(), { pk: record.pk });
    return { record, created };
  }

  it('streams the object to VideoGen and records UPLOADED; the URL leaves the output', async () => {
    const bytes = mp4(200_000);
    s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes) }));
    const { record, created } = await createdFor(bytes);

    const output = await transfer(transferDeps(), { pk: record.pk, ...created });

    const stored = await getRecord(steps.table.store, record.pk);
    expect(output).toEqual({
      fileId: created.fileId,
      bytes: bytes.length,
      sent: true,
      uploadedAt: stored?.uploadedAt,
    });
    expect(steps.sim.file(created.fileId)?.received?.bytes).toBe(bytes.length);
    expect(stored).toMatchObject({ status: 'UPLOADED', uploadedAt: expect.any(String) });
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'drop',
      VersionId: 'v1',
    });
  });

  it('retries with a fresh source stream after a 5xx from the upload URL', async () => {
    const bytes = png();
    s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes) }));
    steps.sim.faults.add({ fault: 'server_error', on: 'put', nth: 1 });
    const { record, created } = await createdFor(bytes);

    await transfer(transferDeps(), { pk: record.pk, ...created });

    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(2);
    expect(
      steps.sim
        .uploads()
        .filter((upload) => upload.fileId === created.fileId)
        .map((upload) => upload.status),
    ).toEqual([500, 200]);
  });

  it('passes an expired URL up as UploadUrlExpiredError for the workflow to create again', async () => {
    const bytes = png();
    s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes) }));
    steps.sim.faults.add({ fault: 'expire_url', nth: 1 });
    const { record, created } = await createdFor(bytes);

    await expect(transfer(transferDeps(), { pk: record.pk, ...created })).rejects.toBeInstanceOf(
      UploadUrlExpiredError,
    );
    expect((await getRecord(steps.table.store, record.pk))?.status).toBe('UPLOADING');
  });

  it('answers SourceGoneError when the object was deleted before its transfer', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    const { record, created } = await createdFor(png());
    await expect(transfer(transferDeps(), { pk: record.pk, ...created })).rejects.toMatchObject({
      name: 'SourceGoneError',
    });
  });

  it('answers SourceGoneError when the object was overwritten before its transfer (If-Match fails)', async () => {
    s3.on(GetObjectCommand).rejects(s3Error(412, 'PreconditionFailed', 'changed'));
    const { record, created } = await createdFor(png());
    await expect(transfer(transferDeps(), { pk: record.pk, ...created })).rejects.toMatchObject({
      name: 'SourceGoneError',
    });
  });

  it('retries with a fresh stream when the source stream breaks mid-upload', async () => {
    const bytes = mp4(300_000);
    let opened = 0;
    s3.on(GetObjectCommand).callsFake(() => {
      opened += 1;
      if (opened > 1) return { Body: objectBody(bytes) };
      const broken = new Readable({
        read() {
          this.push(bytes.subarray(0, 65_536));
          this.destroy(new Error('socket hang up (S3)'));
        },
      });
      return { Body: sdkStreamMixin(broken) };
    });
    const { record, created } = await createdFor(bytes);

    await expect(transfer(transferDeps(), { pk: record.pk, ...created })).resolves.toMatchObject({
      sent: true,
    });

    expect(opened).toBe(2);
    // The broken PUT was aborted (never stored); the fresh stream's PUT stored every byte.
    expect(
      steps.sim.uploads().filter((upload) => upload.fileId === created.fileId && upload.outcome === 'stored'),
    ).toHaveLength(1);
    expect(steps.sim.file(created.fileId)?.received?.bytes).toBe(bytes.length);
  });

  it('does not send twice when VideoGen already has the bytes', async () => {
    const bytes = png();
    s3.on(GetObjectCommand).callsFake(() => ({ Body: objectBody(bytes) }));
    const { record, created } = await createdFor(bytes);
    await transfer(transferDeps(), { pk: record.pk, ...created });
    // A later delivery has no record in hand: it reads the one the first transfer left.
    const again = await transfer(transferDeps(), {
      pk: record.pk,
      fileId: created.fileId,
      uploadUrl: created.uploadUrl,
    });
    expect(again.sent).toBe(false);
    expect(steps.sim.uploads().filter((upload) => upload.fileId === created.fileId)).toHaveLength(1);
  });
});
