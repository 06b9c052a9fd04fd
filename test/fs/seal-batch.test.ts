/**
 * The seals a writer batches per transaction (fs/meta.ts SealBatch: the inodes, the bitmaps
 * and the group descriptors of a default-profile mount): every key added in a transaction is
 * sealed once, in the order first added, by the one seal the batch registers on it; the next
 * transaction starts empty, and so does one begun after a discarded one; adding or asking is
 * held to the phase rule as registering is. On a default-profile mount a transaction that
 * rewrites inodes, bitmaps and descriptors many times registers one seal per batch, and what
 * the batches stamp is what the kernel's checks want: the inodes' checksums pass a fresh
 * mount's iget and the image remounts and reads back. A batch that sealed a key twice, left
 * one out, carried keys into the next transaction or let a late phase through fails here.
 */
import { AssertionFailure } from '../../core/assert';
import { PmemDevice } from '../../device/device';
import { MetaStore, SEAL_BLOCKS, SEAL_DESCRIPTORS, SealBatch, Transaction } from '../../fs/meta';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';

const MiB = 1 << 20;

function store(): MetaStore {
  return new MetaStore(new PmemDevice({ sizeBytes: 16 * MiB, trace: false }), { commit: () => undefined }, 16 * MiB / 4096);
}

describe('a batch of seals, one registration per transaction', () => {
  test('seals each key added once, in the order first added, and starts the next transaction empty', () => {
    const meta = store();
    const sealed: number[] = [];
    const batch = new SealBatch(SEAL_BLOCKS, -1, (key) => sealed.push(key));
    const register = jest.spyOn(Transaction.prototype, 'seal');
    try {
      const tx = meta.begin();
      meta.write(5);
      for (const key of [7, 3, 7, 9, 3, 3]) batch.add(tx, key);
      expect([batch.has(tx, 3), batch.has(tx, 4)]).toEqual([true, false]);
      expect(register.mock.calls.map(([phase, key]) => [phase, key])).toEqual([[SEAL_BLOCKS, -1]]);
      meta.commit();
      expect(sealed).toEqual([7, 3, 9]);
      const next = meta.begin();
      expect(batch.has(next, 7)).toBe(false);
      meta.write(5);
      batch.add(next, 4);
      meta.commit();
      expect(sealed).toEqual([7, 3, 9, 4]);
      expect(register).toHaveBeenCalledTimes(2);
    } finally {
      register.mockRestore();
    }
  });

  test('a discarded transaction\'s keys are not sealed by the next one', () => {
    const meta = store();
    const sealed: number[] = [];
    const batch = new SealBatch(SEAL_BLOCKS, -1, (key) => sealed.push(key));
    batch.add(meta.begin(), 1);
    meta.discardRunning();
    const tx = meta.begin();
    meta.write(2);
    expect(batch.has(tx, 1)).toBe(false);
    batch.add(tx, 2);
    meta.commit();
    expect(sealed).toEqual([2]);
  });

  test('adding to or asking a batch of a phase that has begun to run fails as registering does', () => {
    for (const late of ['add', 'has'] as const) {
      const meta = store();
      const blocks = new SealBatch(SEAL_BLOCKS, -1, () => undefined);
      const tx = meta.begin();
      meta.write(3);
      blocks.add(tx, 1);
      // a descriptor seal may still register a block's, as a bitmap's seal registers its descriptor's the other way round
      tx.seal(SEAL_DESCRIPTORS, 0, () => (late === 'add' ? blocks.add(tx, 2) : blocks.has(tx, 1)));
      expect(() => meta.commit()).toThrow(AssertionFailure);
    }
    const meta = store();
    const sealed: number[] = [];
    const descriptors = new SealBatch(SEAL_DESCRIPTORS, -1, (g) => sealed.push(g));
    const tx = meta.begin();
    meta.write(3);
    descriptors.add(tx, 0);
    tx.seal(SEAL_BLOCKS, 3, () => descriptors.add(tx, 1));
    meta.commit();
    expect(sealed).toEqual([0, 1]);
  });

  test('a default-profile mount registers one seal per batch for a transaction rewriting many inodes, and its stamps pass a fresh mount\'s checks', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'seal-batch' });
    const f = mount(device, { policy: 'ordered', checkpoint: 'lazy' });
    f.mkdirSync('/d');
    f.fsyncSync(f.openSync('/d/keep', 'w'));
    const register = jest.spyOn(Transaction.prototype, 'seal');
    const block = new Uint8Array(4096).fill(7);
    // one transaction: ten files made, written (blocks allocated) and renamed, five of them unlinked
    for (let i = 0; i < 10; i++) {
      const fd = f.openSync(`/d/f${i}`, 'w');
      f.writeSync(fd, block, 0, block.length, 0);
      f.closeSync(fd);
      f.renameSync(`/d/f${i}`, `/d/g${i}`);
      if (i % 2 === 1) f.unlinkSync(`/d/g${i}`);
    }
    const registered = register.mock.calls.map(([phase, key]) => `${phase}:${key}`);
    register.mockRestore();
    f.fsyncSync(f.openSync('/d/keep', 'r'));
    // the inodes, the bitmaps and the descriptors: one registration each; the directory's block its own
    expect(registered.filter((r) => r === `${SEAL_BLOCKS}:-1`)).toHaveLength(1);
    expect(registered.filter((r) => r === `${SEAL_BLOCKS}:-2`)).toHaveLength(1);
    expect(registered.filter((r) => r === `${SEAL_DESCRIPTORS}:-1`)).toHaveLength(1);
    expect(registered.length).toBeLessThan(8);
    f.unmount();
    // a fresh mount checks every inode it reaches by name (iget), and the directory blocks
    const again = mount(device);
    expect(again.readdirSync('/d').sort()).toEqual(['g0', 'g2', 'g4', 'g6', 'g8', 'keep']);
    for (const name of ['g0', 'g2', 'g4', 'g6', 'g8']) expect(again.readFileSync(`/d/${name}`)).toEqual(Buffer.from(block));
    again.unmount();
  });
});
