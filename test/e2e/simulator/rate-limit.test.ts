import { afterEach, describe, expect, it } from 'vitest';
import { SlidingWindowLimit } from '#local/simulator/rate-limit';
import { VideoGenSimulator } from '#local/simulator/simulator';
import { VideoGenClient, VideoGenRateLimitedError } from '#shared/videogen/index';

let sim: VideoGenSimulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('the simulator’s rate limit on creates', () => {
  it('accepts at most the rate in any trailing second', () => {
    const limit = new SlidingWindowLimit(2);
    expect([0, 100, 200, 999, 1000, 1100, 1101].map((at) => limit.tryTake(at))).toEqual([
      true,
      true,
      false,
      false,
      true,
      true,
      false,
    ]);
  });

  it('answers creates above the rate 429 with Retry-After, for every caller alike', async () => {
    sim = await VideoGenSimulator.start({ createRateLimit: { perSecond: 3, retryAfterSeconds: 2 } });
    const url = sim.url;
    const callers = [1, 2].map(() => new VideoGenClient({ baseUrl: url, apiKey: 'k' }));
    const answers = await Promise.allSettled(
      Array.from({ length: 5 }, (_, index) =>
        (callers[index % 2] as VideoGenClient).createFile({ displayName: `${index}.mp4` }),
      ),
    );
    const refused: unknown[] = answers.flatMap((answer) =>
      answer.status === 'rejected' ? [answer.reason as unknown] : [],
    );
    expect(refused).toHaveLength(2);
    for (const error of refused) {
      expect(error).toBeInstanceOf(VideoGenRateLimitedError);
      expect((error as VideoGenRateLimitedError).retryAfterSeconds).toBe(2);
    }
  });
});
