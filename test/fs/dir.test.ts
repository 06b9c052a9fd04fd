/**
 * The directory scanners that build nothing (findInode for a lookup, forEachLiveEntry for
 * readdir) answer as the ones that build entries (findEntry, listEntries): the same inode,
 * the same live entries in the same order, and on a malformed block the same CorruptionError,
 * on well-formed directories and on the same directories with bytes of their entry headers
 * changed at random.
 */
import { Rng } from '../../core/rng';
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import { DirBlockSource, addEntry, findEntry, findInode, forEachLiveEntry, initEmptyBlock, listEntries, removeEntry } from '../../fs/dir';
import { InPlaceCommitter, MetaStore } from '../../fs/meta';

const MiB = 1 << 20;
const BLOCKS = [40, 41, 42];

function directory(rng: Rng): { src: DirBlockSource; names: Uint8Array[] } {
  const device = new PmemDevice({ sizeBytes: MiB });
  const api = pmemApi('linux-arm64', device);
  const meta = new MetaStore(device, new InPlaceCommitter(device, api, () => api.pmemWmb()), MiB / 4096);
  const src: DirBlockSource = { meta, dirBlocks: () => BLOCKS };
  for (const block of BLOCKS) initEmptyBlock(meta.fresh(block));
  const names: Uint8Array[] = [];
  for (let i = 0; i < 150; i++) {
    const name = Buffer.from(`n${rng.below(1000)}-${'x'.repeat(rng.below(40))}`);
    if (findEntry(src, 2, name) !== undefined) continue;
    if (!addEntry(src, 2, name, 100 + i, 1)) break;
    names.push(name);
  }
  // some removed, so that entries fold into their neighbours and first entries go unused
  for (const name of names.splice(0, 40)) {
    const found = findEntry(src, 2, name);
    if (found !== undefined && rng.bool(0.7)) removeEntry(src, found);
    else names.push(name);
  }
  return { src, names };
}

/** What a call returns, or the error it throws, as text. */
function outcome(call: () => unknown): string {
  try {
    return JSON.stringify(call());
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('directory scanners that build nothing', () => {
  test('findInode and forEachLiveEntry answer as findEntry and listEntries, on well-formed and damaged blocks', () => {
    const rng = Rng.fromSeed('dir-scanners');
    let damagedAnswers = 0;
    for (let round = 0; round < 60; round++) {
      const { src, names } = directory(rng);
      if (round % 4 !== 0) {
        // damage: a byte of a live entry's header (inode, rec_len, name_len, type) changed
        const offsets = BLOCKS.map((block) => listEntries({ meta: src.meta, dirBlocks: () => [block] }, 2).map((e) => e.offset));
        for (let k = 1 + rng.below(3); k > 0; k--) {
          const b = rng.below(BLOCKS.length);
          const at = offsets[b].length === 0 ? rng.below(8) : offsets[b][rng.below(offsets[b].length)] + rng.below(8);
          src.meta.read(BLOCKS[b])[at] = rng.below(256);
        }
      }
      const listed = outcome(() => listEntries(src, 2).map((e) => e.offset));
      const walked = outcome(() => {
        const offsets: number[] = [];
        forEachLiveEntry(src, 2, (_bytes, at) => offsets.push(at));
        return offsets;
      });
      expect(walked).toBe(listed);
      if (listed.startsWith('CorruptionError')) damagedAnswers++;
      for (const name of [...names.slice(0, 20), Buffer.from('absent'), Buffer.from('..')]) {
        expect(outcome(() => findInode(src, 2, name))).toBe(outcome(() => findEntry(src, 2, name)?.entry.inode));
      }
    }
    // the damage reached the scanners' refusals, not only names
    expect(damagedAnswers).toBeGreaterThan(10);
  });
});
