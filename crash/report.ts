/**
 * The campaign report: a stable, versioned schema (`daxcrash-report/1`, documented in
 * docs/report-schema.md) built from unit records (results.ts) and nothing else, so the report
 * of one run, of a resumed run, of any number of workers, and the merge of all its shards are
 * the same object, byte for byte once written.
 *
 * What it holds: the run's parameters; per combination (setup) the units, states checked,
 * the bound and coverage, G9 recovery states, unique images, findings per promise, failing
 * workloads and cost per operation; per kind of finding (promise x setup) the first finding
 * with its token, the shrunk token (shrink.ts, bounded tries), the repro command and what
 * that token's reproduction shows (timeline.ts, for renderers that draw it); the mmap
 * rows; the unit records themselves; and the results digest.
 *
 * Compatibility: fields are only ever added within version 1; a change of meaning or a removal
 * makes `daxcrash-report/2`. Renderers (text, JUnit, HTML) take a Report and nothing else.
 * Not in the report, on purpose: time, worker counts, paths, host names (they differ between
 * runs that computed the same results).
 */
import { assert } from '../core/assert';
import type { CrashState } from '../device/crash';
import type { ProfileName } from '../device/profiles';
import type { CrashPosition, PromiseId } from './check';
import { MountSetup, featuresField, parseSetupLabel, setupLabel } from './setup';

export { setupLabel };
import { PROMISES } from './check';
import type { CrashPointChoice, E2fsckChoice, StateChoice } from './engine';
import type { MmapDrain } from './mmap';
import type { Shard, SkippedSetup } from './plan';
import { unitWorkload } from './plan';
import { findingToken, reproRun } from './repro';
import { Timeline, reproductionTimeline } from './timeline';
import { FsUnitRecord, MmapUnitRecord, UnitEngineOptions, UnitRecord, recordFindings, resultsDigest } from './results';
import { shrink } from './shrink';
import type { WorkloadRef } from './token';

export const REPORT_SCHEMA = 'daxcrash-report/1';
/** Failing workload names a combination lists (all are counted). */
export const FAILING_NAMES_KEPT = 20;

export interface ReportRun {
  readonly seeds: readonly string[];
  /** Suite names; a workload file appears as `file:<sha256 prefix of its workloads>`. */
  readonly suites: readonly string[];
  readonly profiles: readonly ProfileName[];
  readonly pmemApis: readonly string[];
  readonly policies: readonly string[];
  readonly flushHint: boolean;
  readonly options: {
    readonly points: CrashPointChoice;
    readonly states: StateChoice;
    readonly e2fsck: E2fsckChoice;
    readonly deviceBytes: number;
    /** Present when the base image is mkfs.ext4's default profile; absent: the subset (`minimal`). */
    readonly features?: 'default';
    /** N workloads of each suite, in plan order (spread over a catalogue; random: N drawn); null: all (random: until the budget ran out). */
    readonly workloadsPerSuite: number | null;
    /** The plan cut after this many units (before sharding); null: no cut. */
    readonly limit: number | null;
    readonly shrinkTries: number;
  };
  /** The slice this report covers; null for the whole run (or every shard merged). */
  readonly shard: Shard | null;
  /** Units in the whole plan (every shard); null for an endless plan (time budget). */
  readonly plannedUnits: number | null;
  /** Setups in plan order, as `profile/pmemApi/policy[+hint]`. */
  readonly setups: readonly string[];
  readonly mmapSetups: readonly string[];
  readonly skipped: readonly SkippedSetup[];
}

export interface CostPerOp {
  readonly operations: number;
  readonly costNanosPerOp: number;
  readonly cleansPerOp: number;
  readonly barriersPerOp: number;
}

