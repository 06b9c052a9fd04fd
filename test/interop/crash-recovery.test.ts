/**
 * Our journal against e2fsprogs, on crash images drawn from seeded runs (ordered policy,
 * linux-arm64 on armv8.2): debugfs reads our log before recovery; our recovery and
 * `e2fsck -E journal_only -y` produce the same blocks outside the journal and the
 * superblock; after our recovery `e2fsck -fn` exits 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../core/rng';
import { PmemDevice, PowerFailure } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { journalBlocks, mount, readSuperblock, recoverDevice } from '../../fs/mount';
import { debugfs, e2fsckClean, run, tmpDir } from '../helpers/e2fs';
import { randomWorkload } from '../helpers/random-workload';

const MiB = 1 << 20;
const BLOCK = 4096;
let dir: string;
beforeAll(() => { dir = tmpDir('crash-recovery'); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Crash images whose journal holds a committed transaction (recovery has work to do). */
function crashImagesNeedingReplay(count: number): PmemDevice[] {
  const fresh = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(fresh, { seed: 'interop-crash' });
  const image = fresh.guaranteedMedia().detach();
  const work = (d: PmemDevice) => {
    const f = mount(d, { policy: 'ordered', pmemApi: 'linux-arm64' });
    randomWorkload(f, Rng.fromSeed('interop-crash-workload'), 60, { fsyncProbability: 0.5 });
    f.unmount();
  };
  const dry = new PmemDevice({ media: image, trace: false });
  work(dry);
  const points = Rng.fromSeed('interop-crash-points');
  const found: PmemDevice[] = [];
  for (let i = 0; i < 400 && found.length < count; i++) {
    const device = new PmemDevice({ media: image, trace: false, powerFailAt: points.below(dry.instructionCount) });
    try {
      work(device);
    } catch (err) {
      if (!(err instanceof PowerFailure)) throw err;
    }
    const crashed = new PmemDevice({ media: device.drawCrashImage(`interop-${i}`).detach(), trace: false });
    const probe = new PmemDevice({ media: crashed.guaranteedMedia().detach(), trace: false });
    const r = recoverDevice(probe);
    if (r !== undefined && r.transactionsReplayed > 0) found.push(crashed);
  }
  return found;
}

function blocksOf(file: string): Buffer {
  return fs.readFileSync(file);
}

test('our recovery equals e2fsck -E journal_only outside the journal, and leaves an e2fsck-clean image', () => {
  const images = crashImagesNeedingReplay(6);
  expect(images.length).toBe(6);
  for (const [i, crashed] of images.entries()) {
    const before = path.join(dir, `crash-${i}.img`);
    crashed.writeImage(before);
    const log = debugfs(before, 'logdump -a');
    expect(log.stdout).toMatch(/Found expected sequence \d+, type 1 \(descriptor block\)/);
    expect(log.stdout).toMatch(/type 2 \(commit block\)/);

    const theirs = path.join(dir, `theirs-${i}.img`);
    fs.copyFileSync(before, theirs);
    const replay = run('e2fsck', ['-E', 'journal_only', '-y', theirs]);
    expect(replay.status).toBeLessThanOrEqual(1);

    const ours = new PmemDevice({ media: crashed.guaranteedMedia().detach(), trace: false });
    recoverDevice(ours);
    const oursFile = path.join(dir, `ours-${i}.img`);
    ours.writeImage(oursFile);

    const skip = new Set([0, ...journalBlocks(ours, readSuperblock(ours))]);
    const a = blocksOf(oursFile);
    const b = blocksOf(theirs);
    const differing: number[] = [];
    for (let block = 0; block < a.length / BLOCK; block++) {
      if (skip.has(block)) continue;
      if (Buffer.compare(a.subarray(block * BLOCK, (block + 1) * BLOCK), b.subarray(block * BLOCK, (block + 1) * BLOCK)) !== 0) differing.push(block);
    }
    expect(`image ${i}: blocks differing ${differing.join(',')}`).toBe(`image ${i}: blocks differing `);

    const check = e2fsckClean(oursFile);
    if (check.status !== 0) throw new Error(`image ${i}: e2fsck -fn after our recovery: exit ${check.status}\n${check.stdout}`);
  }
});
