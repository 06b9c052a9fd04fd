/**
 * Real crash images with live orphans (files unlinked while open when the power fails):
 * after our recovery (journal replay, orphans finished) the orphan list is empty and no
 * in-use inode has zero links, which `fsck(device, { afterRecovery: true })` checks (G2:
 * leaked space; fs/fsck.ts). Before recovery an orphan list is legitimate: a crash image is
 * judged only after recovery (test/fs/fsck-after-recovery.test.ts holds the default fsck,
 * which accepts live orphans, against e2fsck -fn).
 *
 * Every crash point of the recording (after every barrier and clean, at persistence points,
 * at the end), two states each: the newest and one seeded draw. fsck runs twice per image:
 * on what a power failure right after the mount would leave (the mount's own transactions
 * live in the log, replayed as e2fsck would) and after a clean unmount (where crash/check.ts
 * runs it).
 */
import { StreamTree } from '../../core/streams';
import { PmemDevice } from '../../device/device';
import { recoverDevice } from '../../fs/mount';
import type { CrashState } from '../../device/crash';
import {
  BLOCK_BYTES, GROUP_DESC_BYTES, INODE_BYTES, SUPERBLOCK_OFFSET, decodeGroupDesc, decodeInode, decodeSuperblock,
} from '../../fs/format';
import { formatProblems, fsck } from '../../fs/fsck';
import { Recording, recordWorkload } from '../../crash/record';
import { MountSetup, baseImage, mountSetup, setupDevice } from '../../crash/setup';
import type { Workload } from '../../workloads/ops';

const WORKLOAD: Workload = {
  name: 'two-files-unlinked-while-open',
  ops: [
    { op: 'creat', path: '/a' },
    { op: 'write', path: '/a', offset: 0, length: 8192, tag: 1 },
    { op: 'creat', path: '/b' },
    { op: 'write', path: '/b', offset: 0, length: 100, tag: 2 },
    { op: 'sync' },
    { op: 'open', handle: 'ha', path: '/a', flags: 'r+' },
    { op: 'open', handle: 'hb', path: '/b', flags: 'r+' },
    { op: 'unlink', path: '/a' },
    { op: 'unlink', path: '/b' },
    { op: 'sync' },
    { op: 'pwrite', handle: 'ha', offset: 0, length: 100, tag: 3 },
    { op: 'hfsync', handle: 'ha' },
    { op: 'close', handle: 'hb' },
    { op: 'sync' },
    { op: 'close', handle: 'ha' },
  ],
};
const SETUPS: readonly MountSetup[] = [
  { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false },
  { profile: 'armv8.2', pmemApi: 'linux-arm64-nosync', policy: 'ordered', flushHint: false },
];
const DEVICE_BYTES = 16 << 20;

interface Tally {
  images: number;
  /** Crash images whose superblock names an orphan before recovery. */
  withOrphans: number;
  /** The longest orphan list seen before recovery. */
  longestList: number;
  problems: string[];
}

function superblock(device: PmemDevice) {
  return decodeSuperblock(device.load(SUPERBLOCK_OFFSET, 1024));
}

/** Inodes on the orphan list that starts at `first` (chained through i_dtime). */
function listLength(device: PmemDevice, first: number): number {
  const sb = superblock(device);
  let n = 0;
  for (let ino = first; ino !== 0 && n <= sb.inodesCount; n++) {
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const gd = decodeGroupDesc(device.load(BLOCK_BYTES + group * GROUP_DESC_BYTES, GROUP_DESC_BYTES), 0);
    ino = decodeInode(device.load(gd.inodeTable * BLOCK_BYTES + ((ino - 1) % sb.inodesPerGroup) * INODE_BYTES, INODE_BYTES), 0).dtime;
  }
  return n;
}

function checkImages(setup: MountSetup): Tally {
  const tally: Tally = { images: 0, withOrphans: 0, longestList: 0, problems: [] };
  const streams = StreamTree.of('orphans');
  const onCrashPoint = (device: PmemDevice) => {
    const point = device.crashPoint();
    const states: CrashState[] = [{ kind: 'newest' }, { kind: 'sampled', seed: `orphans/${device.instructionCount}` }];
    for (const state of states) {
      const crashed = setupDevice(setup, point.image(state), { trace: false });
      tally.images++;
      const first = superblock(crashed).lastOrphan;
      if (first !== 0) {
        tally.withOrphans++;
        tally.longestList = Math.max(tally.longestList, listLength(crashed, first));
      }
      const { fs } = mountSetup(crashed, setup);
      // the power failing right after the mount: its orphan work is committed to the log
      // (lazy checkpoints leave the home blocks behind), so replay that log, then check
      const afterMount = new PmemDevice({ media: crashed.guaranteedMedia().detach(), profile: setup.profile, trace: false });
      recoverDevice(afterMount, { pmemApi: setup.pmemApi });
      const mounted = fsck(afterMount, { afterRecovery: true });
      fs.unmount();
      const unmounted = fsck(crashed, { afterRecovery: true });
      for (const [when, problems] of [['mounted', mounted], ['unmounted', unmounted]] as const) {
        if (problems.length > 0) tally.problems.push(`instruction ${device.instructionCount} ${state.kind} (${when}): ${formatProblems(problems)}`);
      }
    }
  };
  const recording = new Recording({ setup, media: baseImage(DEVICE_BYTES), streams, points: 'flushes', onCrashPoint, trace: true });
  expect(recordWorkload(recording, WORKLOAD)).toBe(true);
  return tally;
}

describe('after our recovery of a real crash image, no orphan is left and nothing leaks', () => {
  test.each(SETUPS.map((s) => [s.pmemApi, s] as const))('ordered, %s on armv8.2', (_name, setup) => {
    const tally = checkImages(setup);
    console.log(`${setup.pmemApi}: ${tally.images} crash images, ${tally.withOrphans} with live orphans before recovery (longest list ${tally.longestList})`);
    expect(tally.problems.slice(0, 3)).toEqual([]);
    expect(tally.withOrphans).toBeGreaterThan(10);
    expect(tally.longestList).toBe(2);
  });
});
