/**
 * Campaign plans: (seeds x suites x workloads x setups) as an ordered list of units, each one
 * workload on one setup (profile, pmem API flavour, policy), with a stable id; and the
 * deterministic slice of a plan that one shard runs.
 *
 * Order: seed; within a seed the suites take turns, one workload each (in the order given);
 * within a workload its setups (profile, flavour, policy, in the order given). A catalogue
 * suite's workloads come in a spread order (`spreadIndex`: workload 0 first, then across the
 * whole catalogue), random ones and a file's in their own order. So a run cut short by a
 * budget or `--limit`, or `--workloads N`, meets every suite and every kind of operation
 * early, not the first entries of the first suite only. The setup is innermost so that a
 * time-budgeted run finishes every setup of a workload before drawing the next workload, and
 * a resumed run continues after the last.
 * Shard i of N takes the units whose index is i mod N: every shard gets a similar mix.
 *
 * Invariants: a unit's id and index depend on the plan's parameters only (never on workers,
 * shards or time); sharing of identical images stays inside a unit (engine.ts), so the counts
 * of a unit never depend on how the plan is split. Setups a flavour cannot run on (the
 * profile's ISA lacks its instructions) are left out of the plan and listed as skipped.
 *
 * `--suite mmap` units run the DAX mmap record-then-flag workloads (mmap.ts): one unit per
 * drain and profile; they have no flavour or policy.
 */
import { createHash } from 'node:crypto';
import { UsageError } from '../core/errors';
import { PmemDevice, UndefinedInstruction } from '../device/device';
import { PMEM_API_NAMES, PmemApiName, pmemApi } from '../device/pmem-api';
import { PROFILE_NAMES, ProfileName } from '../device/profiles';
import type { FlushPolicy } from '../fs/mount';
import { SUITE_NAMES, SuiteName, workloadSpace } from '../workloads/generators';
import type { Op, Workload } from '../workloads/ops';
import { MountSetup, POLICY_NAMES, setupLabel } from './setup';

export { POLICY_NAMES };
import type { CrashPointChoice, E2fsckChoice, StateChoice } from './engine';
import { MMAP_DRAINS, MmapDrain } from './mmap';
import { TokenError, WorkloadRef, checkOps, workloadOf } from './token';
import type { FeatureProfile } from '../fs/mkfs';

/** Records each mmap unit writes and persists. */
export const MMAP_RECORDS = 4;
/** Random workloads a run without a time budget draws per seed, unless told. */
export const DEFAULT_RANDOM_WORKLOADS = 32;
/** A workload file larger than this is refused before parsing. */
export const MAX_WORKLOAD_FILE_BYTES = 16 << 20;
/** Bounds on what a workload file may ask a unit to write (a named limit, not a guess). */
const MAX_FILE_OPS = 10_000;
const MAX_OP_LENGTH = 4 << 20;

/** A suite of the generators, the mmap workloads, or workloads read from a file. */
export type SuiteSpec =
  | { readonly kind: 'generated'; readonly suite: SuiteName; readonly stride?: number }
  | { readonly kind: 'mmap' }
  | { readonly kind: 'file'; readonly label: string; readonly workloads: readonly Workload[] };

/** Everything that decides which units a run has and what each computes. */
export interface PlanParams {
  readonly seeds: readonly string[];
  readonly suites: readonly SuiteSpec[];
  readonly profiles: readonly ProfileName[];
  readonly pmemApis: readonly PmemApiName[];
  readonly policies: readonly FlushPolicy[];
  readonly flushHint: boolean;
  readonly points: CrashPointChoice;
  readonly states: StateChoice;
  readonly e2fsck: E2fsckChoice;
  readonly deviceBytes: number;
  /** The base image's feature profile (crash/setup.ts `baseImage`): `minimal` (the subset) or mkfs.ext4's `default`. */
  readonly features: FeatureProfile;
  /** N workloads of each suite, the first N in plan order (spread over a catalogue: `spreadIndex`; random: N drawn); Infinity: all (random: endless). */
  readonly workloadsPerSuite: number;
  /** The plan ends after this many units (before sharding); Infinity: no cut. */
  readonly limit: number;
}

