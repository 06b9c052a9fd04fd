import fc from 'fast-check';
import { PmemDevice } from '../../device/device';
import { CrashImage, CrashState, InvalidCrashState } from '../../device/crash';
import { readRange } from '../../device/media';
import { pmemApi } from '../../device/pmem-api';
import { word } from '../../device/litmus-catalog';
import { AssertionFailure } from '../../core/assert';

const MiB = 1 << 20;

function imageBytes(image: CrashImage, addr: number, length: number): number[] {
  const out = new Uint8Array(length);
  readRange(image, addr, length, out);
  return [...out];
}

/** A workload whose crash space is rich: unflushed stores, pending cleans in two epochs. */
function busyDevice(seed = 1): PmemDevice {
  const d = new PmemDevice({ sizeBytes: 4 * MiB, seed });
  const api = pmemApi('linux-arm64-nosync', d);
  for (let i = 0; i < 40; i++) d.store(i * 72 + (i % 5), Uint8Array.from({ length: 20 + i }, (_, j) => (i * 7 + j) & 0xff));
  api.wbCachePmem(0, 1024);
  d.dmb('sy');
  api.memcpyFlushcache(2 * MiB, new Uint8Array(4096).fill(9));
  return d;
}

describe('crash images: seeded draws', () => {
  test('the same seed rebuilds the same image, byte for byte, on a fresh run', () => {
    const a = busyDevice().drawCrashImage('seed-7');
    const b = busyDevice().drawCrashImage('seed-7');
    expect(a.digest()).toBe(b.digest());
    expect(a.pageIndices()).toEqual(b.pageIndices());
    for (const page of a.pageIndices()) expect(Buffer.compare(a.readPage(page) ?? new Uint8Array(4096), b.readPage(page) ?? new Uint8Array(4096))).toBe(0);
    expect(a.choices).toEqual(b.choices);
  });

  test('different seeds draw different states', () => {
    const d = busyDevice();
    const digests = new Set(['a', 'b', 'c', 'd', 'e'].map((s) => d.drawCrashImage(s).digest()));
    expect(digests.size).toBeGreaterThan(1);
  });

  test('the recorded choices rebuild the drawn image', () => {
    const d = busyDevice();
    const drawn = d.drawCrashImage(99);
    const rebuilt = d.crashImage({ kind: 'explicit', choices: drawn.choices });
    expect(rebuilt.digest()).toBe(drawn.digest());
    expect(d.crashImage({ kind: 'sampled', seed: '99' }).digest()).toBe(drawn.digest());
  });

  test('a crash image mounts as the media of a new device', () => {
    const d = new PmemDevice({ sizeBytes: MiB });
    d.store(0, word(5));
    d.dcCvap(0);
    d.dsb('sy');
    d.store(64, word(6)); // never cleaned
    const image = d.crashImage({ kind: 'bounded', epochs: 0, subset: [], units: [] });
    const next = new PmemDevice({ media: image });
    expect(next.sizeBytes).toBe(MiB);
    expect(next.load(0, 1)[0]).toBe(5);
    expect(next.load(64, 1)[0]).toBe(0);
    next.store(0, word(8)); // copy-on-write: the image below is untouched
    expect(imageBytes(image, 0, 1)).toEqual([5]);
  });
});

describe('crash images are copy-on-write views', () => {
  test('an image holds only the pages of uncertain lines', () => {
    const d = new PmemDevice(); // 1 GiB
    const api = pmemApi('linux-arm64', d);
    for (let i = 0; i < 64; i++) api.memcpyFlushcache(i * 16 * MiB, new Uint8Array(4096).fill(1));
    d.store(512 * MiB, word(1));
    const image = d.drawCrashImage(1);
    expect(image.residentBytes()).toBe(4096);
    expect(imageBytes(image, 48 * MiB, 2)).toEqual([1, 1]);
  });

  test('reading an image after its device ran on is caught; detach() makes it independent', () => {
    const d = new PmemDevice({ sizeBytes: MiB });
    d.store(8192, word(1));
    d.dcCvap(8192);
    d.dsb('sy');
    d.store(0, word(2));
    const stale = d.crashImage({ kind: 'newest' });
    const kept = d.crashImage({ kind: 'newest' }).detach();
    d.store(8192, word(3));
    expect(() => stale.readPage(2)).toThrow(AssertionFailure);
    expect(imageBytes(kept, 8192, 1)).toEqual([1]);
    expect(imageBytes(kept, 0, 1)).toEqual([2]);
  });

  test('a crash point is only valid at its instruction', () => {
    const d = new PmemDevice({ sizeBytes: MiB });
    d.store(0, word(1));
    const point = d.crashPoint();
    d.store(64, word(1));
    expect(() => point.sample(1)).toThrow(AssertionFailure);
  });
});

