/**
 * Unit results as canonical records: what one finished unit of a plan (plan.ts) computed,
 * as plain JSON with sorted keys, one line of a results file each. A record carries the
 * unit's counts, its cost, and the first finding of each promise with its reproduction token;
 * it is what a report (report.ts) is built from, so a report made from the records of
 * shards, of a resumed run, or of any number of workers is the same report.
 *
 * Invariants: a record depends on the unit spec and the engine options only (no time, no
 * worker id); `canonicalJson` orders object keys, so equal records are equal strings and the
 * results digest (sha256 over the records in unit order) is one comparison.
 */
import { createHash } from 'node:crypto';
import type { CrashState } from '../device/crash';
import type { CrashPosition, PromiseId } from './check';
import { PROMISES } from './check';
import { CrashPointChoice, E2fsckChoice, StateChoice, runUnit } from './engine';
import { runMmapWorkload } from './mmap';
import { MMAP_RECORDS, UnitSpec, unitWorkload } from './plan';
import { findingToken } from './repro';

/** 2: states covered (judged or proven equivalent) and e2fsck's skipped count joined the record; 3: G9's skipped recoveries and crash points. */
export const RECORD_VERSION = 3;
/** Disagreements (G0) a record keeps as text. */
const KEEP_DISAGREEMENTS = 3;

/** The engine options every unit of a plan shares. */
export interface UnitEngineOptions {
  readonly points: CrashPointChoice;
  readonly states: StateChoice;
  readonly e2fsck: E2fsckChoice;
  readonly deviceBytes: number;
  /** The base image's feature profile; absent: the subset (`minimal`). */
  readonly features?: 'default';
}

export interface RecordedFinding {
  readonly promise: PromiseId;
  readonly diff: string;
  /** Absent for G0 (a disagreement while running has no crash point). */
  readonly position?: CrashPosition;
  readonly crashPoint?: number;
  readonly crashState?: CrashState;
  readonly token?: string;
}

export interface UnitCost {
  readonly calls: number;
  readonly cleans: number;
  readonly barriers: number;
  readonly flushedBytes: number;
  readonly costNanos: number;
}

/** A record carries its unit's spec (plan.ts) and what running it gave. */
export interface FsUnitRecord extends Extract<UnitSpec, { kind: 'fs' }> {
  readonly v: number;
  readonly workloadName: string;
  readonly operations: number;
  readonly crashPoints: number;
  /** States judged directly. */
  readonly statesChecked: number;
  /** States judged or proven equivalent to a judged one; a decimal string. */
  readonly statesCovered: string;
  /** A decimal string: the bound can exceed 2^53 (sampled: the full model's size). */
  readonly statesInBound: string;
  readonly uniqueImages: number;
  readonly e2fsckRuns: number;
  readonly e2fsckSkipped: number;
  readonly e2fsckMissing: boolean;
  readonly recoveryStatesChecked: number;
  readonly recoveriesExplored: number;
  readonly recoveriesSkipped: number;
  readonly recoveryPointsSkipped: number;
  readonly findingCounts: Readonly<Partial<Record<PromiseId, number>>>;
  /** The first finding of each promise the unit broke, in promise order. */
  readonly findings: readonly RecordedFinding[];
  readonly cost: UnitCost;
}

export interface MmapUnitRecord extends Extract<UnitSpec, { kind: 'mmap' }> {
  readonly v: number;
  readonly records: number;
  readonly statesChecked: number;
  readonly lostRecords: number;
  readonly firstLoss?: string;
}

export type UnitRecord = FsUnitRecord | MmapUnitRecord;

