import { PmemDevice } from '../../device/device';
import { COST_NANOS, addRepeated, barrierNanos, storeNanos } from '../../device/cost';
import { pmemApi } from '../../device/pmem-api';

describe('cost counters', () => {
  test('a 4 KiB linux-arm64 memcpyFlushcache: 64 cleans, one completing barrier', () => {
    const d = new PmemDevice({ sizeBytes: 1 << 20 });
    pmemApi('linux-arm64', d).memcpyFlushcache(0, new Uint8Array(4096).fill(1));
    expect(d.stats.cleans).toBe(64);
    expect(d.stats.flushedBytes).toBe(4096);
    expect(d.stats.barriers).toBe(1);
    expect(d.stats.costNanos).toBe(storeNanos(4096) + 64 * COST_NANOS.cleanIssue + barrierNanos(64));
  });

  test('a barrier with nothing to complete costs a pipeline drain; x86 fences complete cleans', () => {
    const arm = new PmemDevice({ sizeBytes: 1 << 20 });
    arm.dsb('sy');
    expect(arm.stats.costNanos).toBe(COST_NANOS.idleBarrier);
    const x86 = new PmemDevice({ sizeBytes: 1 << 20, profile: 'x86-adr' });
    x86.store(0, new Uint8Array(64));
    x86.clwb(0);
    x86.sfence();
    expect(x86.stats.costNanos).toBe(storeNanos(64) + COST_NANOS.cleanIssue + barrierNanos(1));
    expect(x86.stats.fences).toBe(1);
  });
});

describe('addRepeated', () => {
  const loop = (sum: number, each: number, n: number): number => {
    let out = sum;
    for (let i = 0; i < n; i++) out += each;
    return out;
  };

  test('equals n additions one at a time, to the bit, on and off the exact path', () => {
    const sums = [0, -0, 5, 1234567, -99, 0.1, 1e300, -1e300, 2 ** 53 - 200, 2 ** 53 - 1, 2 ** 53, 2 ** 60, -(2 ** 53) + 3, NaN, Infinity];
    const eachs = [0, 5, 28, 0.1, 3.5, 2 ** 40, -5, 2 ** 53];
    const counts = [0, 1, 2, 3, 64, 1000];
    let compared = 0;
    for (const sum of sums) {
      for (const each of eachs) {
        for (const n of counts) {
          const want = loop(sum, each, n);
          const got = addRepeated(sum, each, n);
          if (!Object.is(got, want)) throw new Error(`addRepeated(${sum}, ${each}, ${n}) = ${got}, the loop gives ${want}`);
          compared++;
        }
      }
    }
    expect(compared).toBe(sums.length * eachs.length * counts.length);
  });

  test('a one-step clean loop counts the cost the instructions one by one count, from any starting counter', () => {
    for (const start of [0, 0.1, 2 ** 53 - 100, 1e17 + 3]) {
      const costs = [false, true].map((watched) => {
        const d = new PmemDevice({ sizeBytes: 1 << 20, ...(watched ? { onInstruction: () => undefined } : {}) });
        d.stats.costNanos = start;
        const api = pmemApi('linux-arm64', d);
        // memcpy_flushcache in one step, and a clean loop over one run in one step
        api.memcpyFlushcache(0, new Uint8Array(4096).fill(1));
        d.store(8192, new Uint8Array(4096).fill(2));
        api.wbCachePmem(8192, 4096);
        return d.stats.costNanos;
      });
      expect(Object.is(costs[0], costs[1])).toBe(true);
    }
  });
});
