/**
 * A released read trace (device/read-trace.ts `release`) hands its chunks to later traces:
 * those must report exactly what a trace on fresh memory reports (a chunk handed back with a
 * bit still set would add reads nobody made, and the reduction would keep images apart that
 * it could merge, or worse, read an overwritten line as the media's). Seeded random traffic:
 * big and small loads, stores, content pages, on a 1 GiB device's line numbers.
 */
import { Rng } from '../../core/rng';
import { ReadTrace } from '../../device/read-trace';

const DEVICE_BYTES = 2 ** 30;

/** `count` random loads and stores, the same for a given stream state. */
function traffic(rng: Rng, trace: ReadTrace, count: number): void {
  for (let i = 0; i < count; i++) {
    const addr = rng.below(DEVICE_BYTES / 4096) * 4096 + rng.below(4096);
    const length = rng.bool(0.2) ? rng.range(1, 8) * 2 ** 20 : rng.range(1, 9000);
    const end = Math.min(DEVICE_BYTES, addr + length);
    const kind = rng.below(3);
    if (kind === 0) trace.stored(addr, end - addr);
    else if (kind === 1) {
      trace.contentPages = new Set([Math.floor(addr / 4096), Math.floor(addr / 4096) + 1]);
      trace.loaded(addr, Math.min(end - addr, 8192));
      trace.contentPages = undefined;
    } else trace.loaded(addr, end - addr);
  }
}

function report(trace: ReadTrace): unknown {
  return { structural: trace.structural().ranges(), content: [...trace.content].sort((a, b) => a - b) };
}

describe('ReadTrace.release', () => {
  test('a trace on released chunks reports what a trace on fresh ones does', () => {
    const rng = Rng.fromSeed('read-trace-release');
    for (let round = 0; round < 12; round++) {
      const dirty = new ReadTrace(DEVICE_BYTES);
      traffic(rng, dirty, 60);
      expect(dirty.structural().size).toBeGreaterThan(0);
      dirty.release();
      expect(dirty.structural().size).toBe(0);
      const seed = `round-${round}`;
      const reused = new ReadTrace(DEVICE_BYTES);
      traffic(Rng.fromSeed(seed), reused, 40);
      const fresh = new ReadTrace(DEVICE_BYTES);
      traffic(Rng.fromSeed(seed), fresh, 40);
      expect(report(reused)).toEqual(report(fresh));
      fresh.release();
      reused.release();
    }
  });

  test('a released trace keeps its content set for a caller holding it', () => {
    const trace = new ReadTrace(1 << 20);
    trace.contentPages = new Set([2]);
    trace.loaded(2 * 4096, 128);
    const content = trace.content;
    trace.release();
    expect([...content]).toEqual([128, 129]);
  });
});
