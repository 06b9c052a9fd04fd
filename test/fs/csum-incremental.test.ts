/**
 * The CRCs brought up to date from the lines that changed (fs/csum.ts ShadowCrc, through
 * fs/meta.ts MetaStore.blockCrc: the block bitmaps' checksums and the journal's tags over
 * descriptor blocks) or from the units a seal noted (fs/csum.ts UnitCrc: the journal's tags
 * over inode-table blocks, from the inodes' stamped checksums), held to the plain computation
 * over every byte:
 * - the arithmetic, on seeded random blocks changed in seeded random lines, with hints that
 *   are exact, wider than the change, missing a changed line, absent, or too wide to follow,
 *   for whole blocks, a directory leaf's 4084 bytes and shorter lengths, with the bytes given
 *   in another array from call to call; for units, on seeded random inode-table blocks whose
 *   inodes are stamped and noted, changed without a note, or changed after their note, and
 *   the stamped inode's CRC from 0 against the CRC of its bytes;
 * - the file system: default-profile workloads (the bench mix, seeded random workloads, every
 *   shapes workload) where every CRC the store hands out is compared with crc32cRaw over the
 *   bytes as they stand, and the lines-only path is taken for many of them (counted, so the
 *   check is not vacuous);
 * - what the file system writes: the same workloads on traced devices, and a power failure
 *   with recovery, fingerprinted (every store with its bytes, the counters, the final media)
 *   and compared with the fingerprints the file system gave before it kept CRCs this way.
 */
import { createHash } from 'node:crypto';
import { Rng } from '../../core/rng';
import { PmemDevice, PowerFailure, mediaDigest } from '../../device';
import type { MediaSource } from '../../device';
import * as csum from '../../fs/csum';
import { MetaStore } from '../../fs/meta';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import type { CheckpointMode } from '../../fs/journal';
import { applyOp, workloadSpace } from '../../workloads';
import type { Handles } from '../../workloads';
import { MixFs, runMix } from '../../bench/fs-mix';

const MiB = 1 << 20;
const LINE = 64;

function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.below(256);
  return out;
}

/** A line mask (as fs/meta.ts keeps them) marking `lines`. */
function maskOf(lines: Iterable<number>): Uint32Array {
  const mask = new Uint32Array(2);
  for (const line of lines) mask[line >> 5] |= 1 << (line & 31);
  return mask;
}

describe('a CRC kept from a shadow copy', () => {
  test('equals crc32cRaw over every byte after every change, whatever the hint says', () => {
    const rng = Rng.fromSeed('csum-incremental');
    const hints = ['exact', 'wider', 'missing', 'none', 'too wide'] as const;
    let checked = 0;
    for (const length of [4096, 4084, 2048, 1024, 128]) {
      const shadow = new csum.ShadowCrc();
      let bytes = randomBytes(rng, 4096);
      expect(shadow.crcOf(bytes, length, undefined, 0)).toBe(csum.crc32cRaw(0, bytes.subarray(0, length)));
      for (let step = 0; step < 200; step++) {
        // the bytes sometimes come in another array (a block read again), equal or not
        if (step % 37 === 0) bytes = bytes.slice();
        const lineCount = Math.ceil(length / LINE);
        const changed = new Set<number>();
        // mostly one or two lines (a hint narrow enough to follow), sometimes more
        for (let k = step % 7 === 6 ? 3 : rng.below(2); k >= 0; k--) changed.add(rng.below(lineCount));
        for (const line of changed) {
          // a byte or a few, anywhere in the line (the last line of 4084 stops short)
          const at = line * LINE + rng.below(Math.min(LINE, length - line * LINE));
          bytes[at] ^= 1 + rng.below(255);
          if (rng.below(2) === 0 && at + 1 < length) bytes[at + 1] ^= 0x80;
        }
        // a change beyond the length is never counted
        if (length < 4096) bytes[length + rng.below(4096 - length)] ^= 0xff;
        const hint = hints[step % hints.length];
        const hinted = new Set(changed);
        if (hint === 'wider') for (let k = 0; k < 3; k++) hinted.add(rng.below(lineCount));
        if (hint === 'missing' && hinted.size > 0) hinted.delete([...hinted][0]);
        if (hint === 'too wide') for (let line = 0; line < Math.min(lineCount, 8); line++) hinted.add(line);
        const lines = hint === 'none' ? undefined : maskOf(hinted);
        const seed = step % 3 === 0 ? 0 : rng.below(2 ** 32);
        expect([length, step, hint, shadow.crcOf(bytes, length, lines, seed)]).toEqual([length, step, hint, csum.crc32cRaw(seed, bytes.subarray(0, length))]);
        checked++;
      }
      // a call for another length reads the bytes whole
      expect(shadow.crcOf(bytes, length / 2, maskOf([0]), 7)).toBe(csum.crc32cRaw(7, bytes.subarray(0, length / 2)));
    }
    expect(checked).toBe(5 * 200);
  });

  test('a CRC from 0 continues to any seed: crc32cRawFrom equals crc32cRaw from the seed', () => {
    const rng = Rng.fromSeed('csum-incremental-from');
    for (const n of [0, 1, 64, 1024, 4084, 4096]) {
      for (let trial = 0; trial < 5; trial++) {
        const bytes = randomBytes(rng, n);
        const seed = rng.below(2 ** 32);
        expect([n, trial, csum.crc32cRawFrom(seed, csum.crc32cRaw(0, bytes), n)]).toEqual([n, trial, csum.crc32cRaw(seed, bytes)]);
      }
    }
  });
});

