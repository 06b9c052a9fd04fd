/**
 * Groups' block search (fs/groups.ts findRun) skips whole words of used blocks and jumps over
 * a remembered range of set bits (a flex group's metadata in group 0, which every search from
 * an inode's goal crosses); markBlocks cuts the range when it frees a block inside it. Held
 * here to the rule the search had before it remembered anything, on a default-profile image
 * (flex_bg: group 0 opens with the bitmaps and inode tables of every group) through seeded
 * random allocations from goals inside and around that metadata, frees of blocks inside the
 * remembered range, and commits (which release quarantined blocks):
 * - every block handed out was free and not quarantined;
 * - the run starts at the first such block at or after the goal in the goal's group (or, when
 *   none is left there, at the first one from the group's start): no eligible block is
 *   skipped, whatever the remembered range says;
 * - a block freed inside the remembered range is found by the next search that reaches it
 *   (once its transaction commits).
 * A range kept after a free inside it, a word skipped that was not full, or a jump from a goal
 * outside the range fails here.
 */
import { Rng } from '../../core/rng';
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import { Groups } from '../../fs/groups';
import { InPlaceCommitter, MetaStore } from '../../fs/meta';
import { mkfs } from '../../fs/mkfs';
import { readSuperblock } from '../../fs/mount';

const MiB = 1 << 20;

function setup(): { groups: Groups; meta: MetaStore; blocksPerGroup: number } {
  const device = new PmemDevice({ sizeBytes: 256 * MiB, trace: false });
  mkfs(device, { features: 'default', seed: 'find-run' });
  const sb = readSuperblock(device);
  const meta = new MetaStore(device, new InPlaceCommitter(device, pmemApi('linux-arm64', device), () => undefined), sb.blocksCount);
  return { groups: new Groups(meta, sb), meta, blocksPerGroup: sb.blocksPerGroup };
}

describe('findRun with a remembered range of used blocks', () => {
  test('finds the first eligible block at or after the goal, through allocations, frees inside the range and commits', () => {
    const { groups, meta, blocksPerGroup } = setup();
    const rng = Rng.fromSeed('find-run');
    const eligible = (b: number) => !groups.isBlockUsed(b) && !meta.isQuarantined(b);
    const allocated: number[] = [];
    let checked = 0;
    let freedInside = 0;
    let refound = 0;
    const freedPending = new Set<number>();
    const freedReleased = new Set<number>();
    for (let step = 0; step < 3000; step++) {
      const roll = rng.below(10);
      if (roll < 6) {
        // goals inside group 0's metadata (the range), just after it, and anywhere in group 0 or 1
        const goal = [657, 100, 4000, rng.below(6000), rng.below(2 * blocksPerGroup)][rng.below(5)];
        const g = Math.floor(goal / blocksPerGroup);
        const base = g * blocksPerGroup;
        const limit = base + groups.blocksInGroup(g);
        let expected: number | undefined;
        for (let b = goal; b < limit && expected === undefined; b++) if (eligible(b)) expected = b;
        for (let b = base; b < goal && expected === undefined; b++) if (eligible(b)) expected = b;
        const run = groups.allocRun(goal, 1 + rng.below(4));
        if (expected === undefined) continue; // the search went on to another group: not this test's rule
        expect(run?.[0]).toBe(expected);
        for (let b = run![0]; b < run![0] + run![1]; b++) allocated.push(b);
        if (freedReleased.has(run![0])) refound++;
        checked++;
      } else if (roll < 9 && allocated.length > 0) {
        // free an allocated block, most often one low in group 0 (inside the remembered range)
        const low = allocated.filter((b) => b < 8192);
        const pool = low.length > 0 && rng.below(4) !== 0 ? low : allocated;
        const block = pool[rng.below(pool.length)];
        allocated.splice(allocated.indexOf(block), 1);
        groups.freeBlock(block);
        freedPending.add(block);
        if (block < 8192) freedInside++;
      } else {
        meta.commit();
        for (const b of freedPending) freedReleased.add(b);
        freedPending.clear();
      }
    }
    // not vacuous: many searches checked, frees inside the range made, and freed blocks found again
    expect(checked).toBeGreaterThan(1000);
    expect(freedInside).toBeGreaterThan(100);
    expect(refound).toBeGreaterThan(20);
  });
});
