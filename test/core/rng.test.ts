import { AssertionFailure, Rng, type RngState } from '../../core';

function draws(rng: Rng, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(rng.uint32());
  return out;
}

/** Pearson's statistic for observed counts against a uniform expectation. */
function chiSquare(counts: readonly number[], total: number): number {
  const expected = total / counts.length;
  return counts.reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
}

describe('Rng streams', () => {
  test('the same seed gives the same sequence', () => {
    expect(draws(Rng.fromSeed(42), 1000)).toEqual(draws(Rng.fromSeed(42), 1000));
  });

  test('different seeds give different sequences', () => {
    expect(draws(Rng.fromSeed(42), 16)).not.toEqual(draws(Rng.fromSeed(43), 16));
  });

  test('a numeric seed and its decimal string are the same stream', () => {
    expect(Rng.fromSeed(42).path).toBe('42');
    expect(draws(Rng.fromSeed(42), 64)).toEqual(draws(Rng.fromSeed('42'), 64));
  });

  // Reproduction tokens depend on these exact values; a change here breaks every old token.
  test('pinned vectors', () => {
    expect(draws(Rng.fromSeed(42), 4)).toEqual([2232694636, 3524054855, 2787582759, 203225863]);
    const device = Rng.fromSeed(42).fork('device');
    expect([device.uint32(), device.uint32(), device.float(), device.below(1000), device.below(2 ** 53)]).toEqual([
      1673482588, 3222111629, 0.8269371607752637, 868, 5779531921927420,
    ]);
  });

  test('fromSeed rejects empty and non-integer seeds', () => {
    expect(() => Rng.fromSeed('')).toThrow(AssertionFailure);
    expect(() => Rng.fromSeed(1.5)).toThrow(AssertionFailure);
    expect(() => Rng.fromSeed(Number.NaN)).toThrow(AssertionFailure);
    expect(() => Rng.fromSeed(2 ** 60)).toThrow(AssertionFailure);
  });
});

describe('Rng.fork', () => {
  test('a child does not depend on how many draws the parent made', () => {
    const fresh = Rng.fromSeed(7);
    const used = Rng.fromSeed(7);
    draws(used, 1234);
    expect(draws(used.fork('device'), 100)).toEqual(draws(fresh.fork('device'), 100));
  });

  test('forking does not move the parent', () => {
    const forked = Rng.fromSeed(7);
    forked.fork('a');
    forked.fork('b');
    expect(draws(forked, 50)).toEqual(draws(Rng.fromSeed(7), 50));
  });

  test('the same name twice gives identical streams', () => {
    const parent = Rng.fromSeed(7);
    expect(draws(parent.fork('fs'), 100)).toEqual(draws(parent.fork('fs'), 100));
  });

  test('different names, parents and depths give different streams', () => {
    const root = Rng.fromSeed(7);
    const streams = [
      root,
      root.fork('a'),
      root.fork('b'),
      root.fork('a').fork('a'),
      root.fork('a').fork('b'),
      Rng.fromSeed(8).fork('a'),
    ].map((rng) => draws(rng, 8).join(','));
    expect(new Set(streams).size).toBe(streams.length);
  });

  test('the path names the stream', () => {
    const ivac = Rng.fromSeed(42).fork('device').fork('ivac');
    expect(ivac.path).toBe('42/device/ivac');
    expect(draws(ivac, 32)).toEqual(draws(Rng.fromSeed('42/device/ivac'), 32));
  });

  test('fork names must be non-empty and contain no slash', () => {
    const rng = Rng.fromSeed(1);
    expect(() => rng.fork('')).toThrow(AssertionFailure);
    expect(() => rng.fork('a/b')).toThrow(AssertionFailure);
    expect(() => rng.fork('/')).toThrow(AssertionFailure);
  });
});

