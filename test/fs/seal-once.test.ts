/**
 * Writers that change the same structure many times in one transaction (an inode rewritten by
 * every call on it, a directory block, a bitmap, a descriptor) ask `Transaction.hasSeal`
 * before building a seal's closure (fs/meta.ts): the first registration of a key stands, as
 * before, and is the one that runs; asking is held to the phase rule as registering is; and on
 * a default-profile mount an inode, its extent tree block, a directory block and a group rewritten many times in one
 * transaction register one seal each. A writer that built a seal per change, a `hasSeal` that
 * answered for another phase or key, or one that let a late phase through fails here.
 */
import { AssertionFailure } from '../../core/assert';
import { PmemDevice } from '../../device/device';
import { MetaStore, SEAL_BLOCKS, SEAL_DESCRIPTORS, SEAL_SUPERBLOCK, Transaction } from '../../fs/meta';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';

const MiB = 1 << 20;

function store(): MetaStore {
  return new MetaStore(new PmemDevice({ sizeBytes: 16 * MiB, trace: false }), { commit: () => undefined }, 16 * MiB / 4096);
}

describe('a seal registered once per key and transaction', () => {
  test('hasSeal answers for its phase and key only; the first registration is the one that runs', () => {
    const meta = store();
    const tx = meta.begin();
    meta.write(5);
    expect(tx.hasSeal(SEAL_BLOCKS, 5)).toBe(false);
    const ran: string[] = [];
    tx.seal(SEAL_BLOCKS, 5, () => ran.push('first'));
    tx.seal(SEAL_BLOCKS, 5, () => ran.push('second'));
    expect([tx.hasSeal(SEAL_BLOCKS, 5), tx.hasSeal(SEAL_BLOCKS, 6), tx.hasSeal(SEAL_DESCRIPTORS, 5), tx.hasSeal(SEAL_SUPERBLOCK, 5)]).toEqual([true, false, false, false]);
    meta.commit();
    expect(ran).toEqual(['first']);
    expect(meta.begin().hasSeal(SEAL_BLOCKS, 5)).toBe(false);
  });

  test('asking during a phase about its own or an earlier phase fails as registering does', () => {
    const meta = store();
    const tx = meta.begin();
    meta.write(3);
    tx.seal(SEAL_DESCRIPTORS, 1, () => {
      expect(tx.hasSeal(SEAL_SUPERBLOCK, 0)).toBe(false);
      tx.hasSeal(SEAL_BLOCKS, 3);
    });
    expect(() => meta.commit()).toThrow(AssertionFailure);
  });

  test('a default-profile mount: one transaction rewriting one file 40 times registers a seal per structure, not per change', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'seal-once' });
    const f = mount(device, { policy: 'ordered', checkpoint: 'lazy' });
    f.mkdirSync('/d');
    const fd = f.openSync('/d/a', 'w');
    f.fsyncSync(fd);
    const seal = jest.spyOn(Transaction.prototype, 'seal');
    const small = new Uint8Array(100).fill(1);
    // each write changes the inode (size, times), allocates (bitmaps, the descriptor) and adds an extent (past the root's four: a tree block)
    for (let i = 0; i < 40; i++) f.writeSync(fd, small, 0, small.length, i * 8192);
    const registered = seal.mock.calls.map(([phase, key]) => `${phase}:${key}`);
    seal.mockRestore();
    f.fsyncSync(fd);
    f.closeSync(fd);
    expect(registered.length).toBeGreaterThan(0);
    expect(new Set(registered).size).toBe(registered.length);
    expect(registered.length).toBeLessThan(12);
    f.unmount();
    // the image the seals stamped mounts clean again and reads back what was written
    const again = mount(device);
    expect(again.statSync('/d/a').size).toBe(39 * 8192 + 100);
    again.unmount();
  });
});
