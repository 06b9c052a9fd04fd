// The shapes suite as a generator: its size, determinism (pinned), validity on the
// reference, and the limits every suite keeps (distinct tags, plain JSON). Whether each
// workload reaches its shape on our file system is test/crash/shapes.test.ts.

import { createHash } from 'node:crypto';
import { AssertionFailure } from '../../core';
import { createReference } from '../../workloads';
import { SUITE_NAMES, workloadSpace } from '../../workloads/generators';
import { applyOp, type Handles, type Workload } from '../../workloads/ops';
import { MAX_TAG } from '../../workloads/space';

const SHAPES_SIZE = 11;
/** Reproduction tokens name shapes workloads by index: a deliberate change updates this. */
const PINNED_DIGEST = '1d03c976c963c98c';
/** The first nine as they were before shrink-then-grow was appended, and the first ten before
 * tree-block-reused: their indices keep their meaning. */
const FIRST_NINE_DIGEST = 'f33390404c4b6799';
const FIRST_TEN_DIGEST = '740fcc44d703c589';

function all(): Workload[] {
  const space = workloadSpace({ suite: 'shapes' });
  return Array.from({ length: space.size }, (_, index) => space.workload(index));
}

function digest(workloads: readonly Workload[]): string {
  return createHash('sha256').update(JSON.stringify(workloads)).digest('hex').slice(0, 16);
}

test('shapes is the last suite, after the ones whose codes tokens already carry', () => {
  expect(SUITE_NAMES).toEqual(['bounded-1', 'bounded-2', 'bounded-3', 'random', 'apps', 'shapes']);
});

test(`holds ${SHAPES_SIZE} workloads; an index outside is a bug of the caller`, () => {
  const space = workloadSpace({ suite: 'shapes' });
  expect(space.size).toBe(SHAPES_SIZE);
  expect(() => space.workload(SHAPES_SIZE)).toThrow(AssertionFailure);
  expect(() => space.workload(-1)).toThrow(AssertionFailure);
  expect(() => workloadSpace({ suite: 'shapes', length: 3 })).toThrow(AssertionFailure);
});

test('deterministic: the same workloads from every space, unique names, a pinned digest', () => {
  const first = all();
  expect(all()).toEqual(first);
  expect(new Set(first.map((w) => w.name)).size).toBe(first.length);
  expect(first.map((w) => w.name.replace(/^shapes#\d+ /, ''))).toEqual([
    'reuse-after-commit', 'reuse-before-commit', 'unlinked-open', 'unlinked-open-pair', 'big-dir', 'big-dir-removed',
    'other-groups', 'sparse-far', 'many-commits', 'shrink-then-grow', 'tree-block-reused',
  ]);
  expect(digest(first)).toBe(PINNED_DIGEST);
  expect(digest(first.slice(0, 9))).toBe(FIRST_NINE_DIGEST);
  expect(digest(first.slice(0, 10))).toBe(FIRST_TEN_DIGEST);
});

test('plain JSON, distinct write tags (at most MAX_TAG), every operation succeeds on the reference', () => {
  for (const w of all()) {
    expect(JSON.parse(JSON.stringify(w))).toEqual(w);
    const tags = w.ops.flatMap((op) => (op.op === 'write' || op.op === 'pwrite' ? [op.tag] : []));
    expect(new Set(tags).size).toBe(tags.length);
    expect(tags.length).toBeLessThanOrEqual(MAX_TAG);
    const fs = createReference();
    const handles: Handles = new Map();
    const failed = w.ops.flatMap((op, i) => {
      const r = applyOp(fs, op, handles);
      return r.ok ? [] : [`${w.name} step ${i} ${JSON.stringify(op)}: ${r.code}`];
    });
    expect(failed).toEqual([]);
  }
});

test('the unlinked-open workloads end with a handle open on an unlinked file', () => {
  for (const name of ['unlinked-open', 'unlinked-open-pair']) {
    const w = all().find((x) => x.name.endsWith(` ${name}`)) as Workload;
    const opened = new Set(w.ops.flatMap((op) => (op.op === 'open' ? [op.handle] : [])));
    for (const op of w.ops) if (op.op === 'close') opened.delete(op.handle);
    expect(opened.size).toBe(1);
  }
});