/** Run one planned unit and describe it as a record. */
export function runPlannedUnit(unit: UnitSpec, engine: UnitEngineOptions): UnitRecord {
  if (unit.kind === 'mmap') {
    const states = engine.states.kind === 'sampled' ? engine.states.count : 4;
    const r = runMmapWorkload(unit.drain, unit.profile, MMAP_RECORDS, states);
    return canonical({
      v: RECORD_VERSION, kind: 'mmap', index: unit.index, id: unit.id, seed: unit.seed, drain: unit.drain, profile: unit.profile,
      records: MMAP_RECORDS, statesChecked: r.statesChecked, lostRecords: r.lostRecords, ...(r.firstLoss === undefined ? {} : { firstLoss: r.firstLoss }),
    });
  }
  const workload = unitWorkload(unit.workload);
  const r = runUnit(workload, { ...engine, setup: unit.setup, seed: unit.seed, keepPerPromise: 1 });
  const findings: RecordedFinding[] = [];
  for (const promise of PROMISES) {
    if (promise === 'G0') {
      if (r.disagreements.length > 0) findings.push({ promise, diff: r.disagreements.slice(0, KEEP_DISAGREEMENTS).join('\n') });
      continue;
    }
    const f = r.findings.find((x) => x.promise === promise);
    if (f === undefined) continue;
    const token = findingToken(f, { seed: unit.seed, deviceBytes: engine.deviceBytes, features: engine.features, workloadRef: unit.workload });
    findings.push({ promise, diff: f.diff, position: f.position, crashPoint: f.crashPoint, crashState: f.crashState, token });
  }
  const cost = { calls: 0, cleans: 0, barriers: 0, flushedBytes: 0, costNanos: 0 };
  for (const c of Object.values(r.costs)) {
    cost.calls += c.calls;
    cost.cleans += c.cleans;
    cost.barriers += c.barriers;
    cost.flushedBytes += c.flushedBytes;
    cost.costNanos += c.costNanos;
  }
  return canonical({
    v: RECORD_VERSION, kind: 'fs', index: unit.index, id: unit.id, seed: unit.seed, workload: unit.workload, workloadName: workload.name,
    operations: r.operations, setup: unit.setup, crashPoints: r.crashPoints, statesChecked: r.statesChecked,
    statesCovered: r.statesCovered.toString(), statesInBound: r.statesInBound.toString(), uniqueImages: r.uniqueImages,
    e2fsckRuns: r.e2fsckRuns, e2fsckSkipped: r.e2fsckSkipped, e2fsckMissing: r.e2fsckMissing,
    recoveryStatesChecked: r.recoveryStatesChecked, recoveriesExplored: r.recoveriesExplored,
    recoveriesSkipped: r.recoveriesSkipped, recoveryPointsSkipped: r.recoveryPointsSkipped,
    findingCounts: r.findingCounts, findings, cost,
  });
}

/** Findings a record counts (all promises; lost mmap records). */
export function recordFindings(record: UnitRecord): number {
  if (record.kind === 'mmap') return record.lostRecords;
  return Object.values(record.findingCounts).reduce((a, b) => a + (b ?? 0), 0);
}

/** The record through canonical JSON and back: sorted keys, no undefined fields. */
function canonical<T>(value: T): T {
  return JSON.parse(canonicalJson(value)) as T;
}

/** JSON with object keys sorted at every level: equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

/** sha256 over the canonical records, in unit order: equal results, equal digest. */
export function resultsDigest(records: readonly UnitRecord[]): string {
  const hash = createHash('sha256');
  for (const r of [...records].sort((a, b) => a.index - b.index)) hash.update(canonicalJson(r)).update('\n');
  return `sha256:${hash.digest('hex')}`;
}

/** A results-file line back to a record, or a reason it is not one. */
export function parseRecord(line: string): UnitRecord | string {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return 'not JSON';
  }
  const r = data as Partial<UnitRecord> | null;
  if (typeof r !== 'object' || r === null) return 'not an object';
  if (r.v !== RECORD_VERSION) return `record version ${String(r.v)}, expected ${RECORD_VERSION}`;
  if (r.kind !== 'fs' && r.kind !== 'mmap') return `unknown kind ${String(r.kind)}`;
  if (typeof r.index !== 'number' || typeof r.id !== 'string') return 'no index or id';
  return r as UnitRecord;
}
