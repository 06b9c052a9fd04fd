import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import { InPlaceCommitter, MetaStore, SEAL_BLOCKS, SEAL_DESCRIPTORS, SEAL_SUPERBLOCK, writeChangedLines, writeChangedLinesLikely } from '../../fs/meta';
import { ReadTrace } from '../../device/read-trace';
import { Rng } from '../../core/rng';
import { AssertionFailure } from '../../core/assert';

const MiB = 1 << 20;

function setup(flavour: 'linux-arm64' | 'linux-arm64-nosync' = 'linux-arm64') {
  const device = new PmemDevice({ sizeBytes: MiB });
  const api = pmemApi(flavour, device);
  const meta = new MetaStore(device, new InPlaceCommitter(device, api, () => api.pmemWmb()), MiB / 4096);
  return { device, meta };
}

describe('the transaction seam (in-place commit)', () => {
  test('begin, dirty, commit: blocks reach the device only at commit, and persist', () => {
    const { device, meta } = setup();
    const tx = meta.begin();
    const block = meta.write(5);
    block[100] = 42;
    expect([...tx.dirtyBlocks]).toEqual([5]);
    expect(device.load(5 * 4096 + 100, 1)[0]).toBe(0); // still only in the cache
    meta.commit();
    expect(tx.state).toBe('committed');
    expect(device.load(5 * 4096 + 100, 1)[0]).toBe(42);
    expect(device.lines.size).toBe(0); // flushed: nothing uncertain is left
    expect(device.drawCrashImage(1).readPage(5)![100]).toBe(42);
  });

  test('only the changed lines of a block are written', () => {
    const { device, meta } = setup();
    meta.write(3)[10] = 1;
    meta.write(3)[4000] = 2;
    meta.commit();
    const stores = device.trace!.slice().filter((e) => e.kind === 'store');
    expect(stores.map((e) => [e.addr, e.length])).toEqual([[3 * 4096, 64], [3 * 4096 + 3968, 64]]);
  });

  test('on an asynchronous flavour the commit ends with the barrier that makes it durable', () => {
    const { device, meta } = setup('linux-arm64-nosync');
    meta.write(2)[0] = 9;
    meta.commit();
    const last = device.trace!.get(device.trace!.length - 1);
    expect([last.kind, last.op]).toEqual(['dsb', 'sy']);
    expect(device.lines.size).toBe(0);
  });

  test('a freed block stays quarantined until its transaction commits', () => {
    const { meta } = setup();
    meta.begin();
    meta.noteFreed(77);
    expect(meta.isQuarantined(77)).toBe(true);
    meta.commit();
    expect(meta.isQuarantined(77)).toBe(false);
  });

  test('a committed transaction takes no more blocks', () => {
    const { meta } = setup();
    const tx = meta.begin();
    meta.write(1)[0] = 1;
    meta.commit();
    expect(() => tx.dirty(2)).toThrow(AssertionFailure);
  });
});

describe('writeChangedLinesLikely', () => {
  /** The trace (stores with their bytes) and the read trace of one compare-then-store on a device holding `before`. */
  function stores(before: Uint8Array, write: (device: PmemDevice) => void): string {
    const reads = new ReadTrace(MiB);
    const device = new PmemDevice({ sizeBytes: MiB, readTrace: reads });
    device.coherent.write(4096, before);
    write(device);
    const events = device.trace!.slice().map((e) => `${e.kind} ${e.op} ${e.addr} ${e.length} ${e.kind === 'store' ? Buffer.from(device.coherent.read(e.addr, e.length)).toString('hex') : ''}`);
    return `${events.join(';')} reads ${JSON.stringify(reads.structural().ranges())}`;
  }

  test('writes what comparing every line writes, whether the hint names the changed lines, some, none or others', () => {
    const rng = Rng.fromSeed('likely');
    let wrongHints = 0;
    for (let round = 0; round < 200; round++) {
      const before = new Uint8Array(4096).map(() => rng.below(4));
      const bytes = Buffer.from(before);
      const changed = new Uint32Array(2);
      for (let k = rng.below(8); k > 0; k--) {
        const at = rng.below(4096);
        bytes[at] ^= 1 + rng.below(3);
        changed[(at >> 6) >> 5] |= 1 << ((at >> 6) & 31);
      }
      // the hint: the changed lines, more, fewer, or lines drawn at random
      const hint = [changed.slice(), changed.map((w) => w | rng.below(0x7fffffff)), changed.map((w) => w & rng.below(0x7fffffff)), Uint32Array.of(rng.below(0x7fffffff), rng.below(0x7fffffff))][round % 4];
      if (hint.some((w, i) => (changed[i] & ~w) !== 0)) wrongHints++;
      const every = stores(before, (d) => writeChangedLines(d, pmemApi('linux-arm64', d), 4096, bytes));
      expect(stores(before, (d) => writeChangedLinesLikely(d, pmemApi('linux-arm64', d), 4096, bytes, hint))).toBe(every);
    }
    expect(wrongHints).toBeGreaterThan(50);
  });

  test('with a hint that misses a changed line it still writes that line (the check can fail)', () => {
    const bytes = Buffer.alloc(4096);
    bytes[70] = 1; // line 1
    const device = new PmemDevice({ sizeBytes: MiB });
    writeChangedLinesLikely(device, pmemApi('linux-arm64', device), 0, bytes, Uint32Array.of(1 << 5, 0));
    expect(device.trace!.slice().filter((e) => e.kind === 'store').map((e) => [e.addr, e.length])).toEqual([[64, 64]]);
  });
});

describe('seals: what a transaction stamps just before it commits', () => {
  test('a key registered many times runs once; phases run in order, blocks before descriptors before the superblock', () => {
    const { device, meta } = setup();
    const ran: string[] = [];
    const tx = meta.begin();
    for (let i = 0; i < 50; i++) {
      meta.write(7)[i] = i;
      tx.seal(SEAL_SUPERBLOCK, 0, () => ran.push('superblock'));
      tx.seal(SEAL_BLOCKS, 7, () => {
        ran.push('block 7');
        meta.peek(7)[4095] = 0xee; // stamped into the cached copy, committed with it
        tx.seal(SEAL_DESCRIPTORS, 0, () => ran.push('descriptor 0'));
      });
    }
    expect(ran).toEqual([]);
    meta.commit();
    expect(ran).toEqual(['block 7', 'descriptor 0', 'superblock']);
    expect(device.load(7 * 4096 + 4095, 1)[0]).toBe(0xee);
  });

  test('a seal may not register one of its own phase or an earlier one (it would never run)', () => {
    const { meta } = setup();
    const tx = meta.begin();
    meta.write(3);
    tx.seal(SEAL_DESCRIPTORS, 1, () => tx.seal(SEAL_BLOCKS, 3, () => undefined));
    expect(() => meta.commit()).toThrow(AssertionFailure);
  });

  test('a transaction without seals commits as before (the subset registers none)', () => {
    const { device, meta } = setup();
    meta.write(9)[0] = 1;
    meta.commit();
    expect(device.load(9 * 4096, 1)[0]).toBe(1);
  });
});