export type UnitSpec =
  | {
    readonly kind: 'fs';
    readonly index: number;
    readonly id: string;
    readonly seed: string;
    readonly workload: WorkloadRef;
    readonly setup: MountSetup;
  }
  | {
    readonly kind: 'mmap';
    readonly index: number;
    readonly id: string;
    readonly seed: string;
    readonly drain: MmapDrain;
    readonly profile: ProfileName;
  };

export interface Shard {
  /** 0-based. */
  readonly index: number;
  readonly count: number;
}

export interface SkippedSetup {
  readonly setup: string;
  readonly reason: string;
}

export interface Plan {
  readonly params: PlanParams;
  /** Units in plan order (all shards); Infinity for an endless random suite. */
  readonly size: number;
  readonly setups: readonly MountSetup[];
  readonly mmapSetups: readonly { readonly drain: MmapDrain; readonly profile: ProfileName }[];
  readonly skipped: readonly SkippedSetup[];
  /** Units in plan order from `start`, stopping at `end` (exclusive). */
  units(start?: number, end?: number): Generator<UnitSpec>;
}

export function makePlan(params: PlanParams): Plan {
  const skipped: SkippedSetup[] = [];
  const setups: MountSetup[] = [];
  const needsFs = params.suites.some((s) => s.kind !== 'mmap');
  const needsMmap = params.suites.some((s) => s.kind === 'mmap');
  for (const profile of params.profiles) {
    for (const api of params.pmemApis) {
      const why = needsFs ? flavourProblem(api, profile) : undefined;
      if (why !== undefined) {
        skipped.push({ setup: `${profile} ${api}`, reason: `${api} cannot run on ${profile}: ${why}` });
        continue;
      }
      if (needsFs) for (const policy of params.policies) setups.push({ profile, pmemApi: api, policy, flushHint: params.flushHint });
    }
  }
  const mmapSetups: { drain: MmapDrain; profile: ProfileName }[] = [];
  if (needsMmap) {
    for (const profile of params.profiles) {
      for (const drain of MMAP_DRAINS) {
        const why = drainProblem(drain, profile);
        if (why === undefined) mmapSetups.push({ drain, profile });
        else skipped.push({ setup: `${profile} mmap ${drain}`, reason: why });
      }
    }
  }
  const blocks = params.seeds.flatMap((seed) => params.suites.map((suite) => ({ seed, suite, ...blockShape(suite, params, setups, mmapSetups) })));
  const size = Math.min(params.limit, blocks.reduce((n, b) => n + b.workloads * b.perWorkload, 0));

  function* units(start = 0, stop = Infinity): Generator<UnitSpec> {
    const end = Math.min(stop, size);
    let index = 0;
    for (const seed of params.seeds) {
      // this seed's suites take turns, a workload (all its setups) at a time
      const mine = blocks.filter((b) => b.seed === seed);
      const next = mine.map(() => 0);
      for (let turn = true; turn;) {
        turn = false;
        for (let b = 0; b < mine.length; b++) {
          const block = mine[b];
          if (next[b] >= block.workloads) continue;
          turn = true;
          const w = next[b]++;
          if (index + block.perWorkload <= start) {
            index += block.perWorkload;
            continue;
          }
          for (let s = 0; s < block.perWorkload; s++, index++) {
            if (index >= end) return;
            if (index >= start) yield unitAt(block, w, s, index);
          }
        }
      }
    }
  }

  function unitAt(block: (typeof blocks)[number], w: number, s: number, index: number): UnitSpec {
    const { seed, suite } = block;
    if (suite.kind === 'mmap') {
      const { drain, profile } = mmapSetups[s];
      return { kind: 'mmap', index, id: `${seed}/mmap/${profile}/${drain}`, seed, drain, profile };
    }
    const setup = setups[s];
    const setupId = setupLabel(setup);
    if (suite.kind === 'file') {
      const workload = suite.workloads[w];
      return { kind: 'fs', index, id: `${seed}/${suite.label}#${w}/${setupId}`, seed, workload: { ops: workload.ops, name: workload.name }, setup };
    }
    const stride = suite.stride ?? 1;
    const at = suite.suite === 'random' ? w : spreadIndex(w, block.catalogue) * stride;
    const ref: WorkloadRef = suite.suite === 'random' ? { suite: 'random', index: at, seed } : { suite: suite.suite, index: at };
    return { kind: 'fs', index, id: `${seed}/${suite.suite}#${at}/${setupId}`, seed, workload: ref, setup };
  }

  return { params, size, setups, mmapSetups, skipped, units };
}

