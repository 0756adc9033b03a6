/**
 * The runtime's own credentials: s3rver accepts only these, and `aws … --endpoint-url` needs
 * them too. A module of its own, so an emulator that signs with them loads no IAM evaluator.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
