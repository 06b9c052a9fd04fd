/**
 * Hashed directories against linear ones: 10,000 creates, then 10,000 lookups (stat), in one
 * directory of our file system (256 MiB armv8.2 pmem0, trace off), once with dir_index (the
 * superblock's compat bit set after our mkfs: the directory is indexed once it outgrows a
 * block) and once without, in the same run; reported as milliseconds and the ratio linear /
 * indexed; and, as the floor a directory cannot beat, the same names spread over 100 small
 * directories. Names are 20 to 40 bytes. One measurement each (the linear run alone takes seconds).
 */
import { PmemDevice } from '../device';
import { COMPAT_DIR_INDEX, SUPERBLOCK_OFFSET } from '../fs/format';
import { mkfs } from '../fs/mkfs';
import { mount } from '../fs/mount';
import { formatTable, nanosSince, nowNanos } from './harness';

const NAMES = 10_000;
/** s_feature_compat's offset in the superblock. */
const FEATURE_COMPAT_AT = 0x5c;

/** `spread` directories share the names (spread 1: one directory of 10,000). */
function run(indexed: boolean, spread = 1): { createMs: number; lookupMs: number } {
  const device = new PmemDevice({ sizeBytes: 256 * 2 ** 20, trace: false });
  mkfs(device, { seed: 'bench-htree' });
  if (indexed) {
    const at = SUPERBLOCK_OFFSET + FEATURE_COMPAT_AT;
    const compat = Buffer.from(device.load(at, 4));
    compat.writeUInt32LE(compat.readUInt32LE(0) | COMPAT_DIR_INDEX, 0);
    device.store(at, compat);
  }
  const f = mount(device, { policy: 'ordered', pmemApi: 'linux-arm64' });
  for (let d = 0; d < spread; d++) f.mkdirSync(`/d${d}`);
  const name = (i: number) => `/d${i % spread}/${`entry-${i}-`.padEnd(20 + (i % 21), 'n')}`;
  let start = nowNanos();
  for (let i = 0; i < NAMES; i++) f.closeSync(f.openSync(name(i), 'w'));
  const createMs = nanosSince(start) / 1e6;
  start = nowNanos();
  for (let i = 0; i < NAMES; i++) f.statSync(name(i));
  const lookupMs = nanosSince(start) / 1e6;
  f.unmount();
  return { createMs, lookupMs };
}

function main(): void {
  console.log(`daxcrash htree benchmark: node ${process.version}; ${NAMES} creates then ${NAMES} lookups in one directory`);
  const indexed = run(true);
  const linear = run(false);
  const small = run(false, 100);
  console.log(formatTable(['directory', 'creates (ms)', 'lookups (ms)'], [
    ['indexed (dir_index)', indexed.createMs.toFixed(0), indexed.lookupMs.toFixed(0)],
    ['linear (reference)', linear.createMs.toFixed(0), linear.lookupMs.toFixed(0)],
    ['100 directories of 100 (floor)', small.createMs.toFixed(0), small.lookupMs.toFixed(0)],
    ['linear / indexed', (linear.createMs / indexed.createMs).toFixed(1), (linear.lookupMs / indexed.lookupMs).toFixed(1)],
    ['indexed / floor', (indexed.createMs / small.createMs).toFixed(1), (indexed.lookupMs / small.lookupMs).toFixed(1)],
  ]));
}

main();
