/**
 * The judgement cache (crash/check.ts `JudgementCache`) held against judging without it.
 *
 * Crash images are drawn at crash points of seeded workloads on an ordered setup and on two
 * setups whose images are often damaged (unordered flushes, the DSB-less flavour), so the
 * sample holds clean recoveries, fsck findings, dirty logs and mount failures. Every image is
 * judged twice, with one cache shared by the whole sample and with none, and the two answers
 * must be equal in everything a judgement returns: the mount error, fsck's problems, the
 * recovered state, G8, the log's state and the lines read (structural ranges and content
 * places), with and without a read trace asked for (G9's recoveries ask for none). The cache
 * must have answered some images on every setup (its hit path is what is tested), and a
 * cache that drops the reads it replays must fail.
 */
import { StreamTree } from '../../core/streams';
import type { CrashImage } from '../../device/crash';
import { LineRanges } from '../../device/read-trace';
import { JudgementCache, RecoverOptions, Recovered, recoverImage } from '../../crash/check';
import { Recording, recordWorkload } from '../../crash/record';
import { MountSetup, baseImage } from '../../crash/setup';
import { workloadSpace } from '../../workloads/generators';

const DEVICE_BYTES = 16 << 20;

const SETUPS: readonly MountSetup[] = [
  { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false },
  { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'unordered', flushHint: false },
  { profile: 'armv8.2', pmemApi: 'linux-arm64-nosync', policy: 'ordered', flushHint: false },
];

/** Distinct crash images of a few bounded-2 and apps workloads on `setup`, a draw at every other crash point. */
function sample(setup: MountSetup): CrashImage[] {
  const images: CrashImage[] = [];
  const seen = new Set<string>();
  const workloads = [
    ...[3, 17, 40].map((i) => workloadSpace({ suite: 'bounded-2' }).workload(i)),
    workloadSpace({ suite: 'apps' }).workload(1),
  ];
  workloads.forEach((workload, w) => {
    let n = 0;
    const recording = new Recording({
      setup, media: baseImage(DEVICE_BYTES), streams: StreamTree.of(`jc-${w}`), points: 'barriers',
      onCrashPoint: (device) => {
        if (n++ % 2 !== 0) return;
        const image = device.drawCrashImage(`jc-${w}-${n}`);
        const digest = image.digest();
        if (!seen.has(digest)) {
          seen.add(digest);
          images.push(image.detach());
        }
      },
    });
    recordWorkload(recording, workload);
  });
  return images;
}

/** A judgement as text: line sets as their ranges, maps as their entries. */
function text(r: Recovered): string {
  return JSON.stringify(r, (_k, v: unknown) => (v instanceof LineRanges ? v.ranges() : v instanceof Map ? [...v.entries()] : v));
}

function kinds(r: Recovered): string {
  return r.mountError !== undefined ? 'mount error' : r.fsckProblems.length > 0 ? 'fsck problems' : r.g8 !== undefined ? 'G8' : r.notClean !== undefined ? 'dirty log' : 'clean';
}

describe('the judgement cache', () => {
  const images = new Map(SETUPS.map((setup) => [setup, sample(setup)]));

  it.each(SETUPS.map((s) => [`${s.pmemApi}/${s.policy}`, s] as const))('answers as judging without it, on every image of a sample (%s)', (_name, setup) => {
    const seen = new Map<string, number>();
    for (const trace of [true, false]) {
      const cache = new JudgementCache();
      for (const image of images.get(setup) ?? []) {
        const options: RecoverOptions = { trace };
        const uncached = recoverImage(image, setup, options);
        const cached = recoverImage(image, setup, { ...options, cache });
        expect(text(cached)).toBe(text(uncached));
        if (trace) seen.set(kinds(uncached), (seen.get(kinds(uncached)) ?? 0) + 1);
      }
      // eslint-disable-next-line no-console
      console.log(`${setup.pmemApi}/${setup.policy}, trace ${trace ? 'on' : 'off'}: ${images.get(setup)?.length} images (${[...seen].map(([k, n]) => `${n} ${k}`).join(', ')}); cache: ${cache.hits} hits, ${cache.misses} misses, ${cache.unkept} runs not kept`);
      expect(cache.hits).toBeGreaterThan(0); // the hit path is taken
    }
  }, 120_000);

  it('the sample holds damaged images as well as clean ones', () => {
    const all = [...images.entries()].flatMap(([setup, list]) => list.map((image) => kinds(recoverImage(image, setup))));
    expect(all).toContain('clean');
    expect(all.some((k) => k !== 'clean')).toBe(true);
  }, 120_000);

  it('fails when a hit does not replay the reads of the checks it stands for', () => {
    const setup = SETUPS[0];
    const cache = new JudgementCache();
    const list = images.get(setup) ?? [];
    for (const image of list) recoverImage(image, setup, { trace: true, cache });
    const hollow = jest.spyOn(cache, 'get').mockImplementation((key: string) => {
      const entry = (JudgementCache.prototype.get as (k: string) => ReturnType<JudgementCache['get']>).call(cache, key);
      return entry === undefined ? undefined : { ...entry, reads: LineRanges.of([]) };
    });
    try {
      const differs = list.some((image) => text(recoverImage(image, setup, { trace: true, cache })) !== text(recoverImage(image, setup, { trace: true })));
      expect(differs).toBe(true);
    } finally {
      hollow.mockRestore();
    }
  }, 120_000);

  it('keeps no run that read a page its key leaves out', () => {
    const cache = new JudgementCache();
    const checks = { fsckProblems: [] };
    cache.put('reads page 3', checks, LineRanges.of([3 * 64 + 5]), Int32Array.of(3, 4));
    cache.put('reads page 4', checks, LineRanges.of([4 * 64 + 5]), Int32Array.of(3, 4));
    expect(cache.unkept).toBe(1);
    expect(cache.get('reads page 3')).toBeUndefined();
    expect(cache.get('reads page 4')?.checks).toBe(checks);
  });
});