export interface ComboReport {
  readonly setup: MountSetup;
  readonly label: string;
  readonly units: number;
  readonly crashPoints: number;
  /** States judged directly. */
  readonly statesChecked: number;
  /** States judged or proven equivalent to a judged one; decimal string. */
  readonly statesCovered: string;
  /** Decimal string (may exceed 2^53); sampled runs: the full model's size. */
  readonly statesInBound: string;
  /** statesCovered / statesInBound, 1 when the bound is empty (sampled runs: draws over the full model). */
  readonly coverage: number;
  readonly recoveryStatesChecked: number;
  readonly recoveriesExplored: number;
  /** G9: replaying images not crashed (a replay already explored, or over the per-unit cap), and recovery crash points left out. */
  readonly recoveriesSkipped: number;
  readonly recoveryPointsSkipped: number;
  readonly uniqueImages: number;
  readonly e2fsckRuns: number;
  /** Recovered images e2fsck did not check (over the per-unit cap, or e2fsprogs missing). */
  readonly e2fsckSkipped: number;
  /** Units that asked for e2fsck where e2fsprogs was missing. */
  readonly e2fsckMissing: number;
  /** Every promise, 0 included. */
  readonly findingCounts: Readonly<Record<PromiseId, number>>;
  readonly failingWorkloads: number;
  /** The first FAILING_NAMES_KEPT of them, in unit order. */
  readonly failingWorkloadNames: readonly string[];
  readonly cost: CostPerOp;
}

export interface FirstFinding {
  readonly unit: string;
  readonly workload: string;
  readonly workloadRef: WorkloadRef;
  readonly position?: CrashPosition;
  readonly crashPoint?: number;
  readonly crashState?: CrashState;
  readonly diff: string;
  readonly token?: string;
}

export interface ShrunkFinding {
  readonly token: string;
  readonly operations: number;
  readonly originalOperations: number;
  readonly tries: number;
  readonly steps: readonly string[];
  readonly crashPoint: number;
  readonly diff: string;
}

export interface KindReport {
  readonly promise: PromiseId;
  readonly setup: string;
  /** Violations counted (every crash state that broke it). */
  readonly count: number;
  /** Units with at least one. */
  readonly units: number;
  readonly first: FirstFinding;
  /** null for G0 (no crash state) or when shrinking was off. */
  readonly shrunk: ShrunkFinding | null;
  /** The command that rebuilds it (the shrunk token when there is one); null for G0. */
  readonly repro: string | null;
  /** What that token's reproduction shows (events, word fates, operations); null for G0. */
  readonly timeline: Timeline | null;
}

export interface MmapComboReport {
  readonly drain: MmapDrain;
  readonly profile: ProfileName;
  readonly units: number;
  readonly statesChecked: number;
  readonly lostRecords: number;
  readonly firstLoss: string | null;
}

export interface ReportTotals {
  readonly units: number;
  readonly statesChecked: number;
  readonly findings: number;
  readonly failingUnits: number;
  readonly kinds: number;
}

export interface Report {
  readonly schema: typeof REPORT_SCHEMA;
  readonly tool: { readonly name: 'daxcrash'; readonly version: string };
  readonly run: ReportRun;
  /** Every unit the plan (or this shard of it) holds has a record; false for a time budget. */
  readonly complete: boolean;
  readonly totals: ReportTotals;
  readonly combos: readonly ComboReport[];
  readonly mmap: readonly MmapComboReport[];
  readonly kinds: readonly KindReport[];
  /** The canonical unit records, in unit order. */
  readonly units: readonly UnitRecord[];
  /** sha256 over the canonical unit records in unit order. */
  readonly digest: string;
}

/** Units of a plan of `planned` units that one shard holds. */
export function shardUnits(planned: number, shard: Shard | null): number {
  if (shard === null) return planned;
  return planned <= shard.index ? 0 : Math.floor((planned - 1 - shard.index) / shard.count) + 1;
}

export interface BuildOptions {
  readonly version: string;
  /** Called before each shrink (progress for a person). */
  readonly onShrink?: (kind: number, kinds: number, label: string) => void;
}

