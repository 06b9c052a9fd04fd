/**
 * After recovery the orphan list is empty and no in-use inode has zero links (G2,
 * spec/crash-checking.md; fs/fsck.ts `afterRecovery`). Each image is written by our file
 * system, altered with `debugfs -w` as a person would craft it, and judged three ways: our
 * fsck as the image is (the default), our fsck after recovery, and the real `e2fsck -fn`.
 * Then our recovery runs (a mount, which finishes the orphan list, and a clean unmount) and
 * the image is judged again.
 *
 * What e2fsck -fn (1.47) says, pinned below:
 * - a live orphan list (s_last_orphan names a file that still has its name and links):
 *   nothing, exit 0: -n never reads the list (-y truncates the inode and exits 1). Ours as
 *   the image is agrees; after recovery the list must be empty, so ours is stricter there;
 * - a file unlinked while open (no name, links_count 0, on the list): "Deleted inode N has
 *   zero dtime" and bitmap differences, exit 4. Ours as the image is accepts it (recovery
 *   frees it: the pinned divergence of test/fs/fsck.test.ts); after recovery it is leaked;
 * - links_count 0 on a named inode off the list: "Deleted inode N has zero dtime", "Entry
 *   ... has deleted/unused inode N" and bitmap differences, exit 4; ours fails it either
 *   way, and recovery does not hide it (mount does not scan the inode table).
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { PmemDevice } from '../../device/device';
import { FsckProblem, formatProblems, fsck } from '../../fs/fsck';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { run, tmpDir } from '../helpers/e2fs';
import { e2fsckComplaints } from '../helpers/e2fsprogs';

const WORK = tmpDir('fsck-after-recovery');
const FAKE_TIME = '1700000000';

interface Written {
  readonly image: string;
  /** Inode numbers of /f (10000 bytes) and /g (5000 bytes). */
  readonly f: number;
  readonly g: number;
}

/** A clean image with two files, written by our file system. */
function writtenImage(name: string): Written {
  const device = new PmemDevice({ sizeBytes: 16 << 20, trace: false });
  mkfs(device, { seed: 'after-recovery', timeSeconds: Number(FAKE_TIME) });
  const ours = mount(device);
  ours.writeFileSync('/f', 'f'.repeat(10000));
  ours.writeFileSync('/g', 'g'.repeat(5000));
  const f = Number(ours.statSync('/f').ino);
  const g = Number(ours.statSync('/g').ino);
  ours.unmount();
  const image = nodePath.join(WORK, `${name}.img`);
  device.writeImage(image);
  return { image, f, g };
}

/** `debugfs -w` with these requests, one a line, on a fixed clock. */
function debugfsWrite(image: string, requests: readonly string[]): void {
  const script = `${image}.debugfs`;
  fs.writeFileSync(script, `${requests.join('\n')}\n`);
  const result = run('debugfs', ['-w', '-f', script, image], { E2FSPROGS_FAKE_TIME: FAKE_TIME });
  expect({ status: result.status, stderr: result.stderr.replace(/^debugfs [^\n]*\n/, '') }).toEqual({ status: 0, stderr: expect.not.stringMatching(/error|invalid|not found/i) });
}

interface Verdicts {
  readonly asIs: FsckProblem[];
  readonly afterRecovery: FsckProblem[];
  /** e2fsck -fn's exit status, its output, and the lines that are not routine. */
  readonly e2fsck: { readonly status: number; readonly output: string; readonly complaints: readonly string[] };
}

function judge(image: string): Verdicts {
  const device = PmemDevice.fromImageFile(image, { trace: false });
  const e2fsck = run('e2fsck', ['-fn', image]);
  return {
    asIs: fsck(device), afterRecovery: fsck(device, { afterRecovery: true }),
    e2fsck: { status: e2fsck.status, output: e2fsck.stdout, complaints: e2fsckComplaints(e2fsck) },
  };
}

/** Our recovery: mount (journal replay, orphans finished) and a clean unmount; the image file is rewritten. */
function recoverWithOurs(image: string): void {
  const device = PmemDevice.fromImageFile(image, { trace: false });
  mount(device).unmount();
  device.writeImage(image);
}

function kinds(problems: readonly FsckProblem[]): string[] {
  return [...new Set(problems.map((p) => p.kind))].sort();
}

function expectCleanAfterOurRecovery(image: string): void {
  recoverWithOurs(image);
  const after = judge(image);
  expect({ asIs: formatProblems(after.asIs), afterRecovery: formatProblems(after.afterRecovery), e2fsck: after.e2fsck.status })
    .toEqual({ asIs: 'fsck: clean', afterRecovery: 'fsck: clean', e2fsck: 0 });
}

