/**
 * Crash checking on mkfs.ext4's default profile (metadata_csum, jbd2 checksum v3): a checksum
 * that does not match after a power failure is judged as the kernel judges it, and the torn
 * checksum canary is caught.
 *
 * Two kinds of tear, held apart:
 * - blocks written in place, outside the journal (the journal superblock at mount, the ext4
 *   superblock's mount-time write): on a pmem device without sector atomicity a power failure
 *   mid-write can keep some of their lines and lose others, so the stored checksum no longer
 *   matches. The kernel writes them in place too, through the pmem driver's
 *   memcpy_flushcache, so these are findings of the real system (G1: the kernel refuses the
 *   mount, "JBD2: journal checksum error"): the correct file system shows them, and this test
 *   holds one such crash image to the kernel's own mount;
 * - journaled blocks: their checksums are stamped before the transaction is logged, so a
 *   replay writes a block and its checksum together. The canary
 *   `checksums-sealed-after-log` stamps them after the log is written: a replay then writes
 *   home blocks whose checksums belong to older contents, which the next mount's reads refuse
 *   (EBADMSG, as the kernel's iget does); the correct file system never shows them.
 */
import * as path from 'node:path';
import { runUnit } from '../../crash/engine';
import type { Finding, UnitResult } from '../../crash/engine';
import { findingSpec, repro } from '../../crash/repro';
import type { MountSetup } from '../../crash/setup';
import { CANARIES, withCanary } from '../../core/canary';
import { workloadSpace } from '../../workloads/generators';
import type { Workload } from '../../workloads/ops';
import { makeTempDir, removeTempDir } from '../helpers/e2fsprogs';
import { kernelMount } from '../helpers/kernel';

const SETUP: MountSetup = { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false };
const DEVICE_BYTES = 16 << 20;
const SEED = 'checksums';
/** bounded-1 workloads: a create, a hard link across directories, a rename over a file. */
const WORKLOADS: readonly Workload[] = [0, 352, 500].map((i) => workloadSpace({ suite: 'bounded-1' }).workload(i));
/** What a tear of a block written in place (outside the journal) reads as. */
const IN_PLACE_TEAR = /corrupt journal superblock .*checksum mismatch|invalid superblock checksum|superblock.*checksum/;

function run(workload: Workload): UnitResult {
  return runUnit(workload, {
    setup: SETUP, features: 'default', deviceBytes: DEVICE_BYTES, seed: SEED,
    points: 'flushes', states: { kind: 'bounded', k: 1, limit: 32 }, e2fsck: 'none', recoveryStates: 0, keepPerPromise: 2,
  });
}

/** Every finding of the runs, with its workload. */
function findingsOf(results: readonly UnitResult[]): Finding[] {
  return results.flatMap((r) => r.findings);
}

let dir = '';
beforeAll(() => {
  dir = makeTempDir('checksums');
});
afterAll(() => removeTempDir(dir));

describe('the default profile under power failures', () => {
  let correct: Finding[] = [];
  let canary: Finding[] = [];
  beforeAll(() => {
    correct = findingsOf(WORKLOADS.map((w) => run(w)));
    canary = findingsOf(withCanary('checksums-sealed-after-log', () => WORKLOADS.map((w) => run(w))));
  });

  test('the correct file system: every finding is a tear of a block written in place (G1), none of a journaled block', () => {
    const other = correct.filter((f) => f.promise !== 'G1' || !IN_PLACE_TEAR.test(f.diff));
    expect(other.map((f) => `${f.promise} ${f.workload.name}: ${f.diff.split('\n')[0]}`)).toEqual([]);
    // the tear is there to be found: the journal superblock's write at mount spans lines 0 and 3
    expect(correct.length).toBeGreaterThan(0);
  });

  test('checksums-sealed-after-log: blocks whose checksums belong to older contents, refused as the kernel refuses them (EBADMSG)', () => {
    const journaled = canary.filter((f) => !IN_PLACE_TEAR.test(f.diff));
    expect(journaled.length).toBeGreaterThan(0);
    // the first the engine meets: the root inode's stale checksum, when a later mount reads it back
    expect(journaled.every((f) => /checksum/.test(f.diff))).toBe(true);
    expect(journaled.map((f) => f.promise)).toContain(CANARIES.find((c) => c.name === 'checksums-sealed-after-log')?.breaks);
  });

  test('the kernel refuses the torn journal superblock as we do ("JBD2: journal checksum error")', () => {
    const torn = correct.find((f) => /corrupt journal superblock/.test(f.diff)) as Finding;
    expect(torn).toBeDefined();
    const file = path.join(dir, 'torn.img');
    const r = repro(findingSpec(torn, { seed: SEED, deviceBytes: DEVICE_BYTES, features: 'default' }));
    expect(r.violations.map((v) => v.promise)).toEqual(['G1']);
    r.image.writeImage(file);
    const kernel = kernelMount(file, () => 'mounted');
    if ('missing' in kernel) {
      console.log(`checksums: the kernel cannot be asked (${kernel.missing}); our verdict stands alone`);
      return;
    }
    expect(kernel).toMatchObject({ refused: expect.any(String) });
    expect('log' in kernel ? kernel.log : '').toMatch(/JBD2: journal checksum error/);
  });
});
