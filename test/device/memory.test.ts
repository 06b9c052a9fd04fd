/**
 * Memory stays proportional to what is touched: a 1 GiB pmem device (the default) with a
 * file system made on it and 4 MiB of file data written through it, with the event trace on,
 * holds less than 64 MiB more than before (V8 heap plus the array buffers outside it, where
 * the device's pages and the trace's typed arrays live), measured after a full garbage
 * collection. A control holds the measure honest: the same count sees a retained 96 MiB
 * buffer, so a device that allocated its whole size densely could not pass.
 */
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { memoryInUse } from '../../bench/harness';

const MiB = 1 << 20;
const LIMIT_BYTES = 64 * MiB;

test('a 1 GiB device with 4 MiB written through the file system, trace on, adds under 64 MiB', () => {
  const before = memoryInUse();
  const device = new PmemDevice({ trace: true });
  expect(device.sizeBytes).toBe(1 << 30);
  mkfs(device, { seed: 'memory' });
  const fs = mount(device);
  const chunk = new Uint8Array(64 * 1024).fill(0x37);
  for (let i = 0; i < 64; i++) fs.writeFileSync(`/f${i}`, chunk);
  const fd = fs.openSync('/f0', 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const grown = memoryInUse() - before;
  console.log(`1 GiB device, 4 MiB written, trace on: ${(grown / MiB).toFixed(1)} MiB (limit ${LIMIT_BYTES / MiB})`);
  expect(grown).toBeLessThan(LIMIT_BYTES);
  expect(fs.readFileSync('/f63')).toEqual(Buffer.from(chunk)); // keeps the device alive to here
});

test('control: the measure counts memory outside the V8 heap (a retained 96 MiB buffer shows)', () => {
  const before = memoryInUse();
  const dense = new Uint8Array(96 * MiB).fill(1);
  const grown = memoryInUse() - before;
  expect(grown).toBeGreaterThan(LIMIT_BYTES);
  expect(dense[dense.length - 1]).toBe(1);
});