afterAll(() => fs.rmSync(WORK, { recursive: true, force: true }));

describe('fsck after recovery: the orphan list is empty, no in-use inode has zero links', () => {
  test('a clean image is clean both ways, as e2fsck -fn says', () => {
    const { image } = writtenImage('clean');
    const v = judge(image);
    expect({ asIs: formatProblems(v.asIs), afterRecovery: formatProblems(v.afterRecovery), e2fsck: v.e2fsck.status })
      .toEqual({ asIs: 'fsck: clean', afterRecovery: 'fsck: clean', e2fsck: 0 });
  });

  test('a live orphan list (debugfs set_super_value last_orphan): accepted as is, a problem after recovery; e2fsck -fn says nothing', () => {
    const { image, f } = writtenImage('live-orphan');
    debugfsWrite(image, [`set_super_value last_orphan ${f}`]);
    const v = judge(image);
    expect(formatProblems(v.asIs)).toBe('fsck: clean');
    expect(v.afterRecovery).toEqual([{
      kind: 'orphan-list', where: 'superblock',
      what: `s_last_orphan is ${f} after recovery: recovery finishes every orphan, so the list must be empty`,
    }]);
    expect({ status: v.e2fsck.status, complaints: v.e2fsck.complaints }).toEqual({ status: 0, complaints: [] });
    expectCleanAfterOurRecovery(image);
  });

  test('a file unlinked while open (debugfs unlink, sif links_count 0, last_orphan): accepted as is, leaked after recovery; e2fsck -fn fails it', () => {
    const { image, g } = writtenImage('unlinked-open');
    debugfsWrite(image, ['unlink /g', `sif <${g}> links_count 0`, `set_super_value last_orphan ${g}`]);
    const v = judge(image);
    expect(formatProblems(v.asIs)).toBe('fsck: clean');
    expect(kinds(v.afterRecovery)).toEqual(['leaked-inode', 'orphan-list']);
    expect(v.afterRecovery.find((p) => p.kind === 'leaked-inode')).toEqual({
      kind: 'leaked-inode', where: `inode ${g}`,
      what: 'links_count 0 after recovery, yet in use on the orphan list with 2 block(s): recovery should have freed it',
    });
    expect(v.e2fsck.status).toBe(4);
    expect(v.e2fsck.output).toContain(`Deleted inode ${g} has zero dtime.`);
    expect(v.e2fsck.output).toMatch(new RegExp(`Inode bitmap differences:\\s+-${g}\\b`));
    expectCleanAfterOurRecovery(image);
  });

  test('links_count 0 on a named inode off the list (debugfs sif): a problem both ways, as for e2fsck -fn, and recovery does not hide it', () => {
    const { image, g } = writtenImage('zero-links-named');
    debugfsWrite(image, [`sif <${g}> links_count 0`]);
    const v = judge(image);
    expect(kinds(v.asIs)).toEqual(['block-bitmap', 'directory', 'dtime', 'group-count', 'inode-bitmap']);
    expect(v.afterRecovery).toEqual(v.asIs);
    expect(v.asIs.find((p) => p.kind === 'dtime')?.what).toBe('deleted inode (links_count 0) has zero dtime and is not on the orphan list');
    expect(v.e2fsck.status).toBe(4);
    expect(v.e2fsck.output).toContain(`Deleted inode ${g} has zero dtime.`);
    expect(v.e2fsck.output).toContain(`Entry 'g' in / (2) has deleted/unused inode ${g}.`);
    recoverWithOurs(image);
    expect(kinds(judge(image).afterRecovery)).toContain('dtime');
  });

  test('a mounted file system with a file unlinked while open: clean as is, not "after recovery"; our recovery frees it', () => {
    const device = new PmemDevice({ sizeBytes: 16 << 20, trace: false });
    mkfs(device, { seed: 'after-recovery', timeSeconds: Number(FAKE_TIME) });
    const ours = mount(device);
    ours.writeFileSync('/g', 'g'.repeat(5000));
    const ino = Number(ours.statSync('/g').ino);
    ours.openSync('/g', 'r');
    ours.unlinkSync('/g');
    ours.syncSync();
    expect(formatProblems(fsck(device))).toBe('fsck: clean');
    expect(kinds(fsck(device, { afterRecovery: true }))).toEqual(['leaked-inode', 'orphan-list']);
    // The power fails here: the image is the media as it persisted, the file still open.
    const image = nodePath.join(WORK, 'open-at-crash.img');
    device.writeImage(image);
    const v = judge(image);
    expect(v.e2fsck.status).toBe(4);
    expect(v.e2fsck.output).toContain(`Deleted inode ${ino} has zero dtime.`);
    expectCleanAfterOurRecovery(image);
  });
});