/** The workloads a suite holds and the units each makes. */
/** A suite's units: its workloads, the units of each, and (generated) the workloads of its whole catalogue (stride applied). */
function blockShape(suite: SuiteSpec, params: PlanParams, setups: readonly MountSetup[], mmapSetups: readonly unknown[]): { workloads: number; perWorkload: number; catalogue: number } {
  switch (suite.kind) {
    case 'mmap': return { workloads: 1, perWorkload: mmapSetups.length, catalogue: 1 };
    case 'file': return { workloads: Math.min(params.workloadsPerSuite, suite.workloads.length), perWorkload: setups.length, catalogue: suite.workloads.length };
    case 'generated': {
      const catalogue = Math.ceil(workloadSpace({ suite: suite.suite }).size / (suite.stride ?? 1));
      const workloads = Math.min(params.workloadsPerSuite, catalogue);
      return { workloads: setups.length === 0 ? 0 : workloads, perWorkload: setups.length, catalogue };
    }
  }
}

/**
 * The `w`-th workload a plan takes from a catalogue of `n` (bounded suites, apps, shapes):
 * w times a step near n / phi, modulo n, with the step prime to n, so every workload comes
 * once and the first few lie spread across the catalogue (which is grouped by operation
 * kind) instead of all among its first entries. Workload 0 stays first.
 */
export function spreadIndex(w: number, n: number): number {
  if (n <= 2) return w;
  let step = Math.round(n * 0.6180339887498949);
  while (gcd(step, n) !== 1) step++;
  return (w * step) % n;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The deterministic slice of a shard: units whose plan index is `index` mod `count`. */
export function inShard(unitIndex: number, shard: Shard | undefined): boolean {
  return shard === undefined || unitIndex % shard.count === shard.index;
}

/** The workload of a unit (generated again from its reference, or its own operations). */
export function unitWorkload(ref: WorkloadRef): Workload {
  return workloadOf(ref);
}

// ------------------------------------------------------------------------ what runs where

/** Why a flavour cannot run on a profile (its ISA lacks an instruction it issues), or undefined. */
export function flavourProblem(api: PmemApiName, profile: ProfileName): string | undefined {
  return probe(profile, (device) => {
    const pmem = pmemApi(api, device);
    pmem.memcpyFlushcache(0, new Uint8Array(64));
    pmem.wbCachePmem(0, 64);
    pmem.pmemWmb();
  });
}

/** Why an mmap drain cannot run on a profile, or undefined (the instructions mmap.ts issues). */
export function drainProblem(drain: MmapDrain, profile: ProfileName): string | undefined {
  return probe(profile, (device) => {
    if (drain === 'cvap-dsb') { device.dcCvap(0); device.dsb('sy'); }
    else if (drain === 'pmdk-arm64-2020') { device.dcCvac(0); device.dmb('ishst'); }
    else if (drain === 'pmdk-arm64-2021') { device.dcCvap(0); device.dmb('ishst'); }
    else { device.clwb(0); device.sfence(); }
  });
}

function probe(profile: ProfileName, run: (device: PmemDevice) => void): string | undefined {
  const device = new PmemDevice({ sizeBytes: 1 << 16, profile, trace: false });
  try {
    device.store(0, new Uint8Array(64));
    run(device);
    return undefined;
  } catch (err) {
    if (err instanceof UndefinedInstruction) return err.message;
    throw err;
  }
}

// ------------------------------------------------------------------------ parsing user input

/** `all`, one name, or a comma list, each name checked against `names`. */
export function parseList<T extends string>(value: string, names: readonly T[], what: string): T[] {
  if (value === 'all') return [...names];
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) throw new UsageError(`${what}: empty list`, `give one of: all, ${names.join(', ')}`);
  const out: T[] = [];
  for (const p of parts) {
    if (!(names as readonly string[]).includes(p)) throw new UsageError(`${what}: unknown value '${p}'`, `expected all, or a comma list of: ${names.join(', ')}`);
    if (!out.includes(p as T)) out.push(p as T);
  }
  return out;
}

