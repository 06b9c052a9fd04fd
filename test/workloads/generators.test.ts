// The workload generators: sizes, determinism, validity on the reference, coverage, and the
// shape of the application patterns.

import { createHash } from 'node:crypto';
import { AssertionFailure, type SyncFs } from '../../core';
import { createReference } from '../../workloads';
import { SUITE_NAMES, workloadSpace, workloadSummary, type SuiteName } from '../../workloads/generators';
import {
  applyOp, type Handles, type Op, type OpName, type OpResult, type Workload,
} from '../../workloads/ops';

const BOUNDED_SIZES: Readonly<Record<'bounded-1' | 'bounded-2' | 'bounded-3', number>> = {
  'bounded-1': 569,
  'bounded-2': 4094,
  'bounded-3': 47036,
};
const APPS_SIZE = 13;
const BOUNDED_3_SAMPLE_STRIDE = 7;

interface Run {
  readonly results: readonly OpResult[];
  readonly fs: SyncFs;
}

function run(w: Workload, before?: (fs: SyncFs, op: Op) => void): Run {
  const fs = createReference();
  const handles: Handles = new Map();
  const results = w.ops.map((op) => {
    before?.(fs, op);
    return applyOp(fs, op, handles);
  });
  return { results, fs };
}

function failures(w: Workload, results: readonly OpResult[]): string[] {
  return results.flatMap((result, index) =>
    result.ok ? [] : [`${w.name}: step ${index} ${JSON.stringify(w.ops[index])} -> ${result.code}`]);
}

function all(suite: SuiteName): Workload[] {
  const space = workloadSpace({ suite });
  return Array.from({ length: space.size }, (_, index) => space.workload(index));
}

function digest(workloads: readonly Workload[]): string {
  return createHash('sha256').update(JSON.stringify(workloads)).digest('hex').slice(0, 16);
}

function sizeOrUndefined(fs: SyncFs, path: string): number | undefined {
  try {
    return fs.lstatSync(path).size;
  } catch {
    return undefined;
  }
}

