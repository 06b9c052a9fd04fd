// Seeded random streams (STYLE.md conventions 1 and 2).
//
// Owns: the only source of randomness below `cli/`. A run has one root stream made from its
// seed; each subsystem forks its own stream by name, so adding a draw in one subsystem never
// shifts the numbers another subsystem sees.
//
// Invariants:
// - A stream is a function of its path alone: `Rng.fromSeed(42).fork('device')` and
//   `Rng.fromSeed('42/device')` are the same stream. Forking ignores the parent's position,
//   and forking the same name twice yields two identical streams, not two independent ones;
//   callers that need several independent children give them distinct names.
// - Every draw consumes a fixed number of generator words except `below`/`range`/`pick`/
//   `shuffle`, which may reject and redraw; all are deterministic given the path and state.
// - The generator is seedrandom's xor4096 (Brent's xorgens). It is always seeded with a
//   string, because seedrandom falls back to the wall clock for a null seed and treats int32
//   numbers differently from their decimal strings.
// - The stream values are part of every reproduction token: changing how a method consumes
//   words invalidates old tokens, which the pinned vectors in the tests guard.

import seedrandom from 'seedrandom';
import { assert, assertInteger } from './assert';

export interface RngState {
  readonly path: string;
  /** The generator's registers; plain JSON (numbers and an array of numbers). */
  readonly state: object;
}

type Xor4096State = seedrandom.State.Xor4096;
type Xor4096 = seedrandom.StatefulPRNG<Xor4096State>;

const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;
const XOR4096_WORDS = 128;

export class Rng {
  readonly path: string;
  private readonly generator: Xor4096;

  private constructor(path: string, generator: Xor4096) {
    this.path = path;
    this.generator = generator;
  }

  /** A root stream; a numeric seed must be a safe integer so its decimal form is exact. */
  static fromSeed(seed: string | number): Rng {
    if (typeof seed === 'number') assertInteger(seed, 'seed');
    const path = String(seed);
    assert(path.length > 0, 'seed must be non-empty');
    return new Rng(path, seedrandom.xor4096(path, { state: true }));
  }

  static restore(saved: RngState): Rng {
    const pathOk = typeof saved.path === 'string' && saved.path.length > 0;
    assert(pathOk, 'RngState.path must be a non-empty string');
    const registers = checkedRegisters(saved.state);
    // xor4096 copies the registers (including a fresh copy of X), so later draws on the
    // restored stream never write into the caller's saved object.
    return new Rng(saved.path, seedrandom.xor4096(saved.path, { state: registers }));
  }

  fork(name: string): Rng {
    assert(name.length > 0, 'fork name must be non-empty');
    assert(!name.includes('/'), () => `fork name must not contain '/': ${JSON.stringify(name)}`);
    const path = `${this.path}/${name}`;
    return new Rng(path, seedrandom.xor4096(path, { state: true }));
  }

  /** Uniform in [0, 2^32). */
  uint32(): number {
    return this.generator.int32() >>> 0;
  }

  /** Uniform in [0, 1) on a 2^-53 grid: two words, so every double in that grid is reachable. */
  float(): number {
    return this.uint53() / TWO_POW_53;
  }

  /** Uniform integer in [0, n) for n in [1, 2^53], without modulo bias. */
  below(n: number): number {
    assert(
      Number.isInteger(n) && n >= 1 && n <= TWO_POW_53,
      () => `below(n): n must be an integer in [1, 2^53], got ${n}`,
    );
    if (n <= TWO_POW_32) return this.belowWithin32(n);
    return this.belowWithin53(n);
  }

  /** Uniform integer in [lo, hiInclusive]; the span may be at most 2^53 values. */
  range(lo: number, hiInclusive: number): number {
    assertInteger(lo, 'range lo');
    assertInteger(hiInclusive, 'range hiInclusive', lo);
    // Checked on the difference, not on the span: hi - lo + 1 could round down to exactly
    // 2^53 and silently drop hiInclusive, while hi - lo rounds to >= 2^53 whenever too wide.
    assert(
      hiInclusive - lo <= TWO_POW_53 - 1,
      () => `range(${lo}, ${hiInclusive}) spans more than 2^53 values`,
    );
    return lo + this.below(hiInclusive - lo + 1);
  }

  bool(pTrue: number = 0.5): boolean {
    assert(pTrue >= 0 && pTrue <= 1, () => `bool(pTrue): pTrue must be in [0, 1], got ${pTrue}`);
    return this.float() < pTrue;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list');
    return items[this.below(items.length)] as T;
  }

  /** Fisher-Yates in place; returns `items` for chaining. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
    return items;
  }

  save(): RngState {
    return { path: this.path, state: this.generator.state() };
  }

  private uint53(): number {
    // 21 high bits from the first word, 32 from the second: 53, the width of a double's mantissa.
    const high21 = this.uint32() >>> 11;
    const low32 = this.uint32();
    return high21 * TWO_POW_32 + low32;
  }

  // Reject the top (2^32 mod n) words so every residue has the same number of preimages.
  private belowWithin32(n: number): number {
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const word = this.uint32();
      if (word < limit) return word % n;
    }
  }

  // Same idea on 53-bit draws; every quantity is below 2^53 (or exactly 2^53) and so exact.
  private belowWithin53(n: number): number {
    const limit = TWO_POW_53 - (TWO_POW_53 % n);
    for (;;) {
      const draw = this.uint53();
      if (draw < limit) return draw % n;
    }
  }
}

// A restored state usually comes from a reproduction token that crossed JSON, so check it
// has xor4096's shape before the generator trusts it.
function checkedRegisters(state: object): Xor4096State {
  const registers = state as Partial<Record<'i' | 'w' | 'X', unknown>>;
  const index = registers.i;
  const indexOk = isInt32(index) && index >= 0 && index < XOR4096_WORDS;
  assert(indexOk, 'RngState.state: i must be an index into X');
  assert(isInt32(registers.w), 'RngState.state: w must be int32');
  const words = registers.X;
  assert(
    Array.isArray(words) && words.length === XOR4096_WORDS && words.every(isInt32),
    `RngState.state: X must be ${XOR4096_WORDS} int32 words`,
  );
  return { i: index, w: registers.w, X: words as number[] };
}

function isInt32(value: unknown): value is number {
  return typeof value === 'number' && (value | 0) === value;
}
