/**
 * Memory stays proportional to what is touched: a 1 GiB pmem device (the default) with a
 * file system made on it and 4 MiB of file data written through it, with the event trace on,
 * holds less than 64 MiB more than before (V8 heap plus the array buffers outside it, where
 * the device's pages and the trace's typed arrays live), measured after a full garbage
 * collection. A control holds the measure honest: the same count sees a retained 96 MiB
 * buffer, so a device that allocated its whole size densely could not pass.
 *
 * Both are measured in a process of their own: a jest worker still holds what earlier test
 * files left (once 100 MiB, freed during this file), which made "before" too high and the
 * growth negative, or the control's 96 MiB read as 56.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const MiB = 1 << 20;
const LIMIT_BYTES = 64 * MiB;
const ROOT = path.join(__dirname, '..', '..');

const SCRIPT = `
const { PmemDevice } = require('./device/device');
const { mkfs } = require('./fs/mkfs');
const { mount } = require('./fs/mount');
const { memoryInUse } = require('./bench/harness');
function device() {
  const before = memoryInUse();
  const device = new PmemDevice({ trace: true });
  mkfs(device, { seed: 'memory' });
  const fs = mount(device);
  const chunk = new Uint8Array(64 * 1024).fill(0x37);
  for (let i = 0; i < 64; i++) fs.writeFileSync('/f' + i, chunk);
  const fd = fs.openSync('/f0', 'r');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const grown = memoryInUse() - before;
  // keeps the device alive to here
  const intact = Buffer.from(fs.readFileSync('/f63')).equals(Buffer.from(chunk));
  return { grown, sizeBytes: device.sizeBytes, intact };
}
function control() {
  const before = memoryInUse();
  const dense = new Uint8Array(96 * 1024 * 1024).fill(1);
  const grown = memoryInUse() - before;
  return { grown, kept: dense[dense.length - 1] };
}
process.stdout.write(JSON.stringify({ device: device(), control: control() }));
`;

interface Measured {
  device: { grown: number; sizeBytes: number; intact: boolean };
  control: { grown: number; kept: number };
}

let measured: Measured;
beforeAll(() => {
  const r = spawnSync(process.execPath, ['-r', './bin/register.js', '-e', SCRIPT], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  measured = JSON.parse(r.stdout) as Measured;
});

test('a 1 GiB device with 4 MiB written through the file system, trace on, adds under 64 MiB', () => {
  const { grown, sizeBytes, intact } = measured.device;
  console.log(`1 GiB device, 4 MiB written, trace on: ${(grown / MiB).toFixed(1)} MiB (limit ${LIMIT_BYTES / MiB})`);
  expect(sizeBytes).toBe(1 << 30);
  expect(intact).toBe(true);
  expect(grown).toBeGreaterThan(0);
  expect(grown).toBeLessThan(LIMIT_BYTES);
});

test('control: the measure counts memory outside the V8 heap (a retained 96 MiB buffer shows)', () => {
  expect(measured.control.grown).toBeGreaterThan(LIMIT_BYTES);
  expect(measured.control.kept).toBe(1);
});
