/**
 * File-system benchmark: one operation mix run on our DAX file system (on a 1 GiB armv8.2
 * pmem0, linux-arm64 flavour, trace off) and on memfs in the same process, reported as
 * operations per second and the ratio ours / memfs. Target: at least 0.3. A third row runs
 * ours with `checkpoint: 'eager'` (every commit written home at once, daxcrash 0.3's journal); a
 * fourth on mkfs.ext4's default profile (`features: 'default'`: metadata_csum and the rest, every
 * changed metadata block sealed at commit), reported against the minimal profile's row too
 * (target: at least 0.8, within 20%).
 *
 * The mix (bench/fs-mix.ts), per round over a directory of 64 files: create a file and write
 * 4 KiB to it, overwrite 512 bytes in place, fsync it, close it, rename it, every eighth round
 * readdir the directory, and unlink the oldest file; every call counts as one operation. Fixed
 * work per repetition (bench/harness.ts), median of 5 after a warm-up (the interleaved pair
 * below: 11 after two), each repetition timed on the process's CPU clock (harness cpuNowNanos:
 * user + system time, so other processes on a shared host do not count; the collector's
 * threads and page faults do).
 *
 * The default/minimal ratio compares two rows measured together: one file system of each
 * profile is made, both warm up, and then each repetition runs the mix once on each, the order
 * alternating (minimal first on even repetitions, default first on odd ones), so a slow stretch
 * of the host falls on both rows alike; each row is the median of its own PAIR.reps
 * repetitions, and the ratio is the ratio of the two medians. The pair warms up twice: after one
 * warm-up of each, the first timed repetition of the first profile ran ~1.7x its steady time
 * (code both profiles share, compiled for the first, recompiled after the second's warm-up),
 * one of five samples; and 11 repetitions keep a repetition or two that a major collection
 * falls in from moving the median. The minimal row of the table is that measurement's
 * minimal half. Last, the speed of CRC32C
 * on 4 KiB blocks by both implementations fs/csum.ts has (native @node-rs/crc32, crc-32's
 * JavaScript), against a copy and sha256 of the block, and which one the file system used
 * (`DAXCRASH_CRC32C=js npm run bench:fs` runs the rows on the JavaScript one).
 */
import { Volume } from 'memfs';
import { PmemDevice } from '../device';
import { mkfs } from '../fs/mkfs';
import { mount } from '../fs/mount';
import { createHash } from 'node:crypto';
import { CRC32C_IMPLEMENTATION, NATIVE_MIN_BYTES, crc32cRawBy } from '../fs/csum';
import { cpuNanosSince, cpuNowNanos, formatNumber, formatTable, repeat } from './harness';
import { MixFs, BENCH_MIX, runMix } from './fs-mix';

interface Row {
  readonly label: string;
  readonly opsPerSecond: number;
  readonly spread: number;
}

/** A fresh file system with the benchmark's directory. */
function prepared(make: () => MixFs): MixFs {
  const fs = make();
  fs.mkdirSync('/bench', { recursive: true });
  return fs;
}

/** The mix once on `fs` (repetition `rep`), in CPU nanoseconds, its operation count kept in `ops`. */
function timedMix(fs: MixFs, rep: number, ops: { count: number }): number {
  const start = cpuNowNanos();
  ops.count = runMix(fs, '/bench', rep);
  // a repetition shorter than the clock's microsecond would read as 0: counted as 1 us rather than refused
  return Math.max(1000, cpuNanosSince(start));
}

function row(label: string, ops: number, timing: { medianNanos: number; minNanos: number; maxNanos: number }): Row {
  return { label, opsPerSecond: ops / (timing.medianNanos / 1e9), spread: (timing.maxNanos - timing.minNanos) / timing.medianNanos };
}

function measure(label: string, make: () => MixFs): Row {
  const fs = prepared(make);
  const ops = { count: 0 };
  const timing = repeat({ warmups: 1, reps: 5 }, (i) => ({ mix: timedMix(fs, i, ops) })).mix;
  return row(label, ops.count, timing);
}

/** The interleaved pair's repetitions (see the module comment). */
const PAIR = { warmups: 2, reps: 11 } as const;

/**
 * Two rows measured interleaved (see the module comment): per repetition the mix once on each
 * file system, `a` first on even repetitions and `b` first on odd ones.
 */
