import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEventKey, eventKeyCandidates } from '#shared/s3-event-key';
import { dropKeyPattern, eventMatchesDropFilter } from '#shared/drop-filter';

describe('keys in S3 events', () => {
  it('encodes as S3 notifications do: a space as +, / kept, the rest percent-encoded', () => {
    expect(encodeEventKey('a b+c%41é.mp4')).toBe('a+b%2Bc%2541%C3%A9.mp4');
    expect(encodeEventKey('100%.png')).toBe('100%25.png');
    expect(encodeEventKey('日本/音.mp3')).toBe('%E6%97%A5%E6%9C%AC/%E9%9F%B3.mp3');
  });

  it('tries the decoded key first, then the key as sent; a key that does not decode is tried as sent only', () => {
    expect(eventKeyCandidates('a+b%2Bc%2541%C3%A9.mp4')).toEqual(['a b+c%41é.mp4', 'a+b%2Bc%2541%C3%A9.mp4']);
    // Sent raw (not encoded), it still resolves: its decoded form does not exist, the raw one does.
    expect(eventKeyCandidates('a b+c%41é.mp4')).toEqual(['a b cAé.mp4', 'a b+c%41é.mp4']);
    expect(eventKeyCandidates('100%.png')).toEqual(['100%.png']);
    expect(eventKeyCandidates('plain/clip.mp4')).toEqual(['plain/clip.mp4']);
  });

  it('finds every key among the candidates of its encoded form, and of itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), (key) => {
        expect(eventKeyCandidates(encodeEventKey(key))[0]).toBe(key);
        expect(eventKeyCandidates(key)).toContain(key);
      }),
    );
  });

  it('filters an event by either form of its key, and the rule matches both forms of a prefix', () => {
    const filter = { prefix: 'my folder/', suffixes: [] };
    expect(eventMatchesDropFilter('my+folder/clip.mp4', filter)).toBe(true);
    expect(eventMatchesDropFilter('my folder/clip.mp4', filter)).toBe(true);
    expect(eventMatchesDropFilter('other/clip.mp4', filter)).toBe(false);
    expect(dropKeyPattern(filter)).toEqual([{ prefix: 'my folder/' }, { prefix: 'my+folder/' }]);
    expect(dropKeyPattern({ prefix: '', suffixes: ['.mp4'] })).toEqual([
      { suffix: { 'equals-ignore-case': '.mp4' } },
    ]);
  });
});
