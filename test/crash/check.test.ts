import { judge, Recovered } from '../../crash/check';
import { Snapshot, runOracle } from '../../crash/oracle';
import { createReference } from '../../workloads/reference';
import { Workload, patternBytes } from '../../workloads/ops';

/** The oracle of a small workload, and hand-made "recovered" states to judge against it. */
const workload: Workload = {
  name: 'judge',
  ops: [
    { op: 'creat', path: '/f' },
    { op: 'write', path: '/f', offset: 0, length: 16, tag: 1 },
    { op: 'fsync', path: '/f' },
    { op: 'write', path: '/f', offset: 'append', length: 16, tag: 2 },
    { op: 'rename', from: '/f', to: '/g' },
  ],
};
const oracle = runOracle(createReference(), workload);

function recovered(entries: Array<[string, number]>, content?: Uint8Array): Recovered {
  const state: Snapshot = {
    entries: new Map(entries.map(([path, size]) => [path, { type: 'file' as const, size, ino: 1 }])),
    contents: new Map(content ? [[1, content]] : []),
  };
  return { fsckProblems: [], state };
}

describe('judging a recovered image against the window', () => {
  test('a state inside the window passes', () => {
    const bytes = new Uint8Array([...patternBytes(1, 0, 16), ...patternBytes(2, 16, 16)]);
    expect(judge(recovered([['/f', 32]], bytes), oracle, { done: 4, inFlight: false })).toEqual([]);
  });

  test('a state before the last persistence point is G4', () => {
    const v = judge(recovered([['/f', 0]], new Uint8Array(0)), oracle, { done: 4, inFlight: false });
    expect(v.map((x) => x.promise)).toEqual(['G4']);
  });

  test('a word no state held is G5, and the diff names the write it came from', () => {
    const bytes = new Uint8Array([...patternBytes(1, 0, 8), ...patternBytes(7, 8, 8), ...patternBytes(2, 16, 16)]);
    const [v] = judge(recovered([['/f', 32]], bytes), oracle, { done: 4, inFlight: false });
    expect(v.promise).toBe('G5');
    expect(v.diff).toMatch(/\/f bytes 8\.\.15: holds [0-9a-f]+ \(write tag 7\)/);
    expect(v.diff).toMatch(/\(write tag 1\)/);
  });

  test('a committed append without its data (zeros) is G6', () => {
    const bytes = new Uint8Array([...patternBytes(1, 0, 16), ...new Uint8Array(16)]);
    const [v] = judge(recovered([['/f', 32]], bytes), oracle, { done: 4, inFlight: false });
    expect(v.promise).toBe('G6');
  });

  describe('a shrink in flight', () => {
    // The shrink zeroes the rest of its new last block in place before its size commits, so
    // a crash inside it can show the old size with zeros past the new end.
    const shrinking: Workload = {
      name: 'shrink',
      ops: [
        { op: 'creat', path: '/f' },
        { op: 'write', path: '/f', offset: 0, length: 32, tag: 1 },
        { op: 'fsync', path: '/f' },
        { op: 'truncate', path: '/f', length: 16 },
      ],
    };
    const shrinkOracle = runOracle(createReference(), shrinking);
    const oldSizeZeroTail = new Uint8Array([...patternBytes(1, 0, 16), ...new Uint8Array(16)]);

    test('may leave the old size with zeros past the new end', () => {
      expect(judge(recovered([['/f', 32]], oldSizeZeroTail), shrinkOracle, { done: 3, inFlight: true })).toEqual([]);
    });

    test('but not once it is over: the same image after the fsync alone is G6', () => {
      const [v] = judge(recovered([['/f', 32]], oldSizeZeroTail), shrinkOracle, { done: 3, inFlight: false });
      expect(v.promise).toBe('G6');
    });

    test('and zeros before the new end are still G6', () => {
      const bytes = new Uint8Array([...patternBytes(1, 0, 8), ...new Uint8Array(24)]);
      const [v] = judge(recovered([['/f', 32]], bytes), shrinkOracle, { done: 3, inFlight: true });
      expect(v.promise).toBe('G6');
      expect(v.diff).toMatch(/\/f bytes 8\.\.15/);
    });
  });

  test('a namespace that no state of the window had is G3', () => {
    const [v] = judge(recovered([['/elsewhere', 32]]), oracle, { done: 5, inFlight: false });
    expect(v.promise).toBe('G3');
    expect(v.diff).toMatch(/\+ \/elsewhere/);
  });

  test('a mount failure is G1; fsck problems are G2', () => {
    expect(judge({ mountError: 'bad', fsckProblems: [] }, oracle, { done: 0, inFlight: false })[0].promise).toBe('G1');
    const r = { ...recovered([]), fsckProblems: [{ kind: 'dtime' as const, where: 'inode 12', what: 'x' }] };
    expect(judge(r, oracle, { done: 0, inFlight: false }).map((x) => x.promise)).toEqual(['G2']);
  });
});

describe('a file created after another was deleted is another file', () => {
  // memfs hands the deleted file's inode number to the next new file; the oracle must not
  // let the new file inherit the old one's contents (an older value coming back is G4) or its
  // durable points.
  const reuse: Workload = {
    name: 'reuse',
    ops: [
      { op: 'creat', path: '/a' },
      { op: 'write', path: '/a', offset: 0, length: 16, tag: 1 },
      { op: 'sync' },
      { op: 'unlink', path: '/a' },
      { op: 'creat', path: '/b' },
      { op: 'write', path: '/b', offset: 8, length: 8, tag: 2 },
      { op: 'fsync', path: '/b' },
    ],
  };
  const run = runOracle(createReference(), reuse);

  test('the oracle gives it a new identity, with only its own durable points', () => {
    const a = run.states[2].entries.get('/a')?.ino as number;
    const b = run.states[7].entries.get('/b')?.ino as number;
    expect(a).toBeGreaterThan(0);
    expect(b).not.toBe(a);
    expect(run.durableAt.get(b)).toEqual([5, 7]);
  });

  test('the deleted file\'s bytes in it are G5, not G4', () => {
    const bytes = new Uint8Array([...patternBytes(1, 0, 8), ...patternBytes(2, 8, 8)]);
    const v = judge(recovered([['/b', 16]], bytes), run, { done: 7, inFlight: false });
    expect(v.map((x) => x.promise)).toEqual(['G5']);
  });
});
