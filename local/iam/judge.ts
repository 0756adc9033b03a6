/**
 * What an emulator's front asks local IAM before it answers a JSON call (`local-iam.ts`
 * makes one judge per service): whether the caller (the access key its SigV4 signature
 * names) may make it. Throws an error named `AccessDeniedException` to refuse it, as AWS
 * answers. Here, in iam/, so that the emulators depend on IAM and never the other way.
 */
export type JudgeCall = (
  operation: string,
  body: Record<string, unknown>,
  accessKeyId: string | undefined,
) => Promise<void>;
