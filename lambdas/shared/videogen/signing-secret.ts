/**
 * What the webhook signing secret holds when the stack registered the endpoint itself:
 * the current endpoint's secret under `secret` (so a reader of one field still works), and
 * every endpoint VideoGen may still deliver to under `endpoints`. During an update two are
 * live (the new one, and the old one until CloudFormation deletes it); after a rollback the
 * old one is current again. Deliveries verify against all of them.
 */
import * as z from 'zod/mini';

export const registeredEndpointSchema = z.object({
  id: z.string().check(z.minLength(1)),
  url: z.string().check(z.minLength(1)),
  secret: z.string().check(z.minLength(1)),
  /** The event types it subscribes to (absent in documents written before they were kept). */
  events: z.optional(z.array(z.string())),
});
export type RegisteredEndpoint = z.infer<typeof registeredEndpointSchema>;

export const signingSecretDocumentSchema = z.object({
  secret: z.string().check(z.minLength(1)),
  endpointId: z.string().check(z.minLength(1)),
  endpoints: z.array(registeredEndpointSchema),
});
export type SigningSecretDocument = z.infer<typeof signingSecretDocumentSchema>;

/** The registration's document in a secret's text, or undefined for any other text (yours, or CloudFormation's first random value). */
export function parseSigningSecretDocument(text: string | undefined): SigningSecretDocument | undefined {
  if (!text?.trim().startsWith('{')) return undefined;
  try {
    const parsed = signingSecretDocumentSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** `endpoint` becomes current; it is kept once, first. */
export function withCurrentEndpoint(
  document: SigningSecretDocument | undefined,
  endpoint: RegisteredEndpoint,
): SigningSecretDocument {
  const others = (document?.endpoints ?? []).filter((known) => known.id !== endpoint.id);
  return { secret: endpoint.secret, endpointId: endpoint.id, endpoints: [endpoint, ...others] };
}

/** The document without endpoint `id` (the next one current when it was), or undefined when none is left. */
export function withoutEndpoint(
  document: SigningSecretDocument,
  id: string,
): SigningSecretDocument | undefined {
  const [next, ...rest] = document.endpoints.filter((known) => known.id !== id);
  return next ? withCurrentEndpoint({ ...document, endpoints: rest }, next) : undefined;
}

/**
 * The secrets a delivery may be signed with: every live endpoint's when the registration
 * wrote the secret, else the one value of a secret you brought (`whsec_…` or `{"secret": …}`).
 */
export function signingSecretsOf(text: string, single: () => string): string[] {
  const document = parseSigningSecretDocument(text);
  return document ? [...new Set(document.endpoints.map((endpoint) => endpoint.secret))] : [single()];
}
