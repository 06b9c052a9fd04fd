/**
 * Crash-checking benchmark (docs/benchmarks.md defines its figures): on a sample of the
 * bounded two-operation suite, on a 1 GiB armv8.2 device (ordered, linux-arm64, the default
 * crash points, the k = 2 bound, at most 64 states judged a point), side by side in one run:
 *
 * - the engine as it runs by default (the bound reduced to classes, explore.ts): bound
 *   states covered per second, states judged per second, distinct images recovered per
 *   second;
 * - the same workloads explored as before the reduction (`reduce: false`: the first 64
 *   states of each point's bound, each judged): states judged (= covered) per second;
 * - the reference of a tool without its own checker: a crash state written as a sparse
 *   image file and checked by `e2fsck -fn`, states per second;
 * - distinct images recovered and checked per second, measured directly: seeded crash images
 *   of the same workloads (a draw at every third barrier, distinct by digest), each judged
 *   as the engine judges a new image (mount with replay, snapshot, clean unmount, fsck, G8,
 *   the read trace), with and without the real e2fsck on the recovered image.
 *
 * Targets (one core): at least 10,000 states judged per second (the exploration
 * that judges every state of the first 64 a point), at least 1,000 distinct images
 * recovered and checked per second without e2fsck, covered per second far above judged per
 * second, and judged per second at least 100 times the image-plus-e2fsck rate.
 * docs/benchmarks.md defines the figures.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { EngineOptions, runUnit } from '../crash/engine';
import { e2fsckAvailable, e2fsckPath, e2fsckRecovered } from '../crash/e2fsck';
import { JudgementCache, recoverImage } from '../crash/check';
import { Recording, recordWorkload } from '../crash/record';
import { baseImage } from '../crash/setup';
import { StreamTree } from '../core/streams';
import type { CrashImage } from '../device';
import { PmemDevice } from '../device';
import { mkfs } from '../fs/mkfs';
import { mount } from '../fs/mount';
import { workloadSpace } from '../workloads/generators';
import type { Workload } from '../workloads/ops';
import { Rng } from '../core/rng';
import { formatNumber, formatTable, nanosSince, nowNanos, repeat } from './harness';

const GiB = 1 << 30;
const WORKLOADS = 8;
const E2FSCK_IMAGES = 12;
const SETUP = { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false } as const;

interface Tally {
  readonly seconds: number;
  readonly covered: bigint;
  readonly judged: number;
  readonly images: number;
  readonly bound: bigint;
  readonly points: number;
}

function explore(workloads: readonly Workload[], reduce: boolean): Tally {
  const options: EngineOptions = {
    setup: SETUP, deviceBytes: GiB, points: 'flushes', states: { kind: 'bounded', k: 2, limit: 64 }, seed: 'bench-crash', e2fsck: 'none', reduce,
  };
  let covered = 0n;
  let bound = 0n;
  let judged = 0;
  let images = 0;
  let points = 0;
  const start = nowNanos();
  for (const w of workloads) {
    const r = runUnit(w, options);
    covered += r.statesCovered;
    bound += r.statesInBound;
    judged += r.statesChecked;
    images += r.uniqueImages;
    points += r.crashPoints;
  }
  return { seconds: nanosSince(start) / 1e9, covered, judged, images, bound, points };
}

/**
 * Distinct crash images of the sample's workloads, by workload: a seeded draw at every third
 * barrier of each recording, kept when its digest is new, detached from the device.
 */
function distinctImages(workloads: readonly Workload[]): CrashImage[][] {
  const seen = new Set<string>();
  return workloads.map((workload, w) => {
    const images: CrashImage[] = [];
    let n = 0;
    const recording = new Recording({
      setup: SETUP, media: baseImage(GiB), streams: StreamTree.of('bench-crash-images'), points: 'barriers',
      onCrashPoint: (device) => {
        if (n++ % 3 !== 0) return;
        const image = device.drawCrashImage(`bench-${w}-${n}`);
        const digest = image.digest();
        if (seen.has(digest)) return;
        seen.add(digest);
        images.push(image.detach());
      },
    });
    recordWorkload(recording, workload);
    return images;
  });
}

/**
 * Distinct images recovered and checked per second, the judgement the engine makes of each
 * new image (mount with journal replay, the snapshot, the clean unmount, fsck, G8, the read
 * trace), with and without the real `e2fsck -fn` on each recovered image. `cached`: as the
 * engine runs, each workload's images share one judgement cache (crash/check.ts), made
 * afresh for every pass, so no pass reuses another's answers; otherwise every image runs
 * every check.
 */
function recoveryRate(byWorkload: readonly (readonly CrashImage[])[], withE2fsck: boolean, cached: boolean): { seconds: number; images: number; unclean: number; hits: number } {
  let unclean = 0;
  let hits = 0;
  // every image judged once per repetition, 1 warm-up + 3 timed (the median kept): the
  // first pass pays for compiling the code a judgement runs
  const timing = repeat({ warmups: 1, reps: withE2fsck ? 1 : 3 }, () => {
    unclean = 0;
    hits = 0;
    const start = nowNanos();
    for (const images of byWorkload) {
      const cache = cached ? new JudgementCache() : undefined;
      for (const image of images) {
        const r = recoverImage(image, SETUP, {
          trace: true, ...(cache ? { cache } : {}), ...(withE2fsck ? { onRecovered: (recovered) => e2fsckRecovered(recovered) } : {}),
        });
        if (r.mountError !== undefined || r.fsckProblems.length > 0 || r.e2fsck !== undefined || r.g8 !== undefined) unclean++;
      }
      hits += cache?.hits ?? 0;
    }
    return { pass: nanosSince(start) };
  });
  return { seconds: timing.pass.medianNanos / 1e9, images: byWorkload.reduce((n, list) => n + list.length, 0), unclean, hits };
}

