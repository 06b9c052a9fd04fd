import { MAX_SHRINK_TRIES, choices, shrink } from '../../crash/shrink';
import { runUnit } from '../../crash/engine';
import type { Workload } from '../../workloads/ops';

const options = {
  setup: { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'unordered', flushHint: false },
  points: 'flushes', states: { kind: 'bounded', k: 1, limit: 12 }, seed: 'shrink', recoveryStates: 0,
} as const;

const workload: Workload = {
  name: 'shrink-me',
  ops: [
    { op: 'mkdir', path: '/A' },
    { op: 'creat', path: '/A/foo' },
    { op: 'write', path: '/A/foo', offset: 0, length: 6000, tag: 1 },
    { op: 'creat', path: '/bar' },
    { op: 'fsync', path: '/A/foo' },
    { op: 'rename', from: '/bar', to: '/baz' },
    { op: 'sync' },
  ],
};

describe('shrinking', () => {
  const promise = Object.keys(runUnit(workload, options).findingCounts)[0] as 'G2';
  /** The plain shrink, made once: the first test holds it to a second run, the second compares the told one with it. */
  let plain: ReturnType<typeof shrink> | undefined;
  const plainShrink = () => (plain ??= shrink(workload, promise, options));
  /**
   * The shrink told the workload fails, made once: it runs the same exploration again from
   * its second run on (the first run's determinism is held apart below, at budget 1), so it
   * is the second run the first test holds the plain one to, and the one the second compares.
   */
  let told: ReturnType<typeof shrink> | undefined;
  const toldShrink = () => (told ??= shrink(workload, promise, options, MAX_SHRINK_TRIES, true));

  test('reduces the workload while the same promise breaks, deterministically', () => {
    expect(promise).toBeDefined();
    const a = plainShrink();
    console.log(`shrunk ${workload.ops.length} -> ${a.workload.ops.length} operations in ${a.tries} tries (${promise}): ${a.steps.join('; ')}`);
    expect(a.workload.ops.length).toBeLessThan(workload.ops.length);
    expect(a.finding.promise).toBe(promise);
    expect(runUnit(a.workload, options).findingCounts[promise]).toBeGreaterThan(0);
    const b = toldShrink();
    expect(b.workload).toEqual(a.workload);
    expect(b.tries).toBe(a.tries);
    expect(choices(b.finding.crashState)).toBe(choices(a.finding.crashState));
  });

  test('told the workload fails, it skips the first run and gives the same result and try count', () => {
    const eager = plainShrink();
    const told = toldShrink();
    expect(eager.steps.length).toBeGreaterThan(0);
    expect(told).toEqual(eager);
    // with nothing accepted the original's run is made after all, and its finding returned
    const none = shrink(workload, promise, options, 1, true);
    expect(none).toEqual(shrink(workload, promise, options, 1));
    expect(none.tries).toBe(1);
    expect(none.workload).toEqual(workload);
  });

  test('a workload that does not fail is refused', () => {
    expect(() => shrink({ name: 'fine', ops: [{ op: 'sync' }] }, 'G4', options, MAX_SHRINK_TRIES, true)).toThrow(/nothing to shrink/);
    expect(() => shrink({ name: 'fine', ops: [{ op: 'sync' }] }, 'G4', options)).toThrow(/nothing to shrink/);
  });
});