describe('Rng.save and Rng.restore', () => {
  test('a restored stream continues the exact sequence', () => {
    const rng = Rng.fromSeed('save');
    draws(rng, 777);
    const saved = rng.save();
    const expected = draws(rng, 1000);
    expect(draws(Rng.restore(saved), 1000)).toEqual(expected);
  });

  test('the state survives a JSON round trip', () => {
    const rng = Rng.fromSeed(99).fork('crash');
    rng.below(1000);
    rng.float();
    const saved = JSON.parse(JSON.stringify(rng.save())) as RngState;
    const restored = Rng.restore(saved);
    expect(restored.path).toBe('99/crash');
    expect([restored.float(), restored.below(12345), restored.uint32()]).toEqual([
      rng.float(),
      rng.below(12345),
      rng.uint32(),
    ]);
  });

  test('a saved state is a snapshot, not a live view', () => {
    const rng = Rng.fromSeed(3);
    const saved = rng.save();
    const text = JSON.stringify(saved);
    draws(rng, 500);
    const restored = Rng.restore(saved);
    draws(restored, 500);
    expect(JSON.stringify(saved)).toBe(text);
  });

  test('a restored stream forks like the original', () => {
    const rng = Rng.fromSeed(5);
    draws(rng, 10);
    const restored = Rng.restore(rng.save());
    expect(draws(restored.fork('x'), 20)).toEqual(draws(rng.fork('x'), 20));
  });

  test('restore rejects a malformed state', () => {
    const good = Rng.fromSeed(1).save();
    const registers = good.state as { i: number; w: number; X: number[] };
    expect(() => Rng.restore({ path: '1', state: {} })).toThrow(AssertionFailure);
    expect(() => Rng.restore({ path: '', state: registers })).toThrow(AssertionFailure);
    expect(() => Rng.restore({ path: '1', state: { ...registers, X: registers.X.slice(1) } })).toThrow(
      AssertionFailure,
    );
    expect(() => Rng.restore({ path: '1', state: { ...registers, i: 128 } })).toThrow(AssertionFailure);
    expect(() => Rng.restore({ path: '1', state: { ...registers, w: 0.5 } })).toThrow(AssertionFailure);
  });
});

