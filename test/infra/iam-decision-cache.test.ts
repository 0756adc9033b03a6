/**
 * The local IAM's decision cache: one decision for every resource the policies cannot tell
 * apart (the objects of one bucket), never one where they can.
 */
import { describe, expect, it } from 'vitest';
import { templateArns } from '#local/iam/arns';
import { LocalIam } from '#local/iam/local-iam';
import { defaultStack, functionIdOf } from '../helpers/default-stack.ts';

describe('the local IAM’s decisions', () => {
  it('are evaluated once for the objects of one bucket, and apart for another bucket', async () => {
    const { template } = defaultStack();
    const arns = templateArns(template);
    const iam = new LocalIam(template, arns);
    const { accessKeyId } = iam.credentialsFor(functionIdOf(template, 'transfer'));
    const [bucket] = Object.keys(template.findResources('AWS::S3::Bucket')).filter((id) => /Drop/i.test(id));
    const object = (key: string) => `${arns.arnOf(bucket ?? '')}/${key}`;
    const read = (resource: string) => iam.check({ accessKeyId, action: 's3:GetObject', resource });

    await read(object('library/a.png'));
    await read(object('library/b.mp4'));
    await read(object('c.png'));
    expect(iam.evaluations).toBe(1);

    await expect(read('arn:aws:s3:::someone-elses/a.png')).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('arn:aws:s3:::someone-elses/a.png') as string,
    });
    await expect(read('arn:aws:s3:::someone-elses/b.png')).rejects.toMatchObject({
      message: expect.stringContaining('arn:aws:s3:::someone-elses/b.png') as string,
    });
    expect(iam.evaluations).toBe(2);
  });
});
