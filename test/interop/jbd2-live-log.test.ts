/**
 * The journal with lazy checkpoints (fs/journal.ts, `checkpoint: 'lazy'`) against the real
 * tools, on a crash image whose log holds many committed transactions: enough commits to wrap
 * the log, then a directory block logged, freed (revoked) and reused as file data, all live
 * in the log at the crash. Our recovery must replay them to the same blocks as
 * `e2fsck -E journal_only -y` (outside the journal), the revoke must keep the old copy off
 * the reused block, and the kernel's mount of the image (journal replay and orphans) must
 * show the same tree as our mount. e2fsprogs missing is a failure; the kernel missing is
 * printed, not passed over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { journalBlocks, mount, readSuperblock, recoverDevice } from '../../fs/mount';
import type { DaxFileSystem } from '../../fs/filesystem';
import { debugfs, e2fsckClean, run, tmpDir } from '../helpers/e2fs';
import { diffImages } from '../helpers/e2fsprogs';
import { kernelTree, ourTree } from '../helpers/kernel';

const MiB = 1 << 20;
/** Commits of a few log blocks each before the revoke: the 1,023-block log of 16 MiB wraps after about 250. */
const FILLER_COMMITS = 330;
let dir: string;
beforeAll(() => { dir = tmpDir('jbd2-live-log'); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

function fsyncPath(f: DaxFileSystem, p: string): void {
  const fd = f.openSync(p, 'r');
  f.fsyncSync(fd);
  f.closeSync(fd);
}

/**
 * The durable images of the workload, its log still live (no unmount): after the reuse, and
 * after a file is unlinked while open (an orphan, which e2fsck -E journal_only releases and
 * our replay alone does not: that one is for the kernel).
 */
function crashImages(): { replay: PmemDevice; orphan: PmemDevice } {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(device, { seed: 'live-log' });
  const f = mount(device, { policy: 'ordered', pmemApi: 'linux-arm64', checkpoint: 'lazy' });
  f.mkdirSync('/w');
  for (let i = 0; i < FILLER_COMMITS; i++) {
    f.writeFileSync(`/w/${i % 40}`, bytes(100 + i, i));
    fsyncPath(f, `/w/${i % 40}`);
  }
  // a directory block logged (tx 1), freed and revoked (tx 2), then reused as file data (tx 3)
  f.mkdirSync('/d');
  for (let i = 0; i < 120; i++) f.writeFileSync(`/d/entry-with-a-long-name-${i}`, '');
  fsyncPath(f, '/d');
  for (let i = 0; i < 120; i++) f.unlinkSync(`/d/entry-with-a-long-name-${i}`);
  f.rmdirSync('/d');
  fsyncPath(f, '/');
  f.writeFileSync('/big', bytes(256 * 1024, 7));
  fsyncPath(f, '/big');
  const replay = new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false });
  // a file unlinked while open: an orphan for recovery to finish
  const fd = f.openSync('/w/0', 'r');
  f.unlinkSync('/w/0');
  fsyncPath(f, '/w');
  void fd;
  return { replay, orphan: new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false }) };
}

test('a wrapped log of live transactions with a revoke: our replay equals e2fsck\'s and the kernel\'s', () => {
  const { replay: crashed, orphan } = crashImages();
  const before = path.join(dir, 'crash.img');
  crashed.writeImage(before);

  // the log, as debugfs reads it: many committed transactions, and it wraps (block numbers go down)
  const log = debugfs(before, 'logdump').stdout;
  const commits = [...log.matchAll(/Found expected sequence (\d+), type 2 \(commit block\) at block (\d+)/g)];
  const at = [...log.matchAll(/Found expected sequence \d+, type \d \([a-z ]+\) at block (\d+)/g)].map((m) => Number(m[1]));
  const wraps = at.some((b, i) => i > 0 && b < at[i - 1]);
  console.log(`live log: ${commits.length} committed transactions, ${at.length} log blocks read by debugfs, wraps: ${wraps}`);
  expect(commits.length).toBeGreaterThanOrEqual(3);
  expect(wraps).toBe(true);

  // ours
  const ours = new PmemDevice({ media: crashed.guaranteedMedia().detach(), trace: false });
  const r = recoverDevice(ours);
  expect(r).toBeDefined();
  const replay = r as NonNullable<typeof r>;
  console.log(`our recovery: ${replay.transactionsReplayed} transactions, ${replay.blocksReplayed} blocks replayed, ${replay.blocksRevoked} kept off by a revoke`);
  expect(replay.transactionsReplayed).toBe(commits.length);
  expect(replay.blocksRevoked).toBeGreaterThan(0);
  const oursFile = path.join(dir, 'ours.img');
  ours.writeImage(oursFile);

  // e2fsck's replay, block for block outside the journal and the superblock's block
  const theirs = path.join(dir, 'theirs.img');
  fs.copyFileSync(before, theirs);
  expect(run('e2fsck', ['-E', 'journal_only', '-y', theirs]).status).toBeLessThanOrEqual(1);
  const skip = new Set([0, ...journalBlocks(ours, readSuperblock(ours))]);
  const differing = new Set(diffImages(oursFile, theirs, 1 << 20).map((d) => d.block));
  expect([...differing].filter((block) => !skip.has(block))).toEqual([]);

  // the revoked block holds /big's data, not the directory block logged before it
  const mounted = mount(new PmemDevice({ media: crashed.guaranteedMedia().detach(), trace: false }));
  expect(Buffer.compare(Buffer.from(mounted.readFileSync('/big') as Uint8Array), Buffer.from(bytes(256 * 1024, 7)))).toBe(0);
  const tree = ourTree(mounted);
  mounted.unmount();

  // after our mount and a clean unmount, the image is e2fsck-clean
  const afterOurs = new PmemDevice({ media: crashed.guaranteedMedia().detach(), trace: false });
  mount(afterOurs).unmount();
  const cleanFile = path.join(dir, 'clean.img');
  afterOurs.writeImage(cleanFile);
  const fsck = e2fsckClean(cleanFile);
  expect({ status: fsck.status, out: fsck.stdout }).toEqual({ status: 0, out: expect.any(String) });

  // the kernel, on both images (the second with an orphan to finish)
  const orphanFile = path.join(dir, 'orphan.img');
  orphan.writeImage(orphanFile);
  const ourOrphanMount = mount(new PmemDevice({ media: orphan.guaranteedMedia().detach(), trace: false }));
  const orphanTree = ourTree(ourOrphanMount);
  ourOrphanMount.unmount();
  expect(orphanTree.some((e) => e.path === '/w/0')).toBe(false);
  for (const [image, expected] of [[before, tree], [orphanFile, orphanTree]] as const) {
    const kernel = kernelTree(image);
    if ('missing' in kernel) {
      console.log(`KERNEL NOT COMPARED: ${kernel.missing}`);
      return;
    }
    expect(kernel.tree).toEqual(expected);
    console.log(`the kernel's tree of ${path.basename(image)} equals ours: ${expected.length} entries`);
  }
});
