/**
 * Speed work on the file system may change how it computes what to write, never what it
 * writes. This test runs workloads that work the journal hard and fingerprints, for each, the
 * device's event trace with the bytes of every store (kind, op, address, length, unit and
 * pending ids, snapshot versions, markers, in order), the lines of the media the run read
 * (device/read-trace.ts: the crash engine's reduction rests on them), the device's counters,
 * and the final coherent and guaranteed media; every crash state, count, token and finding is
 * a function of these. The fingerprints are kept in test/fixtures/fs-trace-fingerprints.json, written by the
 * file system before its speed work; any difference fails here and names the workload.
 *
 * The workloads: `bench:fs`'s mix at small scale (lazy and eager checkpoints, ordered and
 * unordered, on 1 GiB and on 16 MiB, where the 1024-block journal wraps and commits
 * checkpoint for room); every shapes workload (revokes, truncates, directories past one
 * block, other groups, a wrapping log) and every apps workload; seeded random workloads on
 * several setups; bounded-2 samples; recoveries: power failures at seeded points of some of
 * these, each crash image mounted (journal replay), used and unmounted on a traced device; and
 * every canary (a deliberately broken file system) on the mix and on a workload with revokes.
 *
 * Regenerate only when what the file system writes changes on purpose:
 * DAXCRASH_WRITE_FINGERPRINTS=1 npx jest test/fs/trace-fingerprint.test.ts
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PmemDevice, PowerFailure, mediaDigest } from '../../device';
import type { MediaSource, PmemApiName, ProfileName } from '../../device';
import { mount } from '../../fs/mount';
import type { CheckpointMode } from '../../fs/journal';
import type { FlushPolicy } from '../../fs/policy';
import { applyOp, workloadSpace } from '../../workloads';
import type { Handles, SuiteName, Workload } from '../../workloads';
import { baseImage } from '../../crash/setup';
import { ReadTrace } from '../../device/read-trace';
import { MixFs, MixOptions, runMix } from '../../bench/fs-mix';
import { CANARIES, withCanary } from '../../core/canary';
import type { CanaryName } from '../../core/canary';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'fs-trace-fingerprints.json');
const SMALL = 16 << 20;
const LARGE = 1 << 30;

interface Setup {
  readonly deviceBytes: number;
  readonly profile: ProfileName;
  readonly pmemApi: PmemApiName;
  readonly policy: FlushPolicy;
  readonly checkpoint: CheckpointMode;
}

const ARM_ORDERED: Setup = { deviceBytes: SMALL, profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', checkpoint: 'lazy' };

/** What a run does on a mounted file system. */
type Body = (fs: MixFs & Parameters<typeof applyOp>[0]) => void;

/**
 * Hashes the device's trace as it grows: called before each instruction, it takes every
 * event recorded since the last call, and for a store (or DC ZVA) the bytes it stored, read
 * from the coherent memory before anything else can store over them.
 */
function traceHasher(): { onInstruction: (instruction: number, device: PmemDevice) => void; finish: (device: PmemDevice, reads: ReadTrace) => string } {
  const hash = createHash('sha256');
  let seen = 0;
  const drain = (device: PmemDevice) => {
    const trace = device.trace;
    if (trace === undefined) throw new Error('the fingerprint needs the event trace');
    for (; seen < trace.length; seen++) {
      const e = trace.get(seen);
      hash.update(`${e.instruction} ${e.kind} ${e.op} ${e.addr} ${e.length} ${e.ref} ${e.detail} ${e.label ?? ''};`);
      if (e.kind === 'store' || e.kind === 'movnti' || (e.kind === 'dc' && e.op === 'zva')) hash.update(device.coherent.read(e.addr, e.length));
    }
  };
  return {
    onInstruction: (_instruction, device) => drain(device),
    finish: (device, reads) => {
      drain(device);
      // what the run read of the media: the crash engine's reduction rests on it
      hash.update(`reads ${JSON.stringify(reads.structural().ranges())} content ${[...reads.content].sort((a, b) => a - b).join(',')};`);
      hash.update(JSON.stringify(device.stats));
      hash.update(`coherent ${mediaDigest(device.coherent)} guaranteed ${mediaDigest(device.guaranteedMedia())}`);
      return hash.digest('hex');
    },
  };
}

