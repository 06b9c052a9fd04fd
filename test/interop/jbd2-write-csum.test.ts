/**
 * The logs our journal writes with jbd2 checksum v3 and 64-bit block numbers (fs/journal.ts),
 * held to `e2fsck -E journal_only` and the Linux kernel.
 *
 * The subset's file system (minimal profile) gets the journal features from the test
 * (`setJournalFeatures`: the kernel and e2fsck replay such a journal on a file system without
 * metadata_csum) and is mounted with `journalChecksum: true`; a journal-heavy workload runs
 * (many commits, revoke records). The power is cut at several seeded points of it (a crash
 * state drawn at each) and once more at its end, the log live. On every crash image whose log
 * holds a committed transaction:
 * - our recovery (`recoverDevice`) and `e2fsck -E journal_only -y` each replay a copy: every
 *   block but the ext4 superblock's and the journal's must be equal, neither may report a
 *   checksum failure, and `e2fsck -fn` must then find our image clean;
 * - on the image cut at the end, the kernel's mount (replay) must show the same tree as our
 *   writable mount of it, and our clean unmount after that replay leaves an image e2fsck calls
 *   clean with the journal still v3; and with one logged copy damaged, the kernel refuses the
 *   mount with the errno ours gives (EBADMSG) after writing home the same blocks.
 * And one transaction of more blocks than a v3 descriptor holds, replayed alike by e2fsck.
 * A writer whose checksums e2fsck computes differently (over other bytes, another seed) fails
 * here even where our reader agrees with it: e2fsck ends the log earlier or reports
 * "journal checksum error". e2fsprogs missing is a failure; the kernel missing is printed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PmemDevice, PowerFailure } from '../../device/device';
import { BLOCK_BYTES, decodeJournalSuperblock } from '../../fs/format';
import { JBD2_FEATURE_INCOMPAT_CSUM_V3 } from '../../fs/jbd2';
import { mkfs } from '../../fs/mkfs';
import { defaultPmemApi, journalBlocks, journalLog, mount, readSuperblock, recoverDevice } from '../../fs/mount';
import { pmemApi } from '../../device/pmem-api';
import { e2fsckClean, run, tmpDir } from '../helpers/e2fs';
import { diffImages } from '../helpers/e2fsprogs';
import {
  BIG_TRANSACTION_BLOCKS, BIG_TRANSACTION_FIRST, WRITTEN_LAYOUTS, journalHeavyWorkload, oneBigTransaction, setJournalFeatures,
} from '../helpers/journal-log';
import { kernelMount, kernelTree, ourTree } from '../helpers/kernel';

const MiB = 1 << 20;
const V3 = JBD2_FEATURE_INCOMPAT_CSUM_V3;
/** Where the power is cut, as fractions of the workload's instructions. */
const CUTS = [0.3, 0.55, 0.8] as const;
const ROUNDS = 4;

let dir: string;
beforeAll(() => { dir = tmpDir('jbd2-write-csum'); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function formatted(incompat: number): PmemDevice {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(device, { seed: 'jbd2-write-csum', timeSeconds: 1_700_000_000 });
  setJournalFeatures(device, incompat);
  return new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false });
}

/** The crash images: one per cut (a crash state drawn there), then the end of the workload, the log live. */
function crashImages(incompat: number): { name: string; device: PmemDevice }[] {
  const base = formatted(incompat).guaranteedMedia().detach();
  const work = (device: PmemDevice) => journalHeavyWorkload(mount(device, { journalChecksum: (incompat & V3) !== 0 }), ROUNDS);
  const whole = new PmemDevice({ media: base, trace: false });
  work(whole);
  const images = CUTS.map((fraction, i) => {
    const device = new PmemDevice({ media: base, trace: false, powerFailAt: Math.floor(fraction * whole.instructionCount) });
    try {
      work(device);
    } catch (error) {
      if (!(error instanceof PowerFailure)) throw error;
    }
    return { name: `cut at ${fraction}`, device: new PmemDevice({ media: device.drawCrashImage(`jbd2-write-csum-${i}`).detach(), trace: false }) };
  });
  return [...images, { name: 'the end', device: new PmemDevice({ media: whole.guaranteedMedia().detach(), trace: false }) }];
}

function copyOf(device: PmemDevice): PmemDevice {
  return new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false });
}

/** Blocks two image files differ in, the ext4 superblock's block and the journal's left out. */
function blocksDiffering(a: string, b: string, journal: readonly number[]): number[] {
  const skip = new Set([0, ...journal]);
  return [...new Set(diffImages(a, b, 1 << 20).map((d) => d.block))].filter((block) => !skip.has(block));
}

/**
 * `e2fsck -E journal_only -y` on a copy of `before`, which must complain of nothing, and
 * `ours` (our recovery of the same image) written out: every block equal.
 */
function e2fsckReplaysAlike(name: string, before: string, ours: PmemDevice): { oursFile: string; theirs: string } {
  const oursFile = path.join(dir, 'ours.img');
  ours.writeImage(oursFile);
  const theirs = path.join(dir, 'theirs.img');
  fs.copyFileSync(before, theirs);
  const replay = run('e2fsck', ['-E', 'journal_only', '-y', theirs]);
  const said = (replay.stdout + replay.stderr).split(theirs).join('IMAGE');
  expect({ name, ok: replay.status <= 1, complaint: /checksum|corrupt|invalid/i.test(said) ? said : '' }).toEqual({ name, ok: true, complaint: '' });
  expect({ name, differing: blocksDiffering(oursFile, theirs, journalBlocks(ours, readSuperblock(ours))) }).toEqual({ name, differing: [] });
  return { oursFile, theirs };
}

