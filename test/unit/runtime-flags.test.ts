import { describe, expect, it } from 'vitest';
import { UsageError } from '#local/cli-args';
import { runtimeOptionsFromFlags } from '#local/runtime/cli';

describe('start and run flags', () => {
  it('take the transfer cap and the simulator’s create rate', () => {
    expect(runtimeOptionsFromFlags({ 'max-concurrent-transfers': '4', 'create-rate': '5' })).toMatchObject({
      maxConcurrentTransfers: 4,
      simulator: { createRateLimit: { perSecond: 5 } },
    });
  });

  it('refuse a cap the deployed mapping would refuse', () => {
    expect(() => runtimeOptionsFromFlags({ 'max-concurrent-transfers': '1' })).toThrow(
      '--max-concurrent-transfers takes 2 to 1000, got 1',
    );
  });

  it('take simulator faults, and refuse a malformed one as a usage error that says why', () => {
    expect(runtimeOptionsFromFlags({ fault: ['expire_url:nth=1'] }).simulator?.faults).toEqual([
      expect.objectContaining({ fault: 'expire_url', nth: 1 }),
    ]);
    expect(() => runtimeOptionsFromFlags({ fault: ['not a fault'] })).toThrow(UsageError);
    expect(() => runtimeOptionsFromFlags({ fault: ['not a fault'] })).toThrow(/fault "not a fault"/);
  });
});
