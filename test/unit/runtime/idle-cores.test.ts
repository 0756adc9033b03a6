import { describe, expect, it } from 'vitest';
import { cpuTimes, idleCoresBetween, IdleCores, type CpuTimes } from '#local/services/lambda/idle-cores';

describe('idle cores', () => {
  it('sum every core’s counters, idle apart', () => {
    const core = (idle: number, busy: number) => ({
      model: 'cpu',
      speed: 1000,
      times: { user: busy, nice: 0, sys: 0, idle, irq: 0 },
    });
    expect(cpuTimes([core(300, 700), core(100, 900)])).toEqual({ idle: 400, total: 2000 });
  });

  it('tell the idle time between two readings in cores, and nothing when no time passed', () => {
    const before = { idle: 1000, total: 4000 };
    // 2 cores, 1,000 ms each in between: 500 of the 2,000 idle is a quarter of the machine.
    expect(idleCoresBetween(before, { idle: 1500, total: 6000 }, 2)).toBe(0.5);
    expect(idleCoresBetween(before, before, 2)).toBeUndefined();
  });

  it('read the machine again only once a window has passed, and count idle until then', () => {
    let now = 0;
    const readings: CpuTimes[] = [
      { idle: 0, total: 0 },
      { idle: 0, total: 500 },
      { idle: 500, total: 1000 },
    ];
    let read = 0;
    const next = (): CpuTimes => {
      const reading = readings[read++];
      if (!reading) throw new Error('read once too often');
      return reading;
    };
    const idle = new IdleCores({ cores: 2, now: () => now, read: next });
    expect(idle.current).toBe(Number.POSITIVE_INFINITY);
    now = 100;
    expect(idle.current).toBe(Number.POSITIVE_INFINITY);
    now = 300;
    expect(idle.current).toBe(0);
    now = 400;
    expect(idle.current).toBe(0);
    now = 600;
    expect(idle.current).toBe(2);
    expect(read).toBe(3);
  });
});