describe('bounded enumeration', () => {
  function threeStores(): PmemDevice {
    const d = new PmemDevice({ sizeBytes: MiB });
    d.store(0, word(1));
    d.store(4096, word(2));
    d.store(8192, word(3));
    return d;
  }

  test('k=2 over three unflushed units: baseline, 3 singles, 3 pairs, and the newest state', () => {
    const point = threeStores().crashPoint();
    const space = point.bounded({ k: 2 });
    const states = [...space.states()];
    expect(space.boundSize).toBe(8n);
    expect(states.length).toBe(8);
    expect(space.fullSize).toBe(8n);
    const outcomes = states.map((s) => {
      const image = point.image(s);
      return [imageBytes(image, 0, 1)[0], imageBytes(image, 4096, 1)[0], imageBytes(image, 8192, 1)[0]].join('');
    });
    expect(new Set(outcomes)).toEqual(new Set(['000', '100', '020', '003', '120', '103', '023', '123']));
  });

  test('a limit stops the enumeration after N states; the bound size is still reported', () => {
    const space = threeStores().crashPoint().bounded({ k: 2, limit: 5 });
    expect([...space.states()].length).toBe(5);
    expect(space.boundSize).toBe(8n);
  });

  test('completion sets follow DMB epochs (eviction off)', () => {
    const d = new PmemDevice({ sizeBytes: MiB, eviction: false });
    d.store(0, word(1));
    d.store(4096, word(1));
    d.dcCvap(0);
    d.dmb('sy');
    d.dcCvap(4096);
    const point = d.crashPoint();
    const states = [...point.bounded().states()];
    const outcomes = states.map((s) => `${imageBytes(point.image(s), 0, 1)[0]}${imageBytes(point.image(s), 4096, 1)[0]}`);
    expect(outcomes).toEqual(['00', '10', '11', '11']);
    expect(point.fullSize()).toBe(3n);
    expect(() => point.image({ kind: 'bounded', epochs: 0, subset: [1], units: [] })).toThrow(InvalidCrashState);
  });

  test('x86-eadr states are cuts of the store buffer', () => {
    const d = new PmemDevice({ sizeBytes: MiB, profile: 'x86-eadr' });
    d.store(0, new Uint8Array(16).fill(1)); // two pieces
    d.store(4096, word(2));
    const space = d.crashPoint().bounded();
    const states = [...space.states()];
    expect(states.filter((s) => s.kind === 'cut').length).toBe(4);
    expect(space.fullSize).toBe(4n);
  });

  test('bad states are refused with a typed error', () => {
    const d = threeStores();
    const bad: CrashState[] = [
      { kind: 'bounded', epochs: 3, subset: [], units: [] },
      { kind: 'bounded', epochs: 0, subset: [], units: [12345] },
      { kind: 'cut', epochs: 0, subset: [], cut: 1 },
      { kind: 'explicit', choices: { crashKind: 'power', completed: [], lines: [{ line: 0, versions: [0, 0, 0, 0, 0, 0, 0, 99] }] } },
      { kind: 'explicit', choices: { crashKind: 'power', completed: [], lines: [{ line: 5, versions: [0, 0, 0, 0, 0, 0, 0, 0] }] } },
    ];
    for (const state of bad) expect(() => d.crashImage(state)).toThrow(InvalidCrashState);
    expect(() => d.crashPoint('instantaneous')).toThrow(InvalidCrashState);
  });
});

/**
 * An independent reference for armv8.2 at word granularity: each word's history of values,
 * and the history length guaranteed by DC CVAP + DSB SY. A crash image must hold, in every
 * word, a value from that word's history no older than the guaranteed one.
 */
