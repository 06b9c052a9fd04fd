/**
 * G7 (atomic rename) on real images. A rename that replaces a name must leave the old or the
 * new name; G7 says neither survived.
 *
 * On this file system the engine cannot make such an image with a correct policy: a rename
 * retargets the existing target entry in place (one 8-byte word), so the target name cannot
 * vanish while its directory survives. Under `unordered` on an asynchronous flavour, where a
 * commit's writes persist in any order, both names do vanish when a directory holding one
 * of them is lost (an inode-table line of /A or /B did not persist, so the directory's inode
 * reads as unallocated); since lookups follow the kernel's iget, such an image answers
 * EUCLEAN on the lost directory's name ("deleted inode referenced"), which the check reports
 * as G1 (the recovered file system cannot be read), before any namespace promise. The first
 * test pins that; the second shows G7 itself, judged by the engine's own recovery and check
 * (`recoverImage`, `judge`) on an image our file system wrote with both names gone and both
 * directories intact; the third, that `ordered` has no finding on the same workload.
 */
import { judge, recoverImage } from '../../crash/check';
import type { MountSetup } from '../../crash/check';
import { runUnit } from '../../crash/engine';
import type { EngineOptions } from '../../crash/engine';
import { findingToken, repro } from '../../crash/repro';
import type { Workload } from '../../workloads/ops';
import { runOracle } from '../../crash/oracle';
import { createReference } from '../../workloads/reference';
import { PmemDevice } from '../../device/device';
import { baseImage } from '../../crash/setup';
import { mount } from '../../fs/mount';

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
/** What the check says of an image whose /A or /B inode did not persist: the lookup's EUCLEAN, in lstat or readdir. */
const LOST_DIR = /EUCLEAN: structure needs cleaning, (lstat|scandir) '\/[AB]'/;
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

describe('G7 atomic rename, on real images', () => {
  test('unordered on armv8.2 with linux-arm64-nosync: a lost directory is G1 (its name answers EUCLEAN, as on Linux), and a token rebuilds it', () => {
    const r = explore('unordered');
    console.log(`unordered rename-over: ${r.statesChecked} states, ${JSON.stringify(r.findingCounts)}`);
    expect(r.findingCounts.G1).toBeGreaterThan(0);
    const lost = r.findings.filter((f) => f.promise === 'G1' && LOST_DIR.test(f.diff));
    expect(lost.length).toBeGreaterThan(0);
    const again = repro(findingToken(lost[0]!, { seed: SEED, deviceBytes: DEVICE_BYTES }));
    expect(again.violations.map((v) => v.promise)).toContain('G1');
    expect(recoverImage(again.image, lost[0]!.setup).mountError).toMatch(LOST_DIR);
  });

  test('both names gone, both directories intact: the judgement is G7', () => {
    // /C is created after the persistence point, so the image matches no state before it (no G4)
    const workload: Workload = {
      name: 'rename-over-after-sync',
      ops: [
        { op: 'mkdir', path: '/A' },
        { op: 'mkdir', path: '/B' },
        { op: 'creat', path: '/A/a' },
        { op: 'creat', path: '/B/b' },
        { op: 'sync' },
        { op: 'creat', path: '/C' },
        { op: 'rename', from: '/A/a', to: '/B/b' },
      ],
    };
    const device = new PmemDevice({ media: baseImage(DEVICE_BYTES), trace: false });
    const f = mount(device, { policy: 'ordered', pmemApi: 'linux-arm64-nosync' });
    for (const d of ['/A', '/B']) f.mkdirSync(d);
    for (const n of ['/A/a', '/B/b', '/C']) f.writeFileSync(n, '');
    f.unlinkSync('/A/a');
    f.unlinkSync('/B/b');
    f.syncSync();
    const recovered = recoverImage(device.guaranteedMedia(), setup('ordered'));
    expect([...(recovered.state?.entries.keys() ?? [])].sort()).toEqual(['/A', '/B', '/C']);
    const oracle = runOracle(createReference(), workload);
    // the power failed inside the rename: the window is operations 5 (the sync) to 7
    expect(judge(recovered, oracle, { done: 6, inFlight: true })).toEqual([{ promise: 'G7', diff: G7_DIFF }]);
    // the same image with the rename not yet begun is G3 (no state of the window has /C without /A/a)
    expect(judge(recovered, oracle, { done: 6, inFlight: false }).map((v) => v.promise)).toEqual(['G3']);
  });

  test('ordered on the same setup: no finding', () => {
    const r = explore('ordered');
    expect(r.statesChecked).toBeGreaterThan(100);
    expect(r.findingCounts).toEqual({});
  });
});