export function buildReport(run: ReportRun, records: readonly UnitRecord[], options: BuildOptions): Report {
  const units = [...records].sort((a, b) => a.index - b.index);
  const fs = units.filter((u): u is FsUnitRecord => u.kind === 'fs');
  const mm = units.filter((u): u is MmapUnitRecord => u.kind === 'mmap');
  const combos = run.setups.map((label) => comboOf(label, fs.filter((u) => setupLabel(u.setup) === label)));
  const mmap = run.mmapSetups.map((label) => mmapOf(label, mm));
  const kinds = kindsOf(run, fs, options);
  const expected = run.plannedUnits === null ? null : shardUnits(run.plannedUnits, run.shard);
  return {
    schema: REPORT_SCHEMA,
    tool: { name: 'daxcrash', version: options.version },
    run,
    complete: expected !== null && units.length === expected,
    totals: {
      units: units.length,
      statesChecked: units.reduce((n, u) => n + u.statesChecked, 0),
      findings: units.reduce((n, u) => n + recordFindings(u), 0),
      failingUnits: units.filter((u) => recordFindings(u) > 0).length,
      kinds: kinds.length,
    },
    combos,
    mmap,
    kinds,
    units,
    digest: resultsDigest(units),
  };
}

function comboOf(label: string, units: readonly FsUnitRecord[]): ComboReport {
  const setup = parseSetupLabel(label);
  const counts = Object.fromEntries(PROMISES.map((p) => [p, 0])) as Record<PromiseId, number>;
  let bound = 0n;
  let covered = 0n;
  let operations = 0;
  let nanos = 0;
  let cleans = 0;
  let barriers = 0;
  const failing: string[] = [];
  for (const u of units) {
    for (const p of PROMISES) counts[p] += u.findingCounts[p] ?? 0;
    bound += BigInt(u.statesInBound);
    covered += BigInt(u.statesCovered);
    operations += u.operations;
    nanos += u.cost.costNanos;
    cleans += u.cost.cleans;
    barriers += u.cost.barriers;
    if (recordFindings(u) > 0) failing.push(u.workloadName);
  }
  const statesChecked = units.reduce((n, u) => n + u.statesChecked, 0);
  const per = (x: number) => (operations === 0 ? 0 : round(x / operations));
  return {
    setup, label, units: units.length,
    crashPoints: units.reduce((n, u) => n + u.crashPoints, 0),
    statesChecked,
    statesCovered: covered.toString(),
    statesInBound: bound.toString(),
    coverage: bound === 0n ? 1 : ratio(covered, bound),
    recoveryStatesChecked: units.reduce((n, u) => n + u.recoveryStatesChecked, 0),
    recoveriesExplored: units.reduce((n, u) => n + u.recoveriesExplored, 0),
    recoveriesSkipped: units.reduce((n, u) => n + u.recoveriesSkipped, 0),
    recoveryPointsSkipped: units.reduce((n, u) => n + u.recoveryPointsSkipped, 0),
    uniqueImages: units.reduce((n, u) => n + u.uniqueImages, 0),
    e2fsckRuns: units.reduce((n, u) => n + u.e2fsckRuns, 0),
    e2fsckSkipped: units.reduce((n, u) => n + u.e2fsckSkipped, 0),
    e2fsckMissing: units.filter((u) => u.e2fsckMissing).length,
    findingCounts: counts,
    failingWorkloads: failing.length,
    failingWorkloadNames: failing.slice(0, FAILING_NAMES_KEPT),
    cost: { operations, costNanosPerOp: per(nanos), cleansPerOp: per(cleans), barriersPerOp: per(barriers) },
  };
}

function mmapOf(label: string, units: readonly MmapUnitRecord[]): MmapComboReport {
  const [profile, drain] = label.split('/') as [ProfileName, MmapDrain];
  const mine = units.filter((u) => u.profile === profile && u.drain === drain);
  return {
    drain, profile, units: mine.length,
    statesChecked: mine.reduce((n, u) => n + u.statesChecked, 0),
    lostRecords: mine.reduce((n, u) => n + u.lostRecords, 0),
    firstLoss: mine.find((u) => u.firstLoss !== undefined)?.firstLoss ?? null,
  };
}