describe('property: armv8.2 crash images only hold allowed versions', () => {
  type Op =
    | { op: 'store'; addr: number; len: number; fill: number }
    | { op: 'cvap' | 'cvac'; addr: number }
    | { op: 'dsb'; kind: 'sy' | 'st' | 'ish' }
    | { op: 'dmb'; kind: 'sy' | 'st' };
  const REGION = 4 * 64;
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('store' as const), addr: fc.integer({ min: 0, max: REGION - 1 }), len: fc.integer({ min: 1, max: 80 }), fill: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ op: fc.constantFrom('cvap' as const, 'cvac' as const), addr: fc.integer({ min: 0, max: REGION - 1 }) }),
    fc.record({ op: fc.constant('dsb' as const), kind: fc.constantFrom('sy' as const, 'st' as const, 'ish' as const) }),
    fc.record({ op: fc.constant('dmb' as const), kind: fc.constantFrom('sy' as const, 'st' as const) }),
  );

  test('sampled and bounded states', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 24 }), fc.integer({ min: 0, max: 1000 }), (ops, seed) => {
      const d = new PmemDevice({ sizeBytes: MiB });
      const words = (REGION + 128) / 8;
      const history: bigint[][] = Array.from({ length: words }, () => [0n]);
      const guaranteed = new Array<number>(words).fill(0);
      let pendingPop: Array<[number, number[]]> = [];
      const wordValue = (w: number) => {
        const b = d.load(w * 8, 8);
        let v = 0n;
        for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        return v;
      };
      for (const o of ops) {
        if (o.op === 'store') {
          const len = Math.min(o.len, REGION + 128 - o.addr);
          d.store(o.addr, new Uint8Array(len).fill(o.fill));
          for (let w = Math.floor(o.addr / 8); w <= Math.floor((o.addr + len - 1) / 8); w++) history[w].push(wordValue(w));
        } else if (o.op === 'cvap') {
          d.dcCvap(o.addr);
          const line = Math.floor(o.addr / 64);
          pendingPop.push([line, Array.from({ length: 8 }, (_, i) => history[line * 8 + i].length - 1)]);
        } else if (o.op === 'cvac') {
          d.dcCvac(o.addr);
        } else if (o.op === 'dsb') {
          d.dsb(o.kind);
          if (o.kind === 'sy') {
            for (const [line, lens] of pendingPop) lens.forEach((n, i) => { guaranteed[line * 8 + i] = Math.max(guaranteed[line * 8 + i], n); });
            pendingPop = [];
          }
        } else if (o.op === 'dmb') {
          d.dmb(o.kind);
        }
      }
      const point = d.crashPoint();
      const images = [point.sample(seed), point.sample(seed + 1), ...[...point.bounded({ k: 1, limit: 50 }).states()].map((s) => point.image(s))];
      for (const image of images) {
        const bytes = new Uint8Array(words * 8);
        readRange(image, 0, words * 8, bytes);
        for (let w = 0; w < words; w++) {
          let v = 0n;
          for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(bytes[w * 8 + i]);
          const allowed = history[w].slice(guaranteed[w]);
          if (!allowed.includes(v)) return false;
        }
      }
      return true;
    }), { seed: 20261124, numRuns: 150 });
  });

  // families() builds each family from its epoch prefix (crash.ts); the bound's own states
  // (bounded().states(), one completion set at a time from scratch) are the reference.
  test('completion families are the bound: the same sets, guaranteed bytes and units, in order', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 30 }), fc.constantFrom(1, 2), (ops, k) => {
      const d = new PmemDevice({ sizeBytes: MiB });
      for (const o of ops) {
        if (o.op === 'store') d.store(o.addr, new Uint8Array(Math.min(o.len, REGION + 128 - o.addr)).fill(o.fill));
        else if (o.op === 'cvap') d.dcCvap(o.addr);
        else if (o.op === 'cvac') d.dcCvac(o.addr);
        else if (o.op === 'dsb') d.dsb(o.kind);
        else if (o.op === 'dmb') d.dmb(o.kind);
      }
      const point = d.crashPoint();
      const families = point.families(k);
      const bound = [...point.bounded({ k }).states()];
      const sets = new Map<string, number[][]>();
      for (const s of bound) {
        if (s.kind !== 'bounded') continue;
        const key = `${s.epochs}|${s.subset.join(',')}`;
        sets.set(key, [...(sets.get(key) ?? []), [...s.units]]);
      }
      expect(families.map((f) => `${f.epochs}|${f.subset.join(',')}`)).toEqual([...sets.keys()]);
      let total = 1;
      for (const f of families) {
        const listed = sets.get(`${f.epochs}|${f.subset.join(',')}`) as number[][];
        expect(f.units.map((u) => u.unit)).toEqual(listed.filter((u) => u.length === 1).map((u) => u[0]));
        total += listed.length;
        const image = point.image({ kind: 'bounded', epochs: f.epochs, subset: f.subset, units: [] });
        for (const line of point.lineIndices()) {
          const g = f.g.get(line) as number;
          expect(f.delta.has(line)).toBe(g !== families[0].g.get(line));
          expect(imageBytes(image, line * 64, 64)).toEqual([...point.lineBytes(line, g, [])]);
        }
        for (const u of f.units) expect(point.lineIndices()).toContain(u.line);
      }
      expect(BigInt(total)).toBe(point.bounded({ k }).boundSize);
    }), { seed: 20261202, numRuns: 200 });
  });
});