function measurePair(labelA: string, makeA: () => MixFs, labelB: string, makeB: () => MixFs): [Row, Row] {
  const fsA = prepared(makeA);
  const fsB = prepared(makeB);
  const opsA = { count: 0 };
  const opsB = { count: 0 };
  const timing = repeat(PAIR, (i) => {
    if (i % 2 === 0) {
      const a = timedMix(fsA, i, opsA);
      return { a, b: timedMix(fsB, i, opsB) };
    }
    const b = timedMix(fsB, i, opsB);
    return { a: timedMix(fsA, i, opsA), b };
  });
  return [row(labelA, opsA.count, timing.a), row(labelB, opsB.count, timing.b)];
}

function main(): void {
  console.log(`daxcrash fs benchmark: node ${process.version}; ${BENCH_MIX.rounds} rounds of create+write 4 KiB, overwrite 512 B, fsync, close, rename, readdir/8, unlink`);
  const memfs = measure('memfs 4.80 (reference)', () => Volume.fromJSON({}) as unknown as MixFs);
  const ourFs = (checkpoint: 'lazy' | 'eager', features: 'minimal' | 'default' = 'minimal') => () => {
    const device = new PmemDevice({ trace: false });
    mkfs(device, { seed: 'bench-fs', features });
    return mount(device, { policy: 'ordered', pmemApi: 'linux-arm64', checkpoint }) as unknown as MixFs;
  };
  // the two profiles interleaved, repetition by repetition: their ratio is the figure with a target
  const [ours, profile] = measurePair('daxcrash fs, 1 GiB armv8.2, linux-arm64, ordered', ourFs('lazy'),
    '  the same, mkfs.ext4\'s default profile', ourFs('lazy', 'default'));
  // the journal of daxcrash 0.3 for comparison: every commit checkpointed at once
  const eager = measure('  the same, checkpoint: eager', ourFs('eager'));
  console.log(formatTable(['file system', 'ops/s', 'spread', 'vs memfs'], [memfs, ours, eager, profile].map((m) => [
    m.label, formatNumber(m.opsPerSecond), `${(m.spread * 100).toFixed(1)}%`, (m.opsPerSecond / memfs.opsPerSecond).toFixed(3),
  ])));
  console.log(`\nours / memfs: ${(ours.opsPerSecond / memfs.opsPerSecond).toFixed(3)} (target 0.3)`);
  console.log(`default profile / minimal profile: ${(profile.opsPerSecond / ours.opsPerSecond).toFixed(3)} (target 0.8; medians of ${PAIR.reps} CPU-timed repetitions, interleaved)`);
  checksumSpeed();
}

/**
 * CRC32C over 4 KiB blocks, by each implementation behind fs/csum.ts's crc32cRaw (native
 * @node-rs/crc32 when its binary loaded, and crc-32's JavaScript: what metadata_csum costs a
 * block), against copying the same block and sha256 of it in the same run.
 */
function checksumSpeed(): void {
  const BLOCKS = 20_000;
  const block = new Uint8Array(4096).map((_, i) => (i * 131) & 0xff);
  const copy = new Uint8Array(4096);
  const native = crc32cRawBy('native');
  const js = crc32cRawBy('js')!;
  let sink = 0;
  const t = repeat({ warmups: 1, reps: 5 }, () => {
    const a = process.hrtime.bigint();
    if (native !== undefined) for (let i = 0; i < BLOCKS; i++) sink ^= native(i, block);
    const b = process.hrtime.bigint();
    for (let i = 0; i < BLOCKS; i++) sink ^= js(i, block);
    const c = process.hrtime.bigint();
    for (let i = 0; i < BLOCKS; i++) copy.set(block);
    const d = process.hrtime.bigint();
    for (let i = 0; i < BLOCKS; i++) sink ^= createHash('sha256').update(block).digest()[0] as number;
    const e = process.hrtime.bigint();
    return { native: Number(b - a), js: Number(c - b), copy: Number(d - c), sha256: Number(e - d) };
  });
  const rate = (nanos: number) => `${((BLOCKS * 4096) / (nanos / 1e9) / 1e9).toFixed(2)} GB/s`;
  const nativeRate = native === undefined ? 'not loaded' : rate(t.native.medianNanos);
  console.log(`\n4 KiB blocks: crc32c native (@node-rs/crc32) ${nativeRate}, crc32c js (crc-32) ${rate(t.js.medianNanos)}, `
    + `copy ${rate(t.copy.medianNanos)}, sha256 ${rate(t.sha256.medianNanos)} (median of 5; ${sink & 1}); `
    + `the file system used: ${CRC32C_IMPLEMENTATION}${CRC32C_IMPLEMENTATION === 'native' ? ` (from ${NATIVE_MIN_BYTES} bytes; DAXCRASH_CRC32C=js forces js)` : ''}`);
}

main();