function isDir(fs: SyncFs, path: string): boolean {
  try {
    return fs.lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

describe('suites and sizes', () => {
  test('SUITE_NAMES lists every suite once', () => {
    expect([...SUITE_NAMES].sort()).toEqual(['apps', 'bounded-1', 'bounded-2', 'bounded-3', 'random', 'shapes']);
  });

  test.each(Object.entries(BOUNDED_SIZES))('%s holds exactly %d workloads', (suite, size) => {
    expect(workloadSpace({ suite: suite as SuiteName }).size).toBe(size);
  });

  test('apps holds its instances; random is unbounded', () => {
    expect(workloadSpace({ suite: 'apps' }).size).toBe(APPS_SIZE);
    expect(workloadSpace({ suite: 'random' }).size).toBe(Infinity);
  });

  test('indices outside the space and misplaced parameters are bugs of the caller', () => {
    const bounded = workloadSpace({ suite: 'bounded-1' });
    expect(() => bounded.workload(bounded.size)).toThrow(AssertionFailure);
    expect(() => bounded.workload(-1)).toThrow(AssertionFailure);
    expect(() => bounded.workload(0.5)).toThrow(AssertionFailure);
    expect(() => workloadSpace({ suite: 'apps' }).workload(APPS_SIZE)).toThrow(AssertionFailure);
    expect(() => workloadSpace({ suite: 'bounded-2', length: 5 })).toThrow(AssertionFailure);
    expect(() => workloadSpace({ suite: 'random', length: 0 })).toThrow(AssertionFailure);
    expect(() => workloadSpace({ suite: 'random', mix: {} })).toThrow(AssertionFailure);
    expect(() => workloadSpace({ suite: 'random', mix: { write: -1 } })).toThrow(AssertionFailure);
    expect(() => workloadSpace({ suite: 'random' }).workload(0)).toThrow(AssertionFailure);
  });
});

describe('determinism', () => {
  test('bounded and apps: two spaces give the same workloads, and names are unique', () => {
    for (const suite of ['bounded-1', 'bounded-2', 'apps'] as const) {
      const first = all(suite);
      expect(all(suite)).toEqual(first);
      expect(new Set(first.map((w) => w.name)).size).toBe(first.length);
    }
  });

  test('bounded-2: no two workloads have the same operations', () => {
    const ops = all('bounded-2').map((w) => JSON.stringify(w.ops));
    expect(new Set(ops).size).toBe(ops.length);
  });

  test('random: same (params, seed, index) gives the same workload; others differ', () => {
    const params = { suite: 'random', length: 30, mix: { write: 3, creat: 1, rename: 1 } } as const;
    const a = workloadSpace(params).workload(7, 'seed-a');
    const b = workloadSpace(params).workload(7, 'seed-a');
    expect(b).toEqual(a);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(workloadSpace(params).workload(8, 'seed-a').ops).not.toEqual(a.ops);
    expect(workloadSpace(params).workload(7, 'seed-b').ops).not.toEqual(a.ops);
    // The order in which the mix object was written does not matter.
    const reordered = workloadSpace({ suite: 'random', length: 30, mix: { rename: 1, creat: 1, write: 3 } });
    expect(reordered.workload(7, 'seed-a')).toEqual(a);
  });

  // Reproduction tokens name workloads by (suite, index[, seed]): the values must not drift.
  // A deliberate change to a generator updates these digests and says so in its commit.
  test('pinned digests', () => {
    const random = workloadSpace({ suite: 'random' });
    const randoms = Array.from({ length: 5 }, (_, index) => random.workload(index, 42));
    expect({
      bounded1: digest(all('bounded-1')),
      bounded2: digest(all('bounded-2')),
      apps: digest(all('apps')),
      random: digest(randoms),
    }).toEqual(PINNED_DIGESTS);
  });

  test('JSON round trip is lossless for every suite', () => {
    const samples = [
      ...all('bounded-1'),
      ...all('apps'),
      workloadSpace({ suite: 'bounded-3' }).workload(12345),
      ...Array.from({ length: 20 }, (_, index) => workloadSpace({ suite: 'random' }).workload(index, 'json')),
    ];
    for (const w of samples) expect(JSON.parse(JSON.stringify(w))).toEqual(w);
  });
});

const PINNED_DIGESTS = {
  bounded1: 'c9dbcc5d0cb9f6b1',
  bounded2: '766175f6a5aef7aa',
  apps: '7b7ee4d80aa78b0a',
  random: 'ad1a89dec74d3291',
};

describe('bounded: validity on the reference', () => {
  test.each(['bounded-1', 'bounded-2'] as const)('every %s workload runs without an error', (suite) => {
    const problems = all(suite).flatMap((w) => failures(w, run(w).results));
    expect(problems).toEqual([]);
  });

  test(`bounded-3: one workload in ${BOUNDED_3_SAMPLE_STRIDE} runs without an error`, () => {
    const space = workloadSpace({ suite: 'bounded-3' });
    const problems: string[] = [];
    for (let index = 0; index < space.size; index += BOUNDED_3_SAMPLE_STRIDE) {
      const w = space.workload(index);
      problems.push(...failures(w, run(w).results));
    }
    // And the last one, which the stride may skip.
    const last = space.workload(space.size - 1);
    problems.push(...failures(last, run(last).results));
    expect(problems).toEqual([]);
  });

  test('setup is mkdirs, then creat + 4 KiB write per file, then one sync', () => {
    // one expectation on the workloads that break the shape (an expect an operation was 20,000 of them)
    const problems: string[] = [];
    for (const w of all('bounded-2')) {
      const end = w.ops.findIndex((op) => op.op === 'sync');
      if (end < 0) {
        problems.push(`${w.name}: no sync`);
        continue;
      }
      const setup = w.ops.slice(0, end);
      const firstFile = setup.findIndex((op) => op.op !== 'mkdir');
      const files = firstFile < 0 ? [] : setup.slice(firstFile);
      if (files.length % 2 !== 0) problems.push(`${w.name}: ${files.length} file operations in the setup`);
      for (let i = 0; i + 1 < files.length; i += 2) {
        const [creat, write] = [files[i] as Op, files[i + 1] as Op];
        if (creat.op !== 'creat') problems.push(`${w.name}: setup operation ${firstFile + i} is ${creat.op}, not creat`);
        const path = (creat as { path?: string }).path;
        if (!(write.op === 'write' && write.path === path && write.offset === 0 && write.length === 4096)) {
          problems.push(`${w.name}: setup operation ${firstFile + i + 1} is not a 4 KiB write at 0 to ${path}: ${JSON.stringify(write)}`);
        }
      }
      // Core steps start right after the setup's sync.
      if (!(w.ops.length > end + 2)) problems.push(`${w.name}: ${w.ops.length - end - 1} operations after the setup's sync`);
    }
    expect(problems).toEqual([]);
  });

  test('write tags are distinct within every bounded-2 workload', () => {
    const repeated = all('bounded-2').filter((w) => {
      const tags = w.ops.flatMap((op) => (op.op === 'write' ? [op.tag] : []));
      return new Set(tags).size !== tags.length;
    });
    expect(repeated.map((w) => w.name)).toEqual([]);
  });
});

describe('bounded-2: coverage', () => {
  // What each core step did, as seen on the reference just before it ran.
  function behaviours(): Set<string> {
    const seen = new Set<string>();
    for (const w of all('bounded-2')) {
      let setupDone = false;
      run(w, (fs, op) => {
        if (!setupDone) {
          setupDone = op.op === 'sync';
          return;
        }
        for (const b of classify(fs, op)) seen.add(b);
      });
      for (const match of w.name.matchAll(/; ([a-z-]+)\]/g)) seen.add(`persistence:${match[1]}`);
    }
    return seen;
  }

  function classify(fs: SyncFs, op: Op): string[] {
    switch (op.op) {
      case 'creat':
        return [sizeOrUndefined(fs, op.path) === undefined ? 'creat-new' : 'creat-existing'];
      case 'write': {
        const size = sizeOrUndefined(fs, op.path) ?? 0;
        if (op.offset === 'append') return ['write-append'];
        return [op.offset > size ? 'write-past-end' : 'write-overwrite'];
      }
      case 'truncate':
        return [op.length < (sizeOrUndefined(fs, op.path) ?? 0) ? 'truncate-shrink' : 'truncate-grow'];
      case 'fsync':
        return [isDir(fs, op.path) ? 'fsync-dir' : 'fsync-file'];
      case 'rename': {
        const out = [isDir(fs, op.from) ? 'rename-dir' : 'rename-file'];
        if (sizeOrUndefined(fs, op.to) !== undefined) out.push(`${out[0]}-replacing`);
        if (parentOf(op.from) !== parentOf(op.to)) out.push(`${out[0]}-other-dir`);
        return out;
      }
      default:
        return [op.op];
    }
  }

  test('every core operation and every persistence point appears', () => {
    const seen = behaviours();
    const expected = [
      'creat-new', 'creat-existing', 'write-append', 'write-overwrite', 'write-past-end',
      'truncate-shrink', 'truncate-grow', 'mkdir', 'rmdir', 'unlink', 'link', 'symlink',
      'rename-file', 'rename-file-replacing', 'rename-file-other-dir',
      'rename-dir', 'rename-dir-replacing', 'rename-dir-other-dir',
      'fsync-file', 'fsync-dir', 'fdatasync', 'sync',
      'persistence:none', 'persistence:fsync-touched', 'persistence:fsync-parent',
      'persistence:fdatasync', 'persistence:sync',
    ];
    expect(expected.filter((b) => !seen.has(b))).toEqual([]);
  });

  test('bounded-2 and random together use every kind of operation', () => {
    const names = new Set<OpName>();
    for (const w of all('bounded-2')) for (const op of w.ops) names.add(op.op);
    const random = workloadSpace({ suite: 'random' });
    for (let index = 0; index < 50; index++) for (const op of random.workload(index, 1).ops) names.add(op.op);
    const every: OpName[] = [
      'creat', 'write', 'read', 'truncate', 'fsync', 'fdatasync', 'sync', 'mkdir', 'rmdir',
      'unlink', 'link', 'symlink', 'rename', 'open', 'close', 'pwrite', 'hfsync',
    ];
    expect(every.filter((name) => !names.has(name))).toEqual([]);
  });
});

describe('random', () => {
  test('at least 70% of steps succeed on the reference over 50 workloads', () => {
    const space = workloadSpace({ suite: 'random' });
    let ok = 0;
    let total = 0;
    for (let index = 0; index < 50; index++) {
      const w = space.workload(index, 'ok-rate');
      expect(w.ops).toHaveLength(20);
      const { results } = run(w);
      ok += results.filter((r) => r.ok).length;
      total += results.length;
    }
    expect(ok / total).toBeGreaterThanOrEqual(0.7);
    // Errors are part of what is compared: some steps do fail.
    expect(ok).toBeLessThan(total);
  });

  test('length and mix are honoured', () => {
    const space = workloadSpace({ suite: 'random', length: 200, mix: { creat: 1, write: 2, fsync: 1 } });
    for (let index = 0; index < 5; index++) {
      const w = space.workload(index, 3);
      expect(w.ops).toHaveLength(200);
      expect(new Set(w.ops.map((op) => op.op))).toEqual(new Set(['creat', 'write', 'fsync']));
    }
  });

  // About 8% of steps are built to fail; a much higher failure rate means the generator's
  // model of the tree has drifted from what the operations really did.
  test('a long workload over the default mix stays mostly valid', () => {
    const w = workloadSpace({ suite: 'random', length: 2000 }).workload(0, 'long');
    const { results } = run(w);
    expect(results.filter((r) => r.ok).length / results.length).toBeGreaterThanOrEqual(0.85);
  });
});

describe('apps', () => {
  const apps = all('apps');
  const byPattern = (pattern: string) => apps.filter((w) => w.name.includes(` ${pattern} `));

  test('four patterns, every instance valid on the reference', () => {
    for (const pattern of ['atomic-replace', 'append-log', 'maildir', 'big-file']) {
      expect(byPattern(pattern).length).toBeGreaterThanOrEqual(3);
    }
    expect(apps.flatMap((w) => failures(w, run(w).results))).toEqual([]);
  });

  test('atomic replace: creat temp, write, fsync it, rename over /data, fsync /', () => {
    for (const w of byPattern('atomic-replace')) {
      const rounds = w.ops.slice(4);
      expect(rounds.length % 5).toBe(0);
      for (let i = 0; i < rounds.length; i += 5) {
        const [creat, write, fsync, rename, fsyncDir] = rounds.slice(i, i + 5) as Op[];
        const temp = (creat as { path: string }).path;
        expect(creat).toEqual({ op: 'creat', path: temp });
        expect(write).toMatchObject({ op: 'write', path: temp, offset: 0 });
        expect(fsync).toEqual({ op: 'fsync', path: temp });
        expect(rename).toEqual({ op: 'rename', from: temp, to: '/data' });
        expect(fsyncDir).toEqual({ op: 'fsync', path: '/' });
      }
      expect(w.ops.slice(-2).map((op) => op.op)).toEqual(['rename', 'fsync']);
    }
  });

  test('append log: every record is an append followed by an fsync of the log', () => {
    for (const w of byPattern('append-log')) {
      const records = w.ops.slice(3);
      expect(records.length % 2).toBe(0);
      for (let i = 0; i < records.length; i += 2) {
        expect(records[i]).toMatchObject({ op: 'write', path: '/log', offset: 'append' });
        expect(records[i + 1]).toEqual({ op: 'fsync', path: '/log' });
      }
    }
  });

  test('maildir: each delivery lands in new/ of its mailbox, which is then fsynced', () => {
    for (const w of byPattern('maildir')) {
      const { fs } = run(w);
      const renames = w.ops.flatMap((op, index) => (op.op === 'rename' ? [index] : []));
      expect(renames.length).toBeGreaterThan(0);
      for (const index of renames) {
        const rename = w.ops[index] as { from: string; to: string };
        expect(rename.from).toMatch(/^\/mail\d+\/tmp\/m\d+$/);
        expect(rename.to).toBe(rename.from.replace('/tmp/', '/new/'));
        expect(w.ops[index + 1]).toEqual({ op: 'fsync', path: parentOf(rename.to) });
        expect(fs.readdirSync(parentOf(rename.from))).toEqual([]);
      }
    }
  });

  test('big file: 1 MiB, then 4 KiB overwrites inside it, each followed by fdatasync', () => {
    for (const w of byPattern('big-file')) {
      expect(w.ops[1]).toMatchObject({ op: 'write', path: '/big', offset: 0, length: 1 << 20 });
      const overwrites = w.ops.slice(4);
      for (let i = 0; i < overwrites.length; i += 2) {
        const write = overwrites[i] as { op: string; offset: number; length: number };
        expect(write).toMatchObject({ op: 'write', length: 4096 });
        expect(write.offset + write.length).toBeLessThanOrEqual(1 << 20);
        expect(overwrites[i + 1]).toEqual({ op: 'fdatasync', path: '/big' });
      }
      expect(run(w).fs.statSync('/big').size).toBe(1 << 20);
    }
  });
});

describe('workloadSummary', () => {
  test('one line per op', () => {
    const w = workloadSpace({ suite: 'apps' }).workload(0);
    const lines = workloadSummary(w).split('\n');
    expect(lines).toHaveLength(w.ops.length);
    expect(lines[0]).toMatch(/^ ?0 creat \/data$/);
    const random = workloadSpace({ suite: 'random', length: 300 }).workload(0, 'summary');
    expect(workloadSummary(random).split('\n')).toHaveLength(300);
  });
});
