/**
 * Object keys in S3's events. AWS documents that S3 event notifications carry keys
 * URL-encoded as a form is (a space as `+`); its EventBridge page says nothing, and
 * maintained code disagrees (Powertools for Python unquotes EventBridge keys, other projects
 * see them raw). So a key from an event is tried both ways: decoded first, then as sent.
 */

/**
 * The keys an event's key may stand for, in the order to try them: the form-decoded key
 * when decoding changes it (and is valid: a raw `100%.png` is not), then the key as sent.
 */
export function eventKeyCandidates(eventKey: string): string[] {
  let decoded: string;
  try {
    decoded = decodeURIComponent(eventKey.replace(/\+/g, ' '));
  } catch {
    return [eventKey];
  }
  return decoded === eventKey ? [eventKey] : [decoded, eventKey];
}

/**
 * A key as the local S3 front puts it in its events, as AWS documents for S3 event
 * notifications: every byte but unreserved characters and `/` percent-encoded, a space as `+`.
 */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}
