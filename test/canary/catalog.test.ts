/**
 * The canary catalog must be caught (spec/crash-checking.md, "The canary suite"): each
 * deliberately broken variant of our file system (core/canary.ts) is hunted on the sample of
 * test/canary/catalog.ts and must yield a finding of the promise its catalog entry names,
 * on one of the three setups; the correct file system yields none on the workload and setup
 * at which each canary was caught (so every catch is the canary's, not the checker's), and,
 * with `npm run test:catalog` (DAXCRASH_CATALOG_FULL=1), on the whole sample on every setup
 * (75 units, about two minutes: too long for `npm test`). `npm run canary` measures recall
 * as a user runs the tool instead (recall.ts: the generated default suites, default crash
 * points and states, no probes).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baseImage } from '../../crash/engine';
import { CANARIES, CanaryName, activeCanary, canaryActive, withCanary, withCanaryWhile } from '../../core/canary';
import type { MountSetup } from '../../crash/check';
import type { Workload } from '../../workloads/ops';
import { APP_INDICES, Caught, DEVICE_BYTES, HAND_WRITTEN, PER_SUITE, SETUPS, hunt, run, sample } from './catalog';

/** `npm run test:catalog` sets DAXCRASH_CATALOG_FULL: the control runs on the whole sample. */
const WHOLE = process.env.DAXCRASH_CATALOG_FULL === '1';

describe('the canary catalog', () => {
  const all = sample();
  const caught = new Map<CanaryName, Caught | undefined>();

  beforeAll(() => {
    // The engine caches its empty base image: build it while no canary is switched on.
    baseImage(DEVICE_BYTES);
  });

  afterAll(() => {
    const rows = CANARIES.map((c) => {
      const k = caught.get(c.name);
      if (c.directedTest !== undefined) return `${c.name.padEnd(32)} ${c.breaks.padEnd(4)} caught by ${c.directedTest}`;
      return k === undefined
        ? `${c.name.padEnd(32)} ${c.breaks.padEnd(4)} NOT CAUGHT`
        : `${c.name.padEnd(32)} ${c.breaks.padEnd(4)} ${k.promises.padEnd(36)} ${k.setup.padEnd(28)} ${String(k.states).padStart(7)} states ${String(k.units).padStart(3)} units  ${k.workload}`;
    });
    console.log(`canary catalog:\n${rows.join('\n')}`);
  });

  test('withCanary switches one canary on for the call only, also when it throws', () => {
    expect(activeCanary()).toBeUndefined();
    expect(withCanary('fsync-no-commit', () => [canaryActive('fsync-no-commit'), canaryActive('naive-flush-loop')])).toEqual([true, false]);
    expect(() => withCanary('naive-flush-loop', () => {
      throw new Error('inside');
    })).toThrow('inside');
    expect(activeCanary()).toBeUndefined();
    expect(withCanary('naive-flush-loop', () => withCanary(undefined, () => activeCanary()))).toBeUndefined();
    expect(() => withCanary('no-such-canary' as CanaryName, () => 0)).toThrow(/unknown canary/);
  });

  test('withCanaryWhile keeps a canary on until an asynchronous body settles, also when it rejects', async () => {
    const seen = await withCanaryWhile('fsync-no-commit', async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      return activeCanary();
    });
    expect(seen).toBe('fsync-no-commit');
    expect(activeCanary()).toBeUndefined();
    await expect(withCanaryWhile('naive-flush-loop', async () => {
      throw new Error('inside');
    })).rejects.toThrow('inside');
    expect(activeCanary()).toBeUndefined();
    await expect(withCanaryWhile('no-such-canary' as CanaryName, async () => 0)).rejects.toThrow(/unknown canary/);
  });

  test('the catalog has at least twelve bugs, and the sample is what the module says', () => {
    expect(CANARIES.length).toBeGreaterThanOrEqual(12);
    expect(all.length).toBe(2 * PER_SUITE + APP_INDICES.length + HAND_WRITTEN.length);
    expect(new Set(all.map((w) => w.name)).size).toBe(all.length);
    expect(all.some((w) => w.ops.some((op) => op.op === 'truncate'))).toBe(true);
  });

  test.each(CANARIES.filter((c) => c.directedTest !== undefined).map((c) => [c.name, c.directedTest as string] as const))(
    '%s is out of the sample\'s reach: %s switches it on and catches it',
    (name, file) => {
      console.log(`${name}: not hunted on the sample (no workload of it reaches the bug); caught by ${file}`);
      expect(fs.readFileSync(path.join(__dirname, '..', '..', file), 'utf8')).toContain(`withCanary('${name}'`);
    },
  );

  test.each(CANARIES.filter((c) => c.directedTest === undefined).map((c) => [c.name, c.breaks] as const))('%s is caught, breaking %s', (name, breaks) => {
    const k = hunt(name, all);
    caught.set(name, k);
    expect(k).toBeDefined();
    expect(k?.promises).toMatch(new RegExp(`\\b${breaks}:`));
  });

  // Runs after the hunts (jest runs a file's tests in order): it needs their catches.
  test(WHOLE ? 'the correct file system: no finding on the whole sample, on any setup' : 'the correct file system: no finding where a canary was caught', () => {
    const units = WHOLE ? all.flatMap((w) => SETUPS.map((setup) => [w, setup] as const)) : caughtUnits([...caught.values()]);
    if (!WHOLE) {
      expect(units.length).toBeGreaterThan(0);
      console.log(`correct file system on ${units.length} caught units (npm run test:catalog: all ${all.length * SETUPS.length})`);
    }
    const found: string[] = [];
    for (const [w, setup] of units) {
      const r = withCanary(undefined, () => run(w, setup));
      if (Object.keys(r.findingCounts).length > 0) found.push(`${w.name} on ${setup.pmemApi}: ${JSON.stringify(r.findingCounts)} ${r.findings[0]?.diff ?? ''}`);
    }
    expect(found).toEqual([]);
  });
});

/** The distinct (workload, setup) units at which the hunts caught a canary, in catch order. */
function caughtUnits(catches: ReadonlyArray<Caught | undefined>): Array<readonly [Workload, MountSetup]> {
  const seen = new Set<string>();
  const units: Array<readonly [Workload, MountSetup]> = [];
  for (const k of catches) {
    if (k === undefined) continue;
    const key = `${k.workload} ${k.setup}`;
    if (seen.has(key)) continue;
    seen.add(key);
    units.push([k.workloadValue, k.setupValue]);
  }
  return units;
}