describe('our journal\'s checksum v3 and 64-bit logs, replayed by e2fsck -E journal_only and the kernel', () => {
  test.each(WRITTEN_LAYOUTS)('%s', (label, incompat) => {
    const tag = label.replace(/\W+/g, '-');
    let replayed = 0;
    for (const { name, device } of crashImages(incompat)) {
      const before = path.join(dir, `${tag}-before.img`);
      device.writeImage(before);
      const ours = copyOf(device);
      const result = recoverDevice(ours);
      if (result === undefined || result.transactionsReplayed === 0) {
        expect(name).not.toBe('the end');
        continue;
      }
      replayed++;
      expect({ name, failures: result.tagChecksumFailures }).toEqual({ name, failures: [] });
      const { oursFile } = e2fsckReplaysAlike(`${label}, ${name}`, before, ours);
      const check = e2fsckClean(oursFile);
      expect({ name, status: check.status, out: check.status === 0 ? '' : check.stdout }).toEqual({ name, status: 0, out: '' });
      console.log(`${label}, ${name}: ${result.transactionsReplayed} transactions, ${result.blocksReplayed} blocks replayed, ${result.blocksRevoked} revoked; e2fsck's replay equal`);

      if (name !== 'the end') continue;
      // our writable mount replays the log, then writes on in v3 and unmounts cleanly
      const mounted = copyOf(device);
      const f = mount(mounted, { journalChecksum: (incompat & V3) !== 0 });
      const tree = ourTree(f);
      f.writeFileSync('/after-replay', 'more');
      f.unmount();
      const cleanFile = path.join(dir, `${tag}-clean.img`);
      mounted.writeImage(cleanFile);
      const clean = e2fsckClean(cleanFile);
      expect({ status: clean.status, out: clean.status === 0 ? '' : clean.stdout }).toEqual({ status: 0, out: '' });
      const jblocks = journalBlocks(mounted, readSuperblock(mounted));
      expect(decodeJournalSuperblock(mounted.load(jblocks[0] * BLOCK_BYTES, BLOCK_BYTES), 0).featureIncompat).toBe(incompat);
      const kernel = kernelTree(before);
      if ('missing' in kernel) {
        console.log(`KERNEL NOT COMPARED (${label}): ${kernel.missing}`);
        continue;
      }
      expect(kernel.tree).toEqual(tree);
      console.log(`${label}: the kernel replayed our log; its tree equals ours (${tree.length} entries)`);
      if ((incompat & V3) !== 0) damagedCopyRefusedAlike(label, device);
    }
    expect(replayed).toBeGreaterThanOrEqual(3);
  });
});

test.each(WRITTEN_LAYOUTS)('a transaction of more blocks than a v3 descriptor holds (%s): e2fsck\'s replay equals ours', (label, incompat) => {
  const image = oneBigTransaction(incompat, BIG_TRANSACTION_BLOCKS);
  const before = path.join(dir, 'big-before.img');
  image.writeImage(before);
  const ours = copyOf(image);
  const result = recoverDevice(ours);
  expect({ replayed: result?.blocksReplayed, failures: result?.tagChecksumFailures }).toEqual({ replayed: BIG_TRANSACTION_BLOCKS, failures: [] });
  const { theirs } = e2fsckReplaysAlike(label, before, ours);
  // the replay did write the blocks (e2fsck agreeing on an empty replay would prove nothing)
  expect(Buffer.compare(fs.readFileSync(theirs).subarray((BIG_TRANSACTION_FIRST + 1) * BLOCK_BYTES, (BIG_TRANSACTION_FIRST + 2) * BLOCK_BYTES),
    Buffer.alloc(BLOCK_BYTES, (BIG_TRANSACTION_FIRST + 1) & 0xff))).toBe(0);
  console.log(`${label}: one transaction of ${BIG_TRANSACTION_BLOCKS} blocks, replayed alike by e2fsck`);
});

/**
 * One logged copy of the end image damaged (its tag checksum fails): our writable mount and
 * the kernel's both refuse, with the same errno, leaving the same blocks outside the journal.
 */
function damagedCopyRefusedAlike(label: string, device: PmemDevice): void {
  const damaged = copyOf(device);
  const log = journalLog(damaged);
  const addr = log.journalBlocks[log.transactions[0].logBlocks[1]] * BLOCK_BYTES + 300;
  const api = pmemApi(defaultPmemApi(damaged), damaged);
  api.memcpyFlushcache(addr, Uint8Array.of(damaged.load(addr, 1)[0] ^ 1)); // durably: the image file holds it
  api.pmemWmb();
  const damagedFile = path.join(dir, 'damaged.img');
  damaged.writeImage(damagedFile);
  let code = 'mounted';
  try {
    mount(damaged, { journalChecksum: true });
  } catch (error) {
    code = (error as { code?: string }).code ?? String(error);
  }
  const oursFile = path.join(dir, 'damaged-ours.img');
  damaged.writeImage(oursFile);
  let left: Buffer | undefined;
  const kernel = kernelMount(damagedFile, () => undefined, (bytes) => { left = bytes; });
  if ('missing' in kernel) {
    console.log(`KERNEL NOT COMPARED (${label}, a damaged copy): ${kernel.missing}`);
    return;
  }
  expect({ ours: code, kernel: 'refused' in kernel ? kernel.refused : 'mounted' }).toEqual({ ours: 'EBADMSG', kernel: 'EBADMSG' });
  const theirsFile = path.join(dir, 'damaged-kernel.img');
  fs.writeFileSync(theirsFile, left as Buffer);
  expect(blocksDiffering(oursFile, theirsFile, log.journalBlocks)).toEqual([]);
  console.log(`${label}: a damaged logged copy: ours and the kernel both refuse the mount with EBADMSG, leaving the same blocks`);
}
