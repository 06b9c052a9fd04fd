/**
 * The crash engine on a fixed workload (create, write, fsync, append, rename over the
 * directory, fsync of the directory, an unsynced create): the comparison users come for,
 * in miniature. The full comparison on the generated suites comes with the campaign API.
 */
import { MountSetup } from '../../crash/check';
import { runUnit } from '../../crash/engine';
import type { Workload } from '../../workloads/ops';

const workload: Workload = {
  name: 'write-fsync-append-rename',
  ops: [
    { op: 'mkdir', path: '/A' },
    { op: 'creat', path: '/A/foo' },
    { op: 'write', path: '/A/foo', offset: 0, length: 5000, tag: 1 },
    { op: 'fsync', path: '/A/foo' },
    { op: 'write', path: '/A/foo', offset: 'append', length: 3000, tag: 2 },
    { op: 'rename', from: '/A/foo', to: '/bar' },
    { op: 'fsync', path: '/' },
    { op: 'creat', path: '/baz' },
  ],
};

function run(setup: Partial<MountSetup>) {
  const full: MountSetup = { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false, ...setup };
  return runUnit(workload, { setup: full, points: 'flushes', states: { kind: 'bounded', k: 1, limit: 40 }, seed: 'engine-test' });
}

describe('crash engine', () => {
  test.each([
    ['armv8.2', 'linux-arm64'],
    ['armv8.2', 'linux-arm64-nosync'],
    ['armv8.0-adr', 'linux-arm64'],
    ['x86-adr', 'linux-x86'],
  ] as const)('ordered on %s with %s: no finding', (profile, pmemApi) => {
    const r = run({ profile, pmemApi });
    expect(r.disagreements).toEqual([]);
    expect(r.findingCounts).toEqual({});
    expect(r.statesChecked).toBeGreaterThan(100);
    expect(r.uniqueImages).toBeGreaterThan(10);
    expect(r.recoveriesExplored).toBeGreaterThan(0); // G9: recovery itself was crashed
    expect(r.recoveryStatesChecked).toBeGreaterThan(r.recoveriesExplored);
  });

  test('unordered on armv8.2: findings, counted per promise', () => {
    const r = run({ policy: 'unordered' });
    console.log(`unordered armv8.2 linux-arm64: ${r.statesChecked} states, ${JSON.stringify(r.findingCounts)}`);
    expect(Object.keys(r.findingCounts).length).toBeGreaterThan(0);
    expect(r.findings[0].diff.length).toBeGreaterThan(0);
  });

  test('the 2016 RFC on armv8.2: fsync returns and the data is gone (G4)', () => {
    const r = run({ pmemApi: 'rfc-2016' });
    expect(r.findingCounts.G4).toBeGreaterThan(0);
    const g4 = r.findings.find((f) => f.promise === 'G4');
    expect(g4?.diff).toMatch(/returned from a persistence point/);
  });

  test('linux-arm64 on armv8.0 (volatile PoC): findings without the flush hint, none with it', () => {
    const without = run({ profile: 'armv8.0' });
    const withHint = run({ profile: 'armv8.0', flushHint: true });
    console.log(`armv8.0 linux-arm64: ${JSON.stringify(without.findingCounts)} without the hint, ${JSON.stringify(withHint.findingCounts)} with it`);
    expect(Object.keys(without.findingCounts).length).toBeGreaterThan(0);
    expect(withHint.findingCounts).toEqual({});
  });

  test('every finding carries what rebuilds its crash state', () => {
    const r = run({ policy: 'unordered' });
    for (const f of r.findings) {
      expect(f.crashPoint).toBeGreaterThanOrEqual(0);
      expect(f.crashState.kind).toMatch(/bounded|sampled|newest|cut/);
      expect(JSON.parse(JSON.stringify(f.workload))).toEqual(workload);
    }
  });

  test('with e2fsck on every image, ordered still has no finding; the real tool ran', () => {
    const r = runUnit(workload, {
      setup: { profile: 'armv8.2', pmemApi: 'linux-arm64-nosync', policy: 'ordered', flushHint: false },
      points: 'barriers', states: { kind: 'sampled', count: 1 }, e2fsck: 'all', seed: 'e2fsck',
    });
    expect(r.e2fsckRuns).toBe(r.uniqueImages);
    expect(r.e2fsckRuns).toBeGreaterThan(3);
    expect(r.findingCounts).toEqual({});
  });

  test('same inputs, same results', () => {
    const a = run({ policy: 'unordered' });
    const b = run({ policy: 'unordered' });
    expect(JSON.stringify({ ...a, statesInBound: String(a.statesInBound) })).toBe(JSON.stringify({ ...b, statesInBound: String(b.statesInBound) }));
  });
});
