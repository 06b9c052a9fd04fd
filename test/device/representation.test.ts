/**
 * The device's storage representation may change (runs instead of per-line
 * records), the model may not. This test replays seeded random programs on every profile
 * and, at every instruction, fingerprints what the crash model sees: each uncertain line's
 * history and reached levels, each pending item, the store buffer, the epoch, and at some
 * points the bound's size, its first states' images, the full-model size and a sampled
 * draw. The fingerprints of model revision 3 are kept in
 * test/fixtures/device-fingerprints.json (written by the per-line implementation before
 * the run representation replaced it); any change to what a crash point holds fails here.
 *
 * Regenerate only when the model itself changes on purpose (a new model revision):
 * DAXCRASH_WRITE_FINGERPRINTS=1 npx jest test/device/representation.test.ts
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../core/rng';
import { BARRIER_KINDS, PMEM_API_NAMES, PROFILE_NAMES, PmemDevice, ProfileName, pmemApi } from '../../device';
import type { PmemApiName } from '../../device';
import { withCanary } from '../../core/canary';
import type { CanaryName } from '../../core/canary';
import { runUnit } from '../../crash/engine';
import { workloadSpace } from '../../workloads/generators';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'device-fingerprints.json');
const DEVICE_BYTES = 1 << 20;
/** Programs touch the first 16 KiB, so lines are stored, cleaned and overwritten often. */
const REGION = 16 << 10;
const PROGRAMS_PER_PROFILE = 6;
const STEPS = 40;

type Digest = ReturnType<typeof createHash>;
/** The device's private one-step memcpy_flushcache, for the spies below. */
type OneStep = { storeCleanDsbAtOnce: (...args: unknown[]) => boolean };

function fingerprintPoint(device: PmemDevice, hash: Digest, deep: boolean): void {
  const tracks = [...device.lines.values()].sort((a, b) => a.lineIndex - b.lineIndex);
  hash.update(`i${device.instructionCount} e${device.epoch} n${tracks.length};`);
  for (const t of tracks) {
    hash.update(`L${t.lineIndex} b${t.base} ${t.poc}/${t.pop}/${t.podp}/${t.hint} `);
    hash.update(t.baseline);
    for (const e of t.entries) {
      hash.update(`u${e.unit} m${e.mask} p${e.pieces} `);
      hash.update(t.snapOf(e));
    }
  }
  for (const p of device.pending) {
    const hint = p.hintSnapshot ? [...p.hintSnapshot].sort((a, b) => a[0] - b[0]).join(',') : '-';
    hash.update(`P${p.id} ${p.kind} ${p.lineIndex} ${p.level} ${p.snapshot} ${p.epoch} ${hint};`);
  }
  for (const u of device.storeBuffer) hash.update(`S${u.unit} ${u.lineIndex} ${u.pieces};`);
  if (!deep) return;
  for (const kind of device.profile.crashKinds) {
    const point = device.crashPoint(kind);
    const bounded = point.bounded({ k: 2, limit: 4 });
    hash.update(`B${kind} ${bounded.boundSize} ${bounded.fullSize};`);
    for (const state of bounded.states()) hash.update(`${JSON.stringify(state)}=${point.image(state).digest()};`);
    hash.update(`D${point.sample(`fp-${device.instructionCount}`).digest()};`);
  }
}

/** The flavours of the profile's ISA (one lacking an instruction throws, which is fingerprinted too). */
function flavoursFor(device: PmemDevice): PmemApiName[] {
  return PMEM_API_NAMES.filter((name) => (name === 'linux-x86') === (device.profile.isa === 'x86'));
}

/**
 * One seeded program: `points` fingerprints every instruction's crash point (with a hook
 * on the device, as the crash engine runs it), `steps` what the device holds after each
 * call of the program and at its end (the same with or without a hook: `hooked` false lets
 * the device take the paths it takes when nothing watches it, `cleanEach` and
 * memcpy_flushcache in one step). `drained` issues a full barrier before each
 * memcpyFlushcache and clearPmem and uses linux-arm64 on Arm (a program of its own: its points are not
 * in the fixture).
 */
