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
 *   image file and checked by `e2fsck -fn`, states per second.
 *
 * Targets: covered per second far above the old judged per second (the reduction's point),
 * and judged per second at least 100 times the image-plus-e2fsck rate.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { EngineOptions, runUnit } from '../crash/engine';
import { e2fsckPath } from '../crash/e2fsck';
import { PmemDevice } from '../device';
import { mkfs } from '../fs/mkfs';
import { mount } from '../fs/mount';
import { workloadSpace } from '../workloads/generators';
import type { Workload } from '../workloads/ops';
import { Rng } from '../core/rng';
import { formatNumber, formatTable, nanosSince, nowNanos } from './harness';

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
  console.log(`\ncrash points: ${reduced.points}; coverage: reduced ${pct(reduced)}, before ${pct(prefix)}`);
  console.log(`covered per second, reduced against judged per second before: ${(rate(reduced.covered, reduced.seconds) / rate(prefix.judged, prefix.seconds)).toFixed(0)}x`);
  console.log(`judged per second against image + e2fsck: reduced ${(rate(reduced.judged, reduced.seconds) / e2Rate).toFixed(0)}x, before ${(rate(prefix.judged, prefix.seconds) / e2Rate).toFixed(0)}x (target 100x)`);
}

function pct(t: Tally): string {
  return `${(Number((t.covered * 100000n) / (t.bound === 0n ? 1n : t.bound)) / 1000).toFixed(3)}%`;
}

main();
