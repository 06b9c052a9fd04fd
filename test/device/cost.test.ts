import { PmemDevice } from '../../device/device';
import { COST_NANOS, barrierNanos, storeNanos } from '../../device/cost';
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