/** An inode's bytes stamped as fs/read-profile.ts stampInode stamps them; returns what it computed and whether the high half was written. */
function stamp(raw: Uint8Array, seed: number): { checksum: number; hasHigh: boolean } {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.length);
  const hasHigh = raw.length > 128 && 128 + view.getUint16(csum.CSUM_OFFSETS.inodeExtraIsize, true) >= csum.CSUM_OFFSETS.inodeHi + 2;
  view.setUint16(csum.CSUM_OFFSETS.inodeLo, 0, true);
  if (hasHigh) view.setUint16(csum.CSUM_OFFSETS.inodeHi, 0, true);
  const checksum = csum.crc32cRaw(seed, raw);
  view.setUint16(csum.CSUM_OFFSETS.inodeLo, checksum & 0xffff, true);
  if (hasHigh) view.setUint16(csum.CSUM_OFFSETS.inodeHi, checksum >>> 16, true);
  return { checksum, hasHigh };
}

describe('a CRC kept from its units\' CRCs', () => {
  test('a stamped inode\'s CRC from 0, from its checksum, equals crc32cRaw over its bytes (with and without the high half, 256 and 128 bytes)', () => {
    const rng = Rng.fromSeed('csum-units-stamp');
    let high = 0;
    for (let trial = 0; trial < 400; trial++) {
      const size = trial % 8 === 7 ? 128 : 256;
      const raw = randomBytes(rng, size);
      // i_extra_isize from 0 to 32: below 4 the inode has no i_checksum_hi
      if (size === 256) new DataView(raw.buffer).setUint16(csum.CSUM_OFFSETS.inodeExtraIsize, rng.below(9) * 4, true);
      const seed = trial % 5 === 0 ? 0 : rng.below(2 ** 32);
      const { checksum, hasHigh } = stamp(raw, seed);
      if (hasHigh) high++;
      expect([trial, csum.stampedInodeRawCrc(seed, checksum, size, hasHigh)]).toEqual([trial, csum.crc32cRaw(0, raw)]);
    }
    expect(high).toBeGreaterThan(200);
    expect(high).toBeLessThan(400);
  });

  test('equals crc32cRaw over the block after every change: units noted, changed without a note, or changed after their note', () => {
    const rng = Rng.fromSeed('csum-units');
    const units = new csum.UnitCrc(256, 4096);
    let bytes = randomBytes(rng, 4096);
    const counts = { noted: 0, unnoted: 0, stale: 0 };
    expect(units.crcOf(bytes, 5)).toBe(csum.crc32cRaw(5, bytes));
    for (let step = 0; step < 300; step++) {
      if (step % 41 === 0) bytes = bytes.slice();
      for (let k = rng.below(3); k >= 0; k--) {
        const unit = rng.below(16);
        const raw = bytes.subarray(unit * 256, unit * 256 + 256);
        raw[rng.below(256)] ^= 1 + rng.below(255);
        const how = rng.below(3);
        if (how === 0) {
          counts.unnoted++;
          continue;
        }
        const seed = rng.below(2 ** 32);
        const { checksum, hasHigh } = stamp(raw, seed);
        units.note(unit, raw, csum.stampedInodeRawCrc(seed, checksum, 256, hasHigh));
        counts.noted++;
        if (how === 2) {
          // the unit changes again after its note, as no seal would let it: read again, never trusted
          raw[rng.below(256)] ^= 0x40;
          counts.stale++;
        }
      }
      const seed = step % 4 === 0 ? 0 : rng.below(2 ** 32);
      expect([step, units.crcOf(bytes, seed)]).toEqual([step, csum.crc32cRaw(seed, bytes)]);
    }
    for (const n of Object.values(counts)) expect(n).toBeGreaterThan(50);
  });
});

