import { AssertionFailure, Rng, STREAM_NAMES, StreamTree } from '../../core';

const draws = (rng: Rng, n = 4): number[] => Array.from({ length: n }, () => rng.uint32());

describe('the stream tree of a unit', () => {
  // Old reproduction tokens rebuild only while these paths stay what they were before the table.
  test('each subsystem gets the path it had before the table', () => {
    const tree = StreamTree.of('7');
    expect(tree.policy().path).toBe('7/policy');
    expect(tree.device().path).toBe('7/device');
    expect(tree.mkfs().path).toBe('7/mkfs');
    expect(tree.workload('random', 3).path).toBe('7/workloads/random/3');
    expect(tree.crashDraw(120, 1)).toBe('7/120/1');
    expect(tree.recoveryDraw(40, 0)).toBe('7/recovery/40/0');
    expect(StreamTree.crashState('7/120/1').path).toBe('7/120/1/crash');
    expect(draws(tree.policy())).toEqual(draws(Rng.fromSeed(7).fork('policy')));
  });

  test('a numeric seed is its decimal string', () => {
    expect(draws(StreamTree.of(42).device())).toEqual(draws(StreamTree.of('42').device()));
    expect(() => StreamTree.of('').policy()).toThrow(AssertionFailure);
    expect(StreamTree.of('').crashDraw(3, 1)).toBe('/3/1');
    expect(() => StreamTree.of(1.5)).toThrow(AssertionFailure);
  });

  test('crashDrawOf reads back exactly the seeds crashDraw makes', () => {
    const tree = StreamTree.of('a/b');
    for (const [instruction, draw] of [[0, 0], [9, 12], [123456, 999]]) {
      expect(tree.crashDrawOf(tree.crashDraw(instruction, draw), instruction)).toBe(draw);
    }
    expect(tree.crashDrawOf('a/b/9/01', 9)).toBeUndefined();
    expect(tree.crashDrawOf('a/b/9/1', 8)).toBeUndefined();
    expect(tree.crashDrawOf('other/9/1', 9)).toBeUndefined();
    expect(tree.crashDrawOf(tree.recoveryDraw(9, 1), 9)).toBeUndefined();
  });

  test('named forks are distinct streams', () => {
    const tree = StreamTree.of('s');
    const firsts = [tree.policy(), tree.device(), tree.mkfs(), tree.workload('random', 0), tree.workload('random', 1)].map((r) => r.uint32());
    expect(new Set(firsts).size).toBe(firsts.length);
    expect(Object.values(STREAM_NAMES).every((n) => n.length > 0 && !n.includes('/'))).toBe(true);
  });
});
