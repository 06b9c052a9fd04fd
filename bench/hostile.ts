/**
 * The long run of the hostile-image fuzzer (test/fuzz/): corrupts --images images from
 * --seed on, runs fsck, mount and the fixed operations on each, and prints progress, the
 * count of each outcome, every escape with the seed that replays it, and every refused mount
 * that stored more than its journal replay.
 *
 *   npm run fuzz:hostile -- --images 20000 --seed 0
 *
 * Exit status 1 when anything escaped (a raw exception, an assertion, a runaway loop) or a
 * refused mount changed the media beyond its replay.
 */
import { REGIONS } from '../test/fuzz/corrupt';
import { baseImages } from '../test/fuzz/images';
import { HostileOutcome, runCorrupt, runHostile } from '../test/fuzz/hostile';

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`${name} needs a non-negative integer, got ${process.argv[i + 1]}`);
    process.exit(2);
  }
  return value;
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function codesOf(outcome: HostileOutcome): string {
  return [...outcome.opErrors].sort().map(([code, n]) => `${code} ${n}`).join(', ');
}

function main(): void {
  const images = argument('--images', 2000);
  const first = argument('--seed', 0);
  console.log(`hostile images: seeds ${first}..${first + images - 1} (node ${process.version})`);
  const started = process.hrtime.bigint();
  // What the fixed operations answer on the valid images (rmdir of a non-empty directory,
  // the symlink loop...): a corrupt image answering exactly that counts as "ops as valid".
  const bases = baseImages();
  const baseline = new Map<string, string>();
  for (const base of [bases.clean, bases.replay]) {
    const outcome = runCorrupt({ seed: -1, region: 'superblock', base, mutations: [], apply: () => undefined });
    if (outcome.escapes.length > 0 || outcome.mount !== 'mounted') throw new Error(`the valid ${base.name} image fails: ${outcome.description}`);
    baseline.set(base.name, codesOf(outcome));
  }
  console.log(`op errors on the valid images: ${[...baseline].map(([k, v]) => `${k} ${v}`).join('; ')}`);
  const mountOutcomes = new Map<string, number>();
  const opCodes = new Map<string, number>();
  const regions = new Map<string, Map<string, number>>(REGIONS.map((r) => [r, new Map()]));
  const escapes: HostileOutcome[] = [];
  const refusedButWrote: HostileOutcome[] = [];
  let opsOk = 0;
  let fsckFindings = 0;
  let slowestMs = 0;
  let slowestSeed = -1;
  let peakHeap = 0;
  for (let n = 0; n < images; n++) {
    const seed = first + n;
    const t0 = process.hrtime.bigint();
    const outcome = runHostile(seed);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > slowestMs) { slowestMs = ms; slowestSeed = seed; }
    const verdict = outcome.escapes.length > 0 ? 'escape'
      : outcome.mount !== 'mounted' ? `mount error ${outcome.mount}`
        : codesOf(outcome) === baseline.get(outcome.base) ? 'mounted, ops as on the valid image' : 'mounted, typed op errors';
    bump(mountOutcomes, verdict);
    bump(regions.get(outcome.region)!, verdict.startsWith('mount error') ? 'mount error' : verdict);
    for (const [code, count] of outcome.opErrors) bump(opCodes, code, count);
    opsOk += outcome.opsOk;
    if (outcome.fsckProblems > 0) fsckFindings++;
    if (outcome.refusedMountChangedMedia) {
      refusedButWrote.push(outcome);
      console.log(`REFUSED MOUNT WROTE ${outcome.description}: ${outcome.mount}`);
    }
    if (outcome.escapes.length > 0) {
      escapes.push(outcome);
      console.log(`ESCAPE ${outcome.description}\n  ${outcome.escapes.map((e) => `${e.phase}: ${e.error}`).join('\n  ')}`);
    }
    if ((n + 1) % 1000 === 0 || n + 1 === images) {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      const s = Number(process.hrtime.bigint() - started) / 1e9;
      console.log(`  ${n + 1}/${images} images, ${escapes.length} escapes, ${s.toFixed(1)} s, heap ${(peakHeap / 2 ** 20).toFixed(0)} MiB`);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`\n${images} images in ${seconds.toFixed(1)} s (slowest: seed ${slowestSeed}, ${slowestMs.toFixed(0)} ms; peak heap ${(peakHeap / 2 ** 20).toFixed(0)} MiB)`);
  console.log('\noutcomes (a typed mount error by kind, or mounted and how the operations answered):');
  for (const [k, v] of [...mountOutcomes].sort()) console.log(`  ${k.padEnd(48)} ${v}`);
  console.log(`  (images with fsck findings: ${fsckFindings}; successful operations: ${opsOk})`);
  console.log('\ntyped operation errors by code:');
  for (const [k, v] of [...opCodes].sort()) console.log(`  ${k.padEnd(10)} ${v}`);
  console.log('\nper region:');
  for (const [region, counts] of regions) {
    console.log(`  ${region.padEnd(20)} ${[...counts].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  }
  console.log(`\nescapes: ${escapes.length}${escapes.length > 0 ? ` (seeds ${escapes.map((e) => e.seed).join(' ')})` : ''}`);
  console.log(`refused mounts that stored more than their journal replay: ${refusedButWrote.length}${refusedButWrote.length > 0 ? ` (seeds ${refusedButWrote.map((e) => e.seed).join(' ')})` : ''}`);
  if (escapes.length > 0 || refusedButWrote.length > 0) process.exitCode = 1;
}

main();