/**
 * Mounts `setup` over `media` on a traced device, runs `body`, unmounts, and returns the
 * fingerprint; with `powerFailAt`, the run stops there and the crash image drawn from
 * `crashSeed` is returned too (the fingerprint then covers the run up to the failure).
 */
function fingerprintRun(setup: Setup, media: MediaSource, body: Body, crash?: { at: number; seed: string }): { fingerprint: string; instructions: number; image?: MediaSource } {
  const hasher = traceHasher();
  const reads = new ReadTrace(media.sizeBytes);
  const device = new PmemDevice({
    media, profile: setup.profile, seed: 'fingerprint', onInstruction: hasher.onInstruction, readTrace: reads,
    ...(crash === undefined ? {} : { powerFailAt: crash.at }),
  });
  try {
    const ours = mount(device, { policy: setup.policy, pmemApi: setup.pmemApi, checkpoint: setup.checkpoint, seed: 'fingerprint' });
    body(ours as unknown as MixFs & Parameters<typeof applyOp>[0]);
    ours.unmount();
  } catch (error) {
    if (!(crash !== undefined && error instanceof PowerFailure)) throw error;
    const image = device.drawCrashImage(crash.seed).detach();
    return { fingerprint: hasher.finish(device, reads), instructions: device.instructionCount, image };
  }
  return { fingerprint: hasher.finish(device, reads), instructions: device.instructionCount };
}

function mixBody(o: MixOptions): Body {
  return (ours) => {
    ours.mkdirSync('/bench', { recursive: true });
    runMix(ours, '/bench', 0, o);
  };
}

function workloadBody(w: Workload): Body {
  return (ours) => {
    const handles: Handles = new Map();
    for (const op of w.ops) applyOp(ours, op, handles);
  };
}

interface Case {
  readonly name: string;
  readonly setup: Setup;
  readonly body: Body;
  /** Power failures at these fractions of the run's instructions, each image recovered. */
  readonly crashes?: readonly number[];
  /** A deliberately broken file system (core/canary.ts): what it writes is pinned too. */
  readonly canary?: CanaryName;
}

function workload(suite: SuiteName, index: number, seed?: string, length?: number): Workload {
  return workloadSpace(suite === 'random' ? { suite, length: length ?? 40 } : { suite }).workload(index, seed);
}

function cases(): Case[] {
  const out: Case[] = [];
  const large = { ...ARM_ORDERED, deviceBytes: LARGE };
  const mix = (name: string, setup: Setup, rounds: number, crashes?: number[]) => out.push({ name: `mix ${rounds} ${name}`, setup, body: mixBody({ rounds, window: 64 }), ...(crashes ? { crashes } : {}) });
  mix('1 GiB lazy ordered', large, 160, [0.5]);
  mix('1 GiB eager ordered', { ...large, checkpoint: 'eager' }, 80);
  mix('1 GiB lazy unordered', { ...large, policy: 'unordered', pmemApi: 'linux-arm64-nosync' }, 80);
  mix('16 MiB lazy ordered (the log wraps)', ARM_ORDERED, 400, [0.37, 0.81]);
  mix('16 MiB eager ordered', { ...ARM_ORDERED, checkpoint: 'eager' }, 120, [0.6]);
  mix('16 MiB lazy unordered (the log wraps)', { ...ARM_ORDERED, policy: 'unordered' }, 300, [0.55]);
  mix('16 MiB lazy ordered x86-adr', { ...ARM_ORDERED, profile: 'x86-adr', pmemApi: 'linux-x86' }, 200);
  const shapes = workloadSpace({ suite: 'shapes' });
  for (let i = 0; i < shapes.size; i++) {
    const w = shapes.workload(i);
    out.push({ name: `${w.name} 16 MiB lazy ordered`, setup: ARM_ORDERED, body: workloadBody(w), crashes: [0.3, 0.7] });
    out.push({ name: `${w.name} 1 GiB lazy unordered`, setup: { ...large, policy: 'unordered' }, body: workloadBody(w) });
  }
  for (const i of [3, 9]) out.push({ name: `${shapes.workload(i).name} 16 MiB eager ordered`, setup: { ...ARM_ORDERED, checkpoint: 'eager' }, body: workloadBody(shapes.workload(i)), crashes: [0.5] });
  const apps = workloadSpace({ suite: 'apps' });
  for (let i = 0; i < apps.size; i++) out.push({ name: `${apps.workload(i).name} 16 MiB lazy ordered`, setup: ARM_ORDERED, body: workloadBody(apps.workload(i)) });
  const setups: Array<[string, Setup]> = [
    ['16 MiB lazy ordered', ARM_ORDERED],
    ['16 MiB lazy unordered', { ...ARM_ORDERED, policy: 'unordered' }],
    ['16 MiB eager ordered', { ...ARM_ORDERED, checkpoint: 'eager' }],
    ['1 GiB lazy ordered x86-adr', { ...large, profile: 'x86-adr', pmemApi: 'linux-x86' }],
  ];
  for (let seed = 0; seed < 8; seed++) {
    const [label, setup] = setups[seed % setups.length];
    const w = workload('random', seed, `fingerprint-${seed}`, 80);
    out.push({ name: `random#${seed} ${label}`, setup, body: workloadBody(w), ...(seed % 3 === 0 ? { crashes: [0.5] } : {}) });
  }
  for (const i of [5, 77, 301, 1234]) out.push({ name: `bounded-2#${i} 16 MiB lazy ordered`, setup: ARM_ORDERED, body: workloadBody(workload('bounded-2', i)) });
  const treeBlockReused = shapes.workload(10);
  for (const { name: canary } of CANARIES) {
    const setup: Setup = canary.startsWith('x86') ? { ...ARM_ORDERED, profile: 'x86-adr', pmemApi: 'linux-x86' } : ARM_ORDERED;
    out.push({ name: `canary ${canary}: mix 150`, setup, body: mixBody({ rounds: 150, window: 64 }), crashes: [0.5], canary });
    out.push({ name: `canary ${canary}: ${treeBlockReused.name}`, setup, body: workloadBody(treeBlockReused), crashes: [0.8], canary });
  }
  return out;
}

