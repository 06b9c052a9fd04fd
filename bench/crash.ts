/**
 * Crash-checking benchmark: crash states checked per second by the engine on a sample of
 * the bounded two-operation suite, on a 1 GiB device (ordered, linux-arm64, armv8.2, crash
 * points at every barrier and clean, k = 2 bounded states, at most 64 a point), against the
 * reference measured in the same run: writing a crash state as a sparse image file and
 * running `e2fsck -fn` on it, the way a tool without its own checker would check a state.
 *
 * Targets: 1,000 states a second or more on one core, and at least 100 times the
 * image-plus-e2fsck rate. A state counts once it was judged against its window, whether its
 * image was new (mount, recovery, fsck, G8) or shared with an earlier identical image.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runUnit } from '../crash/engine';
import { e2fsckPath } from '../crash/e2fsck';
import { PmemDevice } from '../device';
import { mkfs } from '../fs/mkfs';
import { mount } from '../fs/mount';
import { workloadSpace } from '../workloads/generators';
import { Rng } from '../core/rng';
import { formatNumber, formatTable } from './harness';

const GiB = 1 << 30;
const WORKLOADS = 8;
const E2FSCK_IMAGES = 12;

function main(): void {
  console.log(`daxcrash crash benchmark: node ${process.version}; ${WORKLOADS} bounded-2 workloads on a 1 GiB armv8.2 device`);
  const space = workloadSpace({ suite: 'bounded-2' });
  const workloads = Array.from({ length: WORKLOADS }, (_, i) => space.workload(Math.floor((i * space.size) / WORKLOADS) + 7));
  const setup = { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false } as const;
  let states = 0;
  let images = 0;
  let points = 0;
  const start = process.hrtime.bigint();
  for (const w of workloads) {
    const r = runUnit(w, { setup, deviceBytes: GiB, points: 'flushes', states: { kind: 'bounded', k: 2, limit: 64 }, seed: 'bench-crash' });
    states += r.statesChecked;
    images += r.uniqueImages;
    points += r.crashPoints;
  }
  const engineSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const statesPerSecond = states / engineSeconds;

  // The reference: each of a few seeded crash images of a 1 GiB device, written as a sparse
  // file and checked by e2fsck -fn.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-bench-'));
  const device = new PmemDevice({ sizeBytes: GiB, trace: false });
  mkfs(device, { seed: 'bench-crash' });
  const f = mount(device);
  f.mkdirSync('/A');
  f.writeFileSync('/A/foo', Buffer.alloc(8192, 1));
  const rng = Rng.fromSeed('bench-crash-images');
  const tool = e2fsckPath();
  const e2start = process.hrtime.bigint();
  for (let i = 0; i < E2FSCK_IMAGES; i++) {
    const file = path.join(dir, `state-${i}.img`);
    device.drawCrashImage(`bench-${rng.uint32()}`).writeImage(file);
    spawnSync(tool, ['-fn', file], { encoding: 'utf8', env: { ...process.env, E2FSCK_TIME: '1700000000' } });
    fs.rmSync(file);
  }
  const e2Seconds = Number(process.hrtime.bigint() - e2start) / 1e9;
  fs.rmSync(dir, { recursive: true, force: true });
  const e2PerSecond = E2FSCK_IMAGES / e2Seconds;

  console.log(formatTable(['measure', 'count', 'seconds', 'per second'], [
    ['crash states judged (engine)', String(states), engineSeconds.toFixed(2), formatNumber(statesPerSecond)],
    ['  of which distinct images recovered', String(images), '', formatNumber(images / engineSeconds)],
    ['  crash points', String(points), '', ''],
    ['sparse image + e2fsck -fn (reference)', String(E2FSCK_IMAGES), e2Seconds.toFixed(2), formatNumber(e2PerSecond)],
  ]));
  console.log(`\nstates per second: ${formatNumber(statesPerSecond)} (target 1,000); ratio to image + e2fsck: ${(statesPerSecond / e2PerSecond).toFixed(0)}x (target 100x)`);
}

main();