function kindsOf(run: ReportRun, units: readonly FsUnitRecord[], options: BuildOptions): KindReport[] {
  interface Acc { promise: PromiseId; setup: string; count: number; units: number; first: FirstFinding; record: FsUnitRecord }
  const byKey = new Map<string, Acc>();
  for (const u of units) {
    const label = setupLabel(u.setup);
    for (const p of PROMISES) {
      const n = u.findingCounts[p] ?? 0;
      if (n === 0) continue;
      const key = `${label} ${p}`;
      const acc = byKey.get(key);
      if (acc !== undefined) {
        acc.count += n;
        acc.units++;
        continue;
      }
      const f = u.findings.find((x) => x.promise === p);
      const first: FirstFinding = {
        unit: u.id, workload: u.workloadName, workloadRef: u.workload, diff: f?.diff ?? '',
        ...(f?.position === undefined ? {} : { position: f.position }),
        ...(f?.crashPoint === undefined ? {} : { crashPoint: f.crashPoint }),
        ...(f?.crashState === undefined ? {} : { crashState: f.crashState }),
        ...(f?.token === undefined ? {} : { token: f.token }),
      };
      byKey.set(key, { promise: p, setup: label, count: n, units: 1, first, record: u });
    }
  }
  const order = (a: Acc) => run.setups.indexOf(a.setup) * PROMISES.length + PROMISES.indexOf(a.promise);
  const list = [...byKey.values()].sort((a, b) => order(a) - order(b));
  const engine = engineOptionsOf(run);
  return list.map((acc, i) => {
    let shrunk: ShrunkFinding | null = null;
    if (acc.first.token !== undefined && run.options.shrinkTries > 0) {
      options.onShrink?.(i, list.length, `${acc.promise} on ${acc.setup}`);
      shrunk = shrinkKind(acc.record, acc.promise, engine, run.options.shrinkTries);
    }
    const token = shrunk?.token ?? acc.first.token;
    return {
      promise: acc.promise, setup: acc.setup, count: acc.count, units: acc.units, first: acc.first, shrunk,
      repro: token === undefined ? null : `daxcrash repro ${token}`,
      timeline: token === undefined ? null : reproductionTimeline(reproRun(token)),
    };
  });
}

/** Shrink a report's kind of finding afresh (its first unit's workload) with `tries` engine runs. */
export function shrinkReportKind(report: Report, kind: KindReport, tries: number): ShrunkFinding {
  const record = report.units.find((u): u is FsUnitRecord => u.kind === 'fs' && u.id === kind.first.unit);
  assert(record !== undefined, () => `kind ${kind.promise} on ${kind.setup}: its unit ${kind.first.unit} is not in the report`);
  return shrinkKind(record, kind.promise, engineOptionsOf(report.run), tries);
}

/** The engine options every unit of a run shared. */
function engineOptionsOf(run: ReportRun): UnitEngineOptions {
  const o = run.options;
  return { points: o.points, states: o.states, e2fsck: o.e2fsck, deviceBytes: o.deviceBytes, ...featuresField(o.features) };
}

/**
 * Shrink the first finding of `promise` in a unit's record. The record is that unit's run
 * (the same engine options but the findings kept), so a finding of the promise in it says
 * the workload breaks it: the shrinker need not run it again first (shrink.ts `knownFailing`).
 */
export function shrinkKind(record: FsUnitRecord, promise: PromiseId, engine: UnitEngineOptions, tries: number): ShrunkFinding {
  const workload = unitWorkload(record.workload);
  const knownFailing = record.findings.some((f) => f.promise === promise);
  const r = shrink(workload, promise, { ...engine, setup: record.setup, seed: record.seed }, tries, knownFailing);
  const token = findingToken(r.finding, { seed: record.seed, deviceBytes: engine.deviceBytes, features: engine.features });
  return {
    token, operations: r.workload.ops.length, originalOperations: workload.ops.length, tries: r.tries, steps: r.steps,
    crashPoint: r.finding.crashPoint, diff: r.finding.diff,
  };
}

/** a / b to six significant digits, exact for huge bigints (never 1 unless a >= b). */
function ratio(a: bigint, b: bigint): number {
  if (a >= b) return 1;
  const scale = 10n ** 12n;
  const r = round(Number((a * scale) / b) / Number(scale));
  return r >= 1 ? 0.999999 : r;
}

/** Six significant digits: enough to read, and the same on every machine. */
function round(x: number): number {
  return Number(x.toPrecision(6));
}

/** Whether a run found anything (the exit code 1). */
export function hasFindings(report: Report): boolean {
  return report.totals.findings > 0;
}
