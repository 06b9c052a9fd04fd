/**
 * G7 (atomic rename) fires on real crash images: a rename that replaces a name, under the
 * `unordered` policy on an asynchronous flavour, where the writes of its commit persist in
 * any order. The engine finds the images (sampled states at every barrier and clean), and
 * each finding's token rebuilds an image where the promise is broken again, with the same
 * diff; the same workload under `ordered` has no finding at all.
 *
 * What these images are: /A/a and /B/b created, /A/a renamed over /B/b, one sync at the end,
 * so the whole workload is one transaction whose writes (log blocks, commit block, home
 * blocks, tail) persist in a seeded order. In the images that break G7 both names are gone
 * because a directory holding one of them is: an inode-table line of /A or /B did not persist
 * (the directory reads as a mode-0 inode, so its names are gone), or the root's entries are
 * torn. Every such image also breaks G2 (fsck sees the damage), and the check does not tell
 * a lost target name from a lost target directory. That is the only way G7 shows on this
 * file system today: a rename retargets the existing target entry in place (one 8-byte
 * word), so the target name cannot vanish on its own while its directory survives, short of
 * replay writing a stale log copy of the target's directory home, which needs a log that has
 * wrapped.
 *
 * The token of the first finding is printed, for `daxcrash repro`.
 */
import { recoverImage } from '../../crash/check';
import type { MountSetup } from '../../crash/check';
import { runUnit } from '../../crash/engine';
import type { EngineOptions } from '../../crash/engine';
import { findingToken, repro } from '../../crash/repro';
import type { Workload } from '../../workloads/ops';

const RENAME_OVER: Workload = {
  name: 'rename-over-another-directory',
  ops: [
    { op: 'mkdir', path: '/A' },
    { op: 'mkdir', path: '/B' },
    { op: 'creat', path: '/A/a' },
    { op: 'write', path: '/A/a', offset: 0, length: 100, tag: 1 },
    { op: 'creat', path: '/B/b' },
    { op: 'write', path: '/B/b', offset: 0, length: 100, tag: 2 },
    { op: 'rename', from: '/A/a', to: '/B/b' },
    { op: 'sync' },
  ],
};
const SEED = 'g7';
const DEVICE_BYTES = 16 << 20;
const G7_DIFF = 'rename /A/a -> /B/b replaced a name, and neither name survived';

function setup(policy: MountSetup['policy']): MountSetup {
  return { profile: 'armv8.2', pmemApi: 'linux-arm64-nosync', policy, flushHint: false };
}

function explore(policy: MountSetup['policy']) {
  const options: EngineOptions = {
    setup: setup(policy), points: 'flushes', states: { kind: 'sampled', count: 8 }, seed: SEED, deviceBytes: DEVICE_BYTES,
    recoveryStates: 0, keepPerPromise: 3,
  };
  return runUnit(RENAME_OVER, options);
}

describe('G7 atomic rename, on real crash images', () => {
  test('unordered on armv8.2 with linux-arm64-nosync: the engine finds G7, and its token rebuilds it', () => {
    const r = explore('unordered');
    console.log(`G7: ${r.statesChecked} states, ${JSON.stringify(r.findingCounts)}`);
    expect(r.findingCounts.G7).toBeGreaterThan(0);
    const g7 = r.findings.filter((f) => f.promise === 'G7');
    expect(g7.map((f) => f.diff)).toEqual(g7.map(() => G7_DIFF));
    const token = findingToken(g7[0]!, { seed: SEED, deviceBytes: DEVICE_BYTES });
    console.log(`G7 token: ${token}\n  daxcrash repro ${token}`);
    for (const f of g7) {
      const again = repro(findingToken(f, { seed: SEED, deviceBytes: DEVICE_BYTES }));
      expect(again.violations).toContainEqual({ promise: 'G7', diff: G7_DIFF });
      const state = recoverImage(again.image, f.setup).state;
      expect({ source: state?.entries.has('/A/a'), target: state?.entries.has('/B/b') }).toEqual({ source: false, target: false });
    }
  });

  test('ordered on the same setup: no finding', () => {
    const r = explore('ordered');
    expect(r.statesChecked).toBeGreaterThan(100);
    expect(r.findingCounts).toEqual({});
  });
});