function runProgram(profile: ProfileName, seed: number, hooked = true, drained = false): { points: string; steps: string } {
  const rng = Rng.fromSeed(`fingerprint-${profile}-${seed}`);
  const hash = createHash('sha256');
  const steps = createHash('sha256');
  let deepEvery = 17;
  const device = new PmemDevice({
    sizeBytes: DEVICE_BYTES,
    profile,
    seed: `device-${seed}`,
    eviction: seed % 3 !== 2,
    ...(hooked ? { onInstruction: (instruction: number, d: PmemDevice) => fingerprintPoint(d, hash, instruction % deepEvery === 0) } : {}),
  });
  const flavours = flavoursFor(device);
  // `drained` programs on Arm all take Linux's flavour, the one with a one-step path
  const api = pmemApi(drained && device.profile.isa === 'arm' ? 'linux-arm64' : flavours[seed % flavours.length], device);
  const bytes = (n: number): Uint8Array => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = rng.below(256);
    return b;
  };
  const addr = (len: number): number => rng.below(REGION - len);
  for (let step = 0; step < STEPS; step++) {
    const choice = rng.below(14);
    try {
      switch (choice) {
        case 0: case 1: { const n = 1 + rng.below(rng.bool(0.3) ? 6000 : 200); device.store(addr(n), bytes(n)); break; }
        case 2: case 3: {
          const n = 1 + rng.below(rng.bool(0.4) ? 5000 : 300);
          // `drained`: nothing pending before it, as on a file system's commit path
          if (drained) { if (device.profile.isa === 'arm') device.dsb('sy'); else device.mfence(); }
          api.memcpyFlushcache(addr(n), bytes(n));
          break;
        }
        case 4: { const n = 1 + rng.below(4096); api.wbCachePmem(addr(n), n); break; }
        case 5: api.pmemWmb(); break;
        case 6: {
          const n = 1 + rng.below(2000);
          if (drained) { if (device.profile.isa === 'arm') device.dsb('sy'); else device.mfence(); }
          api.clearPmem(addr(n), n);
          break;
        }
        case 7: if (rng.bool(0.3)) { const n = 1 + rng.below(300); api.invalidatePmem(addr(n), n); } break;
        case 8: api.nvdimmFlush(); break;
        case 9: if (device.profile.isa === 'arm') device.dsb(BARRIER_KINDS[rng.below(BARRIER_KINDS.length)]); else device.sfence(); break;
        case 10: if (device.profile.isa === 'arm') device.dmb(BARRIER_KINDS[rng.below(BARRIER_KINDS.length)]); else device.mfence(); break;
        case 11: {
          const a = addr(1);
          if (device.profile.isa === 'arm') [() => device.dcCvac(a), () => device.dcCvap(a), () => device.dcCivac(a), () => device.dcCvau(a), () => device.dcZva(a), () => device.dcCvadp(a)][rng.below(6)]();
          else [() => device.clwb(a), () => device.clflushopt(a), () => device.clflush(a)][rng.below(3)]();
          break;
        }
        case 12: if (device.profile.isa === 'x86') { const n = 1 + rng.below(600); device.movnti(addr(n), bytes(n)); } break;
        case 13: deepEvery = 11 + rng.below(13); break;
      }
    } catch (err) {
      if ((err as Error).name !== 'UndefinedInstruction') throw err;
      hash.update(`U${(err as Error).message};`);
      steps.update(`U${(err as Error).message};`);
    }
    fingerprintPoint(device, steps, false);
    steps.update(device.coherent.read(0, REGION));
  }
  const trace = device.trace;
  for (const h of [hash, steps]) {
    fingerprintPoint(device, h, true);
    if (trace) for (const e of trace.slice()) h.update(`${e.instruction} ${e.kind} ${e.op} ${e.addr} ${e.length} ${e.ref} ${e.detail};`);
    h.update(JSON.stringify(device.stats));
  }
  return { points: hash.digest('hex'), steps: steps.digest('hex') };
}

/**
 * A watched program's run (hooked, as the fixture's), made once: the fixture test takes its
 * points, the watched-versus-unwatched test its steps (both come from the same run).
 */
const watchedRuns = new Map<string, { points: string; steps: string }>();
function watchedRun(profile: ProfileName, seed: number, drained: boolean): { points: string; steps: string } {
  const key = `${profile}#${seed}${drained ? ' drained' : ''}`;
  let run = watchedRuns.get(key);
  if (run === undefined) {
    run = runProgram(profile, seed, true, drained);
    watchedRuns.set(key, run);
  }
  return run;
}

/** Whole units through the crash engine (recording, reduction, recovery, findings, tokens). */
const UNITS: ReadonlyArray<{ suite: 'bounded-2' | 'apps'; index: number; pmemApi: 'linux-arm64' | 'linux-arm64-nosync' | 'linux-x86'; profile: ProfileName; policy: 'ordered' | 'unordered'; canary?: CanaryName }> = [
  { suite: 'bounded-2', index: 7, pmemApi: 'linux-arm64', profile: 'armv8.2', policy: 'ordered' },
  { suite: 'bounded-2', index: 40, pmemApi: 'linux-arm64-nosync', profile: 'armv8.2', policy: 'unordered' },
  { suite: 'bounded-2', index: 11, pmemApi: 'linux-x86', profile: 'x86-adr', policy: 'ordered', canary: 'x86-no-sfence-before-commit' },
  { suite: 'apps', index: 0, pmemApi: 'linux-arm64', profile: 'armv8.2', policy: 'ordered', canary: 'data-not-flushed' },
];