/** The bench mix, seeded random workloads and every shapes workload, each a body to run on a mounted file system. */
function workloads(): Array<{ name: string; body: (f: MixFs & Parameters<typeof applyOp>[0]) => void }> {
  const out: Array<{ name: string; body: (f: MixFs & Parameters<typeof applyOp>[0]) => void }> = [];
  out.push({ name: 'mix 500', body: (f) => { f.mkdirSync('/bench', { recursive: true }); runMix(f, '/bench', 0, { rounds: 500, window: 64 }); } });
  const ops = (w: { ops: readonly Parameters<typeof applyOp>[1][] }) => (f: Parameters<typeof applyOp>[0]) => {
    const handles: Handles = new Map();
    for (const op of w.ops) applyOp(f, op, handles);
  };
  const random = workloadSpace({ suite: 'random', length: 80 });
  for (let i = 0; i < 4; i++) out.push({ name: `random#${i}`, body: ops(random.workload(i, `csum-incremental-${i}`)) });
  const shapes = workloadSpace({ suite: 'shapes' });
  for (let i = 0; i < shapes.size; i++) out.push({ name: shapes.workload(i).name, body: ops(shapes.workload(i)) });
  return out;
}

describe('the file system\'s kept CRCs', () => {
  test('every CRC the store hands out equals crc32cRaw over the block as it stands, and many came from the changed lines or the units\' notes alone', () => {
    const plain = MetaStore.prototype.blockCrc;
    const wrong: string[] = [];
    let workload = '';
    let calls = 0;
    const handedOut = jest.spyOn(MetaStore.prototype, 'blockCrc').mockImplementation(function (this: MetaStore, block: number, length: number, seed: number): number {
      const value = plain.call(this, block, length, seed);
      calls++;
      if (value !== csum.crc32cRaw(seed, this.peek(block).subarray(0, length))) wrong.push(`${workload}: block ${block}`);
      return value;
    });
    // the lines-only path, counted at the shadow's private step (its result is checked above all the same)
    const patched = jest.spyOn(csum.ShadowCrc.prototype as unknown as { patched: () => number }, 'patched');
    // the units' path: every call, and those that had to read a unit again
    const unitCalls = jest.spyOn(csum.UnitCrc.prototype, 'crcOf');
    const unitReads = jest.spyOn(csum.UnitCrc.prototype as unknown as { refresh: () => void }, 'refresh');
    try {
      for (const w of workloads()) {
        workload = w.name;
        const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
        mkfs(device, { features: 'default', seed: 'csum-incremental' });
        const f = mount(device, { policy: 'ordered', checkpoint: 'lazy' });
        w.body(f as unknown as MixFs & Parameters<typeof applyOp>[0]);
        f.unmount();
      }
    } finally {
      handedOut.mockRestore();
    }
    const lineOnly = patched.mock.calls.length;
    const fromUnits = unitCalls.mock.calls.length;
    const unitsRead = unitReads.mock.calls.length;
    patched.mockRestore();
    unitCalls.mockRestore();
    unitReads.mockRestore();
    expect(wrong).toEqual([]);
    expect(calls).toBeGreaterThan(2000);
    // the bitmaps and descriptor blocks (of about 3.3 blocks a commit asked for)
    expect(lineOnly).toBeGreaterThan(calls / 3);
    // the inode-table blocks, from their inodes' notes: a block's units are read at its first tag (then whenever an inode changed without a seal)
    expect(fromUnits).toBeGreaterThan(calls / 4);
    expect(unitsRead).toBeLessThan(fromUnits / 20);
  });
});

interface Setup {
  readonly checkpoint: CheckpointMode;
  readonly policy: 'ordered' | 'unordered';
}

/** The fingerprint of one run: every store with its bytes, in order, the counters and the final media. */
function fingerprintRun(media: MediaSource | undefined, setup: Setup, body: (f: MixFs & Parameters<typeof applyOp>[0]) => void, powerFailAt?: number): { fingerprint: string; instructions: number; image?: MediaSource } {
  const hash = createHash('sha256');
  let seen = 0;
  const drain = (device: PmemDevice) => {
    const trace = device.trace!;
    for (; seen < trace.length; seen++) {
      const e = trace.get(seen);
      hash.update(`${e.instruction} ${e.kind} ${e.op} ${e.addr} ${e.length} ${e.ref} ${e.detail};`);
      if (e.kind === 'store' || e.kind === 'movnti' || (e.kind === 'dc' && e.op === 'zva')) hash.update(device.coherent.read(e.addr, e.length));
    }
  };
  const device = new PmemDevice({
    ...(media === undefined ? { sizeBytes: 64 * MiB } : { media }), seed: 'csum-incremental', onInstruction: (_i, d) => drain(d),
    ...(powerFailAt === undefined ? {} : { powerFailAt }),
  });
  if (media === undefined) mkfs(device, { features: 'default', seed: 'csum-incremental' });
  let image: MediaSource | undefined;
  try {
    const f = mount(device, { policy: setup.policy, checkpoint: setup.checkpoint, seed: 'csum-incremental' });
    body(f as unknown as MixFs & Parameters<typeof applyOp>[0]);
    f.unmount();
  } catch (error) {
    if (!(powerFailAt !== undefined && error instanceof PowerFailure)) throw error;
    image = device.drawCrashImage('csum-incremental').detach();
  }
  drain(device);
  hash.update(JSON.stringify(device.stats));
  hash.update(`coherent ${mediaDigest(device.coherent)} guaranteed ${mediaDigest(device.guaranteedMedia())}`);
  return { fingerprint: hash.digest('hex').slice(0, 24), instructions: device.instructionCount, ...(image === undefined ? {} : { image }) };
}