export const PROFILES = PROFILE_NAMES;
export const PMEM_APIS = PMEM_API_NAMES;
export const GENERATED_SUITES: readonly SuiteName[] = SUITE_NAMES;

/** `i/N` with 0 <= i < N. */
export function parseShard(value: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (m === null) throw new UsageError(`--shard: '${value}' is not of the form i/N`, 'for example --shard 0/4 (shards are numbered from 0)');
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || count > 1_000_000) throw new UsageError(`--shard: ${count} shards is out of range (1 to 1000000)`);
  if (index >= count) throw new UsageError(`--shard: shard ${index} does not exist in ${count} shards`, `shards are numbered 0 to ${count - 1}`);
  return { index, count };
}

/** A workload JSON file: one workload `{name?, ops}`, a list of them, or `{workloads: [...]}`. */
export function parseWorkloadFile(text: string, file: string): Workload[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file}: not valid JSON (${(err as Error).message})`, 'a workload file holds {"name": ..., "ops": [...]} or a list of those');
  }
  const list: unknown[] = Array.isArray(data) ? data
    : typeof data === 'object' && data !== null && Array.isArray((data as { workloads?: unknown }).workloads) ? (data as { workloads: unknown[] }).workloads
      : [data];
  if (list.length === 0) throw new UsageError(`${file}: holds no workload`);
  return list.map((entry, w) => checkWorkload(entry, list.length === 1 ? file : `${file}: workload ${w}`, w));
}

function checkWorkload(entry: unknown, where: string, w: number): Workload {
  const hint = 'each workload is {"name": "...", "ops": [{"op": "creat", "path": "/a"}, ...]} (see workloads/ops.ts)';
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new UsageError(`${where}: a workload is an object with an "ops" list`, hint);
  const record = entry as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'name' && key !== 'ops') throw new UsageError(`${where}: unknown field '${key}'`, hint);
  }
  if (record.name !== undefined && typeof record.name !== 'string') throw new UsageError(`${where}: field 'name' is not a string`, hint);
  if (!Array.isArray(record.ops)) throw new UsageError(`${where}: field 'ops' is missing or not a list`, hint);
  if (record.ops.length > MAX_FILE_OPS) throw new UsageError(`${where}: ${record.ops.length} operations, more than ${MAX_FILE_OPS}`);
  try {
    checkOps(record.ops, (why) => new TokenError(why));
  } catch (err) {
    if (err instanceof TokenError) throw new UsageError(`${where}: ${err.message.replace(/^operation (\d+)/, "field 'ops[$1]'")}`, hint);
    throw err;
  }
  const ops = record.ops as Op[];
  ops.forEach((op, i) => {
    const bad = (why: string) => new UsageError(`${where}: field 'ops[${i}]' (${op.op}): ${why}`, hint);
    for (const key of ['path', 'from', 'to'] as const) {
      const value = (op as Record<string, unknown>)[key];
      if (typeof value === 'string' && !value.startsWith('/')) throw bad(`'${key}' must be an absolute path`);
    }
    for (const key of ['offset', 'length', 'tag'] as const) {
      const value = (op as Record<string, unknown>)[key];
      if (typeof value === 'number' && (value < 0 || value > MAX_OP_LENGTH * 64)) throw bad(`'${key}' ${value} is out of range (0 to ${MAX_OP_LENGTH * 64})`);
    }
    const length = (op as { length?: unknown }).length;
    if ((op.op === 'write' || op.op === 'pwrite' || op.op === 'read') && typeof length === 'number' && length > MAX_OP_LENGTH) throw bad(`'length' ${length} is more than ${MAX_OP_LENGTH}`);
  });
  return { name: typeof record.name === 'string' ? record.name : `workload ${w}`, ops };
}

/** A short label of a workload file's content (its unit ids do not depend on where it lies). */
export function workloadFileLabel(workloads: readonly Workload[]): string {
  return `file:${createHash('sha256').update(JSON.stringify(workloads)).digest('hex').slice(0, 12)}`;
}
