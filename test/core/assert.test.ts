import { AssertionFailure, assert, assertInteger, unreachable } from '../../core';

function thrown(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('assert', () => {
  test('passes on truthy values', () => {
    for (const value of [true, 1, 'x', {}, [], 1n]) expect(() => assert(value)).not.toThrow();
  });

  test('throws AssertionFailure on falsy values', () => {
    for (const value of [false, 0, '', null, undefined, Number.NaN, 0n]) {
      expect(() => assert(value)).toThrow(AssertionFailure);
    }
  });

  test('carries the message, or a default one', () => {
    const failure = thrown(() => assert(false, 'ring buffer overflow'));
    expect(failure).toBeInstanceOf(AssertionFailure);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe('ring buffer overflow');
    expect((failure as Error).name).toBe('AssertionFailure');
    expect(String(failure)).toBe('AssertionFailure: ring buffer overflow');
    expect((thrown(() => assert(false)) as Error).message).toBe('assertion failed');
  });

  test('builds a lazy message only on failure', () => {
    const build = jest.fn(() => 'lazy text');
    assert(true, build);
    expect(build).not.toHaveBeenCalled();
    expect(() => assert(false, build)).toThrow('lazy text');
    expect(build).toHaveBeenCalledTimes(1);
  });

  test('the stack starts at the caller, not inside assert', () => {
    function callerOfAssert(): void {
      assert(false, 'x');
    }
    const stack = (thrown(callerOfAssert) as Error).stack ?? '';
    const firstFrame = stack.split('\n')[1] ?? '';
    expect(firstFrame).toContain('callerOfAssert');
  });

  test('narrows types', () => {
    const value: string | undefined = ['a'].find((s) => s === 'a');
    assert(value !== undefined);
    expect(value.length).toBe(1);
  });
});

describe('unreachable', () => {
  type Kind = 'a' | 'b';
  function name(kind: Kind): string {
    switch (kind) {
      case 'a':
        return 'A';
      case 'b':
        return 'B';
      default:
        return unreachable(kind);
    }
  }

  test('throws AssertionFailure naming the value', () => {
    expect(name('a')).toBe('A');
    const failure = thrown(() => name('c' as Kind)) as Error;
    expect(failure).toBeInstanceOf(AssertionFailure);
    expect(failure.message).toBe('unreachable: got "c"');
    expect(() => unreachable(5n as never)).toThrow('unreachable: got 5n');
    expect(() => unreachable({ kind: 'x' } as never)).toThrow('unreachable: got {"kind":"x"}');
    expect(() => unreachable(1 as never, 'custom')).toThrow(/^custom$/);
  });
});

describe('assertInteger', () => {
  test('accepts safe integers within bounds', () => {
    expect(() => assertInteger(0, 'x')).not.toThrow();
    expect(() => assertInteger(Number.MAX_SAFE_INTEGER, 'x')).not.toThrow();
    expect(() => assertInteger(Number.MIN_SAFE_INTEGER, 'x')).not.toThrow();
    expect(() => assertInteger(5, 'x', 5, 5)).not.toThrow();
  });

  test('rejects non-integers, unsafe integers and out-of-bounds values', () => {
    const bad: Array<[number, number?, number?]> = [
      [1.5],
      [Number.NaN],
      [Number.POSITIVE_INFINITY],
      [2 ** 53],
      [-(2 ** 53)],
      [4, 5],
      [6, 0, 5],
      [-1, 0],
    ];
    for (const [value, min, max] of bad) {
      expect(() => assertInteger(value, 'x', min, max)).toThrow(AssertionFailure);
    }
  });

  test('the message names the quantity, the bounds and the value', () => {
    expect(() => assertInteger(4097, 'blockSizeBytes', 1024, 4096)).toThrow(
      'blockSizeBytes must be a safe integer in [1024, 4096], got 4097',
    );
    expect(() => assertInteger(0.5, 'lineIndex', 0)).toThrow(/lineIndex.*got 0\.5/);
  });
});