/**
 * The fingerprints the file system gave before it kept CRCs from shadows (main at 4639154,
 * where this test's fingerprinting ran unchanged). Change them only when what the file system
 * writes changes on purpose. Changed once since: the eager rows, when a directory block's
 * stamped tail came to be marked dirty (so the eager checkpoint writes it home; before, the
 * home block kept a stale checksum until a later change reached that line); the lazy rows
 * stayed as they were, their checkpoint comparing every line.
 */
const BEFORE: Record<string, string> = {
  'mix 500 eager ordered': 'fe5047544f2b532fd666ebe3',
  'mix 500 lazy ordered': '3ec028f16f617222a7974d45',
  'mix 500 lazy ordered crash@0.6': 'e84b649f8baec1a4e0873f8b 7b5b9f8699ed4dd6e31eb685',
  'random#0 eager ordered': 'df3857aed3685b54accd4232',
  'random#0 lazy ordered': 'b8994f48e50d972ceb08de1b',
  'random#1 eager ordered': 'd6f6c5cc3bade375ccc6294a',
  'random#1 lazy ordered': '5f90277387b5e3a1c0f9e7e4',
  'random#2 eager ordered': '0b9adb0476378c23a20a119c',
  'random#2 lazy ordered': '4892c5f92172f80b9377cb78',
  'random#3 eager ordered': '6577eeb1ac7a892c58dcad3d',
  'random#3 lazy ordered': '8daf87f0793a9fbdeb53eb59',
  'shapes#0 reuse-after-commit lazy ordered': '298d91c7419873faac19e46e',
  'shapes#1 reuse-before-commit lazy ordered': '75c3d894fa19943da7e9648d',
  'shapes#10 tree-block-reused lazy ordered': 'ba000db0dbc31832a7c572c7',
  'shapes#2 unlinked-open lazy ordered': '578b465d3ea683daae6d3f83',
  'shapes#3 unlinked-open-pair lazy ordered': 'a510767cf8fe4cb026bd14a1',
  'shapes#4 big-dir lazy ordered': '769c1903f9fec483f4f8a2b7',
  'shapes#5 big-dir-removed lazy ordered': 'ab7889789ab53b621c715f8a',
  'shapes#6 other-groups lazy ordered': 'fb41b4d819cd7d6490f8b4ce',
  'shapes#7 sparse-far lazy ordered': 'ae9afaa9f503b4e1e40d22b7',
  'shapes#8 many-commits lazy ordered': '82e9ea1556936c3232360b0c',
  'shapes#9 shrink-then-grow lazy ordered': '68712ae460b1ed7ff26d2f15',
};

describe('what a default-profile file system writes', () => {
  test('is what it wrote before its CRCs were kept from shadows: every store, the counters and the media, on every workload and after a power failure', () => {
    const got: Record<string, string> = {};
    const setups: Array<[string, Setup]> = [['lazy ordered', { checkpoint: 'lazy', policy: 'ordered' }], ['eager ordered', { checkpoint: 'eager', policy: 'ordered' }]];
    for (const w of workloads()) {
      for (const [label, setup] of setups) {
        if (label !== 'lazy ordered' && !w.name.startsWith('mix') && !w.name.startsWith('random')) continue;
        const whole = fingerprintRun(undefined, setup, w.body);
        got[`${w.name} ${label}`] = whole.fingerprint;
        if (w.name.startsWith('mix') && label === 'lazy ordered') {
          const crashed = fingerprintRun(undefined, setup, w.body, Math.floor(whole.instructions * 0.6));
          const after = fingerprintRun(crashed.image, setup, (f) => {
            f.mkdirSync('/after', { recursive: true });
            runMix(f, '/after', 1, { rounds: 40, window: 8 });
          });
          got[`${w.name} ${label} crash@0.6`] = `${crashed.fingerprint} ${after.fingerprint}`;
        }
      }
    }
    expect(got).toEqual(BEFORE);
  });
});
