/**
 * Held crash points (crash/points.ts, record.ts): a crash point whose next instruction only
 * queues a clean is checked for its all-complete completion set only, and the rest of its
 * bound is left to the crash point after that clean, or, where an operation boundary comes
 * first, to a crash point the recording adds at the old position. Holding must lose no
 * (crash image, position) pair: over a whole run, the images of every state of the k-bound
 * at every crash point, each with the position it is judged at, are the same set whether
 * points are held or every point is checked whole.
 */
import { subsetsUpTo } from '../../device/crash';
import type { CrashPoint, CrashState } from '../../device/crash';
import { StreamTree } from '../../core/streams';
import type { CrashPosition } from '../../crash/check';
import { Recording, recordWorkload } from '../../crash/record';
import { MountSetup, baseImage } from '../../crash/setup';
import { runUnit } from '../../crash/engine';
import type { Workload } from '../../workloads/ops';

const DEVICE_BYTES = 16 << 20;
const K = 1;
// A write allocates and zeroes a block: runs of 64 cleans, the case holding is for. Whole
// bounds are enumerated and every state's image digested (about 0.4 ms each), so one
// workload a setup: about 25 to 40 s each, on two setups.
const WORKLOAD: Workload = { name: 'write-fsync', ops: [{ op: 'creat', path: '/f' }, { op: 'write', path: '/f', offset: 0, length: 400, tag: 1 }, { op: 'fsync', path: '/f' }] };
const setup = (profile: MountSetup['profile'], pmemApi: MountSetup['pmemApi'], policy: MountSetup['policy']): MountSetup => ({ profile, pmemApi, policy, flushHint: false });
// nosync ends operations inside a run of cleans: the recording pays what it owes at the
// boundary (leaving that out fails this case); x86 queues CLWBs.
const SETUPS: MountSetup[] = [setup('armv8.2', 'linux-arm64-nosync', 'ordered'), setup('x86-adr', 'linux-x86', 'ordered')];

function* completeStates(point: CrashPoint, k: number): Generator<CrashState> {
  const fam = point.completeFamily();
  for (const pick of subsetsUpTo(fam.units.length, k)) yield { kind: 'bounded', epochs: fam.epochs, subset: [], units: pick.map((i) => fam.units[i].unit) };
}

/** Every (image, position) pair a run checks, holding points or not, and what it cost. */
function pairs(workload: Workload, s: MountSetup, hold: boolean) {
  const seen = new Set<string>();
  let states = 0;
  let held = 0;
  const recording = new Recording({
    setup: s, media: baseImage(DEVICE_BYTES), streams: StreamTree.of('held'),
    onCrashPoint: (device, at: CrashPosition, _event, isHeld) => {
      const point = device.crashPoint();
      const partial = hold && isHeld && point.reducible;
      const list = partial ? completeStates(point, K) : point.bounded({ k: K }).states();
      for (const state of list) {
        states++;
        seen.add(`${point.image(state).digest()}@${at.done}/${at.inFlight}`);
      }
      if (partial) held++;
      return partial;
    },
  });
  recordWorkload(recording, workload);
  return { seen, states, held };
}

describe('held crash points lose no (image, position) pair', () => {
  const totals = { whole: 0, holding: 0, held: 0 };
  for (const s of SETUPS) {
    test(`${s.profile}/${s.pmemApi}/${s.policy} ${WORKLOAD.name}`, () => {
      const whole = pairs(WORKLOAD, s, false);
      const holding = pairs(WORKLOAD, s, true);
      expect([...holding.seen].filter((p) => !whole.seen.has(p))).toEqual([]);
      expect([...whole.seen].filter((p) => !holding.seen.has(p))).toEqual([]);
      totals.whole += whole.states;
      totals.holding += holding.states;
      totals.held += holding.held;
    });
  }
  afterAll(() => {
    // the comparison means something only if points were held and states were saved
    console.log(`held crash points: ${totals.held}; states enumerated ${totals.holding} holding, ${totals.whole} checking every point whole`);
    expect(totals.held).toBeGreaterThan(100);
    expect(totals.holding).toBeLessThan(totals.whole);
  });
});

describe('the engine holds points only where it explores a reduced bound', () => {
  test('the same promises broken with and without holding, on a setup with findings', () => {
    const w = WORKLOAD;
    const s = setup('armv8.2', 'linux-arm64-nosync', 'unordered');
    const options = { setup: s, deviceBytes: DEVICE_BYTES, seed: 'held', e2fsck: 'none' as const, states: { kind: 'bounded' as const, k: 2, limit: 64 } };
    const holding = runUnit(w, options);
    const whole = runUnit(w, { ...options, holds: false });
    expect(Object.keys(holding.findingCounts).sort()).toEqual(Object.keys(whole.findingCounts).sort());
    expect(Object.keys(whole.findingCounts).length).toBeGreaterThan(0);
    expect(holding.statesInBound).toBeLessThan(whole.statesInBound);
  });
});

describe('representatives carried from a held point to the next', () => {
  test('change no count and no coverage where the limit does not bind, and save judgements', () => {
    const s = setup('armv8.2', 'linux-arm64-nosync', 'unordered');
    // no G9 and no real e2fsck: those are findings of judged states, not of classes
    const options = { setup: s, deviceBytes: DEVICE_BYTES, seed: 'carry', e2fsck: 'none' as const, recoveryStates: 0, states: { kind: 'bounded' as const, k: 2, limit: 1_000_000 } };
    const carrying = runUnit(WORKLOAD, options);
    const fresh = runUnit(WORKLOAD, { ...options, carry: false });
    expect(carrying.findingCounts).toEqual(fresh.findingCounts);
    expect(Object.keys(fresh.findingCounts).length).toBeGreaterThan(0);
    expect(carrying.statesCovered).toBe(fresh.statesCovered);
    expect(carrying.statesCovered).toBe(carrying.statesInBound);
    expect(carrying.statesChecked).toBeLessThan(fresh.statesChecked);
  });
});

describe('held points settled as mirrors of the held point before them', () => {
  test('change no count, no coverage and no bound, and build fewer crash points', () => {
    const s = setup('armv8.2', 'linux-arm64-nosync', 'unordered');
    const options = { setup: s, deviceBytes: DEVICE_BYTES, seed: 'mirror', e2fsck: 'none' as const, recoveryStates: 0, states: { kind: 'bounded' as const, k: 2, limit: 1_000_000 } };
    const mirroring = runUnit(WORKLOAD, options);
    const every = runUnit(WORKLOAD, { ...options, mirrorHeld: false });
    expect(mirroring.findingCounts).toEqual(every.findingCounts);
    expect(Object.keys(every.findingCounts).length).toBeGreaterThan(0);
    expect(mirroring.statesInBound).toBe(every.statesInBound);
    expect(mirroring.statesCovered).toBe(every.statesCovered);
    expect(mirroring.crashPoints).toBe(every.crashPoints);
    console.log(`held points mirrored: ${mirroring.mirroredPoints} of ${mirroring.crashPoints} crash points`);
    expect(every.mirroredPoints).toBe(0);
    expect(mirroring.mirroredPoints).toBeGreaterThan(50);
  });
});