/** A few seeded crash images of a 1 GiB device, each written as a sparse file and checked by e2fsck -fn. */
function e2fsckReference(): { seconds: number; images: number } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-bench-'));
  const device = new PmemDevice({ sizeBytes: GiB, trace: false });
  mkfs(device, { seed: 'bench-crash' });
  const f = mount(device);
  f.mkdirSync('/A');
  f.writeFileSync('/A/foo', Buffer.alloc(8192, 1));
  const rng = Rng.fromSeed('bench-crash-images');
  const tool = e2fsckPath();
  const start = nowNanos();
  for (let i = 0; i < E2FSCK_IMAGES; i++) {
    const file = path.join(dir, `state-${i}.img`);
    device.drawCrashImage(`bench-${rng.uint32()}`).writeImage(file);
    spawnSync(tool, ['-fn', file], { encoding: 'utf8', env: { ...process.env, E2FSCK_TIME: '1700000000' } });
    fs.rmSync(file);
  }
  const seconds = nanosSince(start) / 1e9;
  fs.rmSync(dir, { recursive: true, force: true });
  return { seconds, images: E2FSCK_IMAGES };
}

function main(): void {
  console.log(`daxcrash crash benchmark: node ${process.version}; ${WORKLOADS} bounded-2 workloads on a 1 GiB armv8.2 device, linux-arm64, ordered, k=2, limit 64`);
  const space = workloadSpace({ suite: 'bounded-2' });
  const workloads = Array.from({ length: WORKLOADS }, (_, i) => space.workload(Math.floor((i * space.size) / WORKLOADS) + 7));
  const images = distinctImages(workloads);
  const recovery = recoveryRate(images, false, true);
  const uncached = recoveryRate(images, false, false);
  // the first images of each workload, E2FSCK_IMAGES * 2 in all
  const few = images.map((list) => list.slice(0, Math.ceil((E2FSCK_IMAGES * 2) / images.length)));
  const withE2fsck = e2fsckAvailable() ? recoveryRate(few, true, true) : undefined;
  const reduced = explore(workloads, true);
  const prefix = explore(workloads, false);
  const e2 = e2fsckReference();
  const rate = (n: number | bigint, s: number) => Number(n) / s;
  const row = (label: string, t: Tally) => [
    label, t.seconds.toFixed(2), `${t.covered} of ${t.bound}`, formatNumber(rate(t.covered, t.seconds)), formatNumber(rate(t.judged, t.seconds)), formatNumber(rate(t.images, t.seconds)),
  ];
  console.log(formatTable(['exploration', 'seconds', 'states covered of the bound', 'covered/s', 'judged/s', 'distinct images/s'], [
    row('reduced (default)', reduced),
    row('first 64 a point (before)', prefix),
    ['sparse image + e2fsck -fn', e2.seconds.toFixed(2), `${e2.images} states`, formatNumber(rate(e2.images, e2.seconds)), formatNumber(rate(e2.images, e2.seconds)), formatNumber(rate(e2.images, e2.seconds))],
  ]));
  const e2Rate = rate(e2.images, e2.seconds);
  console.log('');
  console.log(formatTable(['distinct images recovered and checked', 'images', 'seconds', 'images/s', 'not clean'], [
    [`ours, as the engine runs (a judgement cache per workload: ${recovery.hits} answered; median of 3 passes)`, `${recovery.images}`, recovery.seconds.toFixed(2), formatNumber(rate(recovery.images, recovery.seconds)), `${recovery.unclean}`],
    ['ours, every check run on every image (no cache; median of 3 passes)', `${uncached.images}`, uncached.seconds.toFixed(2), formatNumber(rate(uncached.images, uncached.seconds)), `${uncached.unclean}`],
    withE2fsck === undefined
      ? ['the same and the real e2fsck -fn', '-', '-', 'e2fsprogs missing', '-']
      : ['the same and the real e2fsck -fn (one pass after a warm-up)', `${withE2fsck.images}`, withE2fsck.seconds.toFixed(2), formatNumber(rate(withE2fsck.images, withE2fsck.seconds)), `${withE2fsck.unclean}`],
  ]));
  console.log(`distinct images recovered and checked per second (one core, no e2fsck): ${formatNumber(rate(recovery.images, recovery.seconds))} (target 1,000)`);
  console.log(`\ncrash points: ${reduced.points}; coverage: reduced ${pct(reduced)}, before ${pct(prefix)}`);
  console.log(`covered per second, reduced against judged per second before: ${(rate(reduced.covered, reduced.seconds) / rate(prefix.judged, prefix.seconds)).toFixed(0)}x`);
  console.log(`judged per second against image + e2fsck: reduced ${(rate(reduced.judged, reduced.seconds) / e2Rate).toFixed(0)}x, before ${(rate(prefix.judged, prefix.seconds) / e2Rate).toFixed(0)}x (target 100x)`);
  console.log(`states judged per second (first 64 a point, each judged): ${formatNumber(rate(prefix.judged, prefix.seconds))} (target 10,000)`);
}

function pct(t: Tally): string {
  return `${(Number((t.covered * 100000n) / (t.bound === 0n ? 1n : t.bound)) / 1000).toFixed(3)}%`;
}

main();
