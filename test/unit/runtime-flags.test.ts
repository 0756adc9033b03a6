import { describe, expect, it, vi } from 'vitest';
import { UsageError } from '#cli/args';
import { runtimeOptionsFromFlags } from '#local/runtime/cli-options';

describe('start and run flags', () => {
  it('take the transfer cap and the simulator’s create rate', () => {
    expect(runtimeOptionsFromFlags({ 'max-concurrent-transfers': '4', 'create-rate': '5' })).toMatchObject({
      maxConcurrentTransfers: 4,
      simulator: { createRateLimit: { perSecond: 5 } },
    });
  });

  it('refuse a cap the deployed mapping would refuse', () => {
    expect(() => runtimeOptionsFromFlags({ 'max-concurrent-transfers': '1' })).toThrow(
      '--max-concurrent-transfers takes a whole number from 2 to 1000, got "1"',
    );
  });

  it('refuse VIDEOGEN_API_URL unless it is an http(s) URL, naming it and what it takes', () => {
    for (const bad of ['not a url', 'ftp://videogen.example/api']) {
      vi.stubEnv('VIDEOGEN_API_URL', bad);
      expect(() => runtimeOptionsFromFlags({})).toThrow(
        `VIDEOGEN_API_URL takes an http:// or https:// URL (or nothing, for the simulator), got "${bad}"`,
      );
    }
    vi.stubEnv('VIDEOGEN_API_URL', 'https://api.videogen.io');
    expect(runtimeOptionsFromFlags({}).videoGenApiUrl).toBe('https://api.videogen.io');
    vi.unstubAllEnvs();
  });

  it('take simulator faults, and refuse a malformed one as a usage error that says why', () => {
    expect(runtimeOptionsFromFlags({ fault: ['expire_url:nth=1'] }).simulator?.faults).toEqual([
      expect.objectContaining({ fault: 'expire_url', nth: 1 }),
    ]);
    expect(() => runtimeOptionsFromFlags({ fault: ['not a fault'] })).toThrow(UsageError);
    expect(() => runtimeOptionsFromFlags({ fault: ['not a fault'] })).toThrow(/fault "not a fault"/);
  });
});