/** Every fingerprint of one case: its run, and each crash image's recovery and use. */
function fingerprintCase(c: Case, out: Record<string, string>): void {
  const media = baseImage(c.setup.deviceBytes);
  const whole = fingerprintRun(c.setup, media, c.body);
  out[c.name] = whole.fingerprint;
  for (const fraction of c.crashes ?? []) {
    const at = Math.floor(whole.instructions * fraction);
    const crashed = fingerprintRun(c.setup, media, c.body, { at, seed: `crash-${fraction}` });
    expect(crashed.image).toBeDefined();
    // the recovered file system is used a little, then unmounted cleanly
    const after = fingerprintRun(c.setup, crashed.image as MediaSource, (ours) => {
      ours.mkdirSync('/after', { recursive: true });
      runMix(ours, '/after', 1, { rounds: 12, window: 4 });
    });
    out[`${c.name} crash@${fraction}`] = `${crashed.fingerprint} ${after.fingerprint}`;
  }
}

/** `fingerprintCase` under the case's canary; a canary whose broken file system fails outright is fingerprinted by its error. */
function fingerprintCanaryCase(c: Case, out: Record<string, string>): void {
  try {
    withCanary(c.canary, () => fingerprintCase(c, out));
  } catch (error) {
    out[`${c.name} failed`] = `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('what the file system writes', () => {
  it('every store, clean and barrier of journal-heavy workloads, with its bytes, matches the fixture', () => {
    const got: Record<string, string> = {};
    for (const c of cases()) if (c.canary === undefined) fingerprintCase(c, got); else fingerprintCanaryCase(c, got);
    if (process.env.DAXCRASH_WRITE_FINGERPRINTS === '1') fs.writeFileSync(FIXTURE, `${JSON.stringify(got, null, 2)}\n`);
    const want = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Record<string, string>;
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    expect(Object.keys(want).filter((k) => got[k] !== want[k])).toEqual([]);
  }, 600_000);

  it('a fingerprint tells apart two runs that store one byte differently at the same place (the check can fail)', () => {
    const run = (byte: number) => fingerprintRun(ARM_ORDERED, baseImage(SMALL), (ours) => {
      const fd = ours.openSync('/f', 'w');
      ours.writeSync(fd, new Uint8Array(100).fill(7).fill(byte, 50, 51), 0, 100, 0);
      ours.fsyncSync(fd);
      ours.closeSync(fd);
    }).fingerprint;
    expect(run(7)).toEqual(run(7));
    expect(run(8)).not.toEqual(run(7));
  });
});