describe('Rng draws', () => {
  test('uint32 and float stay in range and float uses more than 32 bits', () => {
    const rng = Rng.fromSeed(11);
    let sawFineBits = false;
    // one expectation on the draws out of range (an expect a draw costs seconds)
    const outside: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const word = rng.uint32();
      if (!(Number.isInteger(word) && word >= 0 && word < 2 ** 32)) outside.push(`uint32 ${word}`);
      const x = rng.float();
      if (!(x >= 0 && x < 1)) outside.push(`float ${x}`);
      if (!Number.isInteger(x * 2 ** 32)) sawFineBits = true;
    }
    expect(outside).toEqual([]);
    expect(sawFineBits).toBe(true);
  });

  test('below stays in [0, n) for small, boundary and huge n', () => {
    const rng = Rng.fromSeed(12);
    const outside: string[] = [];
    for (const n of [1, 2, 3, 7, 1000, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53]) {
      for (let i = 0; i < 2000; i++) {
        const value = rng.below(n);
        if (!(Number.isInteger(value) && value >= 0 && value < n)) outside.push(`below(${n}) = ${value}`);
      }
    }
    expect(outside).toEqual([]);
    expect(rng.below(1)).toBe(0);
  });

  test('below rejects n that is not a positive integer up to 2^53', () => {
    const rng = Rng.fromSeed(13);
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53 + 2]) {
      expect(() => rng.below(n)).toThrow(AssertionFailure);
    }
  });

  test('below is roughly uniform over small n', () => {
    const rng = Rng.fromSeed(14);
    const counts = new Array<number>(10).fill(0);
    const total = 100_000;
    for (let i = 0; i < total; i++) counts[rng.below(10)]! += 1;
    // 9 degrees of freedom: the statistic exceeds 40 with probability below 1e-5.
    expect(chiSquare(counts, total)).toBeLessThan(40);
  });

  // For n = 3 * 2^30, a plain `uint32 % n` maps twice as many words onto [0, 2^30) as onto
  // either other third, so the first third would get half the draws.
  test('below has no modulo bias when n does not divide 2^32', () => {
    const rng = Rng.fromSeed(15);
    const third = 2 ** 30;
    const counts = [0, 0, 0];
    const total = 30_000;
    for (let i = 0; i < total; i++) counts[Math.floor(rng.below(3 * third) / third)]! += 1;
    expect(chiSquare(counts, total)).toBeLessThan(25);
  });

  test('below has no modulo bias above 2^32', () => {
    const rng = Rng.fromSeed(16);
    const third = 2 ** 51;
    const counts = [0, 0, 0];
    const total = 30_000;
    for (let i = 0; i < total; i++) counts[Math.floor(rng.below(3 * third) / third)]! += 1;
    expect(chiSquare(counts, total)).toBeLessThan(25);
  });

  test('below reaches the top half of 2^53', () => {
    const rng = Rng.fromSeed(17);
    let high = 0;
    for (let i = 0; i < 1000; i++) if (rng.below(2 ** 53) >= 2 ** 52) high++;
    expect(high).toBeGreaterThan(400);
    expect(high).toBeLessThan(600);
  });

  test('range covers both ends and nothing outside', () => {
    const rng = Rng.fromSeed(18);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(rng.range(-2, 2));
    expect([...seen].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2]);
    expect(rng.range(5, 5)).toBe(5);
  });

  test('range rejects reversed, fractional and too-wide bounds', () => {
    const rng = Rng.fromSeed(19);
    expect(() => rng.range(3, 2)).toThrow(AssertionFailure);
    expect(() => rng.range(0.5, 2)).toThrow(AssertionFailure);
    // A span of 2^53 + 1 values would round to 2^53 and silently drop the top.
    expect(() => rng.range(-1, Number.MAX_SAFE_INTEGER)).toThrow(AssertionFailure);
    expect(() => rng.range(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).toThrow(AssertionFailure);
    const top = rng.range(0, Number.MAX_SAFE_INTEGER);
    expect(Number.isSafeInteger(top) && top >= 0).toBe(true);
  });

  test('bool follows its probability', () => {
    const rng = Rng.fromSeed(20);
    let trues = 0;
    const wrong: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      if (rng.bool(0) !== false) wrong.push(`draw ${i}: bool(0) true`);
      if (rng.bool(1) !== true) wrong.push(`draw ${i}: bool(1) false`);
      if (rng.bool(0.25)) trues++;
    }
    expect(wrong).toEqual([]);
    expect(trues).toBeGreaterThan(2300);
    expect(trues).toBeLessThan(2700);
    let defaults = 0;
    for (let i = 0; i < 10_000; i++) if (rng.bool()) defaults++;
    expect(defaults).toBeGreaterThan(4700);
    expect(defaults).toBeLessThan(5300);
    expect(() => rng.bool(1.5)).toThrow(AssertionFailure);
    expect(() => rng.bool(Number.NaN)).toThrow(AssertionFailure);
  });

  test('pick chooses every item and rejects an empty list', () => {
    const rng = Rng.fromSeed(21);
    const items = ['a', 'b', 'c'] as const;
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(rng.pick(items));
    expect(seen).toEqual(new Set(items));
    expect(() => rng.pick([])).toThrow(AssertionFailure);
  });

  test('shuffle is an in-place, deterministic permutation', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = Rng.fromSeed(22).shuffle(items);
    expect(shuffled).toBe(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(shuffled).toEqual(Rng.fromSeed(22).shuffle(Array.from({ length: 50 }, (_, i) => i)));
    expect(Rng.fromSeed(22).shuffle([])).toEqual([]);
  });

  // Off-by-one variants of Fisher-Yates (j in [0, i) or j in [0, n)) skew or omit permutations.
  test('shuffle gives every permutation of three items about equally often', () => {
    const rng = Rng.fromSeed(23);
    const counts = new Map<string, number>();
    const total = 60_000;
    for (let i = 0; i < total; i++) {
      const key = rng.shuffle(['a', 'b', 'c']).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    expect(chiSquare([...counts.values()], total)).toBeLessThan(30);
  });
});
