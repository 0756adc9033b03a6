import { describe, expect, it } from 'vitest';
import { DEFAULT_ENVIRONMENTS_PER_FUNCTION, environmentCap } from '#local/services/lambda/environment-caps';

describe('environmentCap', () => {
  it('gives a function one environment per core, and the webhook, whose caller waits, twice that', () => {
    expect(environmentCap({ answersCaller: false, mappingMaxConcurrency: [] })).toBe(
      DEFAULT_ENVIRONMENTS_PER_FUNCTION,
    );
    expect(environmentCap({ answersCaller: true, mappingMaxConcurrency: [] })).toBe(
      2 * DEFAULT_ENVIRONMENTS_PER_FUNCTION,
    );
  });

  it('lets a queue mapping’s maximum concurrency raise the cap (the transfer worker), never lower it', () => {
    expect(environmentCap({ answersCaller: false, mappingMaxConcurrency: [40, 3] })).toBe(40);
    expect(environmentCap({ answersCaller: false, mappingMaxConcurrency: [1] })).toBe(
      DEFAULT_ENVIRONMENTS_PER_FUNCTION,
    );
  });

  it('caps every function at environmentsPerFunction when it is set, the webhook and the transfer worker too', () => {
    expect(environmentCap({ answersCaller: true, mappingMaxConcurrency: [], perFunction: 1 })).toBe(1);
    expect(environmentCap({ answersCaller: false, mappingMaxConcurrency: [40], perFunction: 1 })).toBe(1);
  });

  it('refuses an environmentsPerFunction that is not a whole number of at least 1', () => {
    for (const perFunction of [0, -1, 1.5, Number.NaN])
      expect(() => environmentCap({ answersCaller: false, mappingMaxConcurrency: [], perFunction })).toThrow(
        /environmentsPerFunction must be a whole number of at least 1/,
      );
  });
});
