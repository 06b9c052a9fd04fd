import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import { InPlaceCommitter, MetaStore } from '../../fs/meta';
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