function unitFingerprint(u: (typeof UNITS)[number]): string {
  const workload = workloadSpace({ suite: u.suite }).workload(u.index);
  const result = withCanary(u.canary, () => runUnit(workload, {
    setup: { profile: u.profile, pmemApi: u.pmemApi, policy: u.policy, flushHint: false },
    deviceBytes: 64 << 20,
    seed: 'fingerprint',
    e2fsck: 'none',
    states: { kind: 'bounded', k: 2, limit: 16 },
  }));
  const json = JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  return createHash('sha256').update(json).digest('hex');
}

function allFingerprints(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const profile of PROFILE_NAMES) for (let seed = 0; seed < PROGRAMS_PER_PROFILE; seed++) out[`${profile}#${seed}`] = watchedRun(profile, seed, false).points;
  for (const u of UNITS) out[`unit ${u.suite}#${u.index} ${u.profile} ${u.pmemApi} ${u.policy} ${u.canary ?? ''}`] = unitFingerprint(u);
  return out;
}

describe('the device representation keeps the model', () => {
  it('every crash point of seeded random programs on every profile, and whole engine units, match model revision 3', () => {
    const got = allFingerprints();
    if (process.env.DAXCRASH_WRITE_FINGERPRINTS === '1') {
      fs.mkdirSync(path.dirname(FIXTURE), { recursive: true });
      fs.writeFileSync(FIXTURE, `${JSON.stringify(got, null, 2)}\n`);
    }
    const want = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Record<string, string>;
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    const differing = Object.keys(want).filter((k) => got[k] !== want[k]);
    expect(differing).toEqual([]);
  }, 300_000);

  it('a device nothing watches (clean loops and memcpy_flushcache in one step) ends every call as a watched one does', () => {
    const atOnce = jest.spyOn(PmemDevice.prototype as unknown as OneStep, 'storeCleanDsbAtOnce');
    let bulk = 0;
    let taken = 0;
    try {
      for (const drained of [false, true]) {
        for (const profile of PROFILE_NAMES) {
          for (let seed = 0; seed < PROGRAMS_PER_PROFILE; seed++) {
            const unwatched = runProgram(profile, seed, false, drained).steps;
            taken += atOnce.mock.results.filter((r) => r.value === true).length;
            atOnce.mockClear();
            expect([profile, seed, drained, unwatched]).toEqual([profile, seed, drained, watchedRun(profile, seed, drained).steps]);
            bulk++;
          }
        }
      }
    } finally {
      atOnce.mockRestore();
    }
    expect(bulk).toBe(2 * PROFILE_NAMES.length * PROGRAMS_PER_PROFILE);
    // the programs take the one-step memcpy_flushcache (watched devices never do)
    expect(taken).toBeGreaterThan(50);
    // the one-step paths are taken: a 4 KiB memcpyFlushcache on an unwatched device
    const device = new PmemDevice({ sizeBytes: DEVICE_BYTES, profile: 'armv8.2' });
    const clean = jest.spyOn(device as unknown as { clean: () => void }, 'clean');
    const store = jest.spyOn(device, 'store');
    pmemApi('linux-arm64', device).memcpyFlushcache(0, new Uint8Array(4096).fill(1));
    expect(clean).not.toHaveBeenCalled();
    expect(store).not.toHaveBeenCalled();
    expect(device.trace?.length).toBe(1 + 64 + 1);
    // and clearPmem (store, DMB OSH, the clean loop, DSB SY)
    pmemApi('linux-arm64', device).clearPmem(4096 + 100, 200);
    expect(store).not.toHaveBeenCalled();
    expect(device.trace?.length).toBe(66 + 1 + 1 + 4 + 1);
  }, 120_000);

  it('the comparison of watched and unwatched devices fails when the one-step memcpy_flushcache counts one clean too many', () => {
    const proto = PmemDevice.prototype as unknown as OneStep;
    const original = proto.storeCleanDsbAtOnce;
    const broken = jest.spyOn(proto, 'storeCleanDsbAtOnce').mockImplementation(function (this: PmemDevice, ...args: unknown[]) {
      const done = original.apply(this, args);
      if (done) this.stats.cleans++;
      return done;
    });
    try {
      const differs = PROFILE_NAMES.some((profile) => runProgram(profile, 0, false, true).steps !== runProgram(profile, 0, true, true).steps);
      expect(differs).toBe(true);
    } finally {
      broken.mockRestore();
    }
  });

  it('a fingerprint tells a clean to the PoC from one to the PoP (the check can fail)', () => {
    const digestAfter = (clean: (d: PmemDevice) => void): string => {
      const hash = createHash('sha256');
      const device = new PmemDevice({ sizeBytes: DEVICE_BYTES, profile: 'armv8.2' });
      device.store(0, new Uint8Array([1, 2, 3]));
      clean(device);
      fingerprintPoint(device, hash, true);
      return hash.digest('hex');
    };
    expect(digestAfter((d) => d.dcCvap(0))).not.toEqual(digestAfter((d) => d.dcCvac(0)));
  });
});
