/**
 * Campaigns: workloads x profiles x pmem API flavours x policies, each combination a set of
 * units (one workload on one setup), results as plain data a CLI or a report can print:
 * states checked, states in the bound (coverage), findings per promise, and device cost per
 * operation. A flavour that cannot run on a profile's ISA (linux-x86 on Arm, the Arm
 * flavours on x86) is skipped and said so, not counted as a finding.
 *
 * Determinism: a unit's result depends only on (workload, setup, engine options, seed);
 * combinations and units run in a fixed order.
 */
import { UndefinedInstruction } from '../device/device';
import type { PmemApiName } from '../device/pmem-api';
import type { ProfileName } from '../device/profiles';
import type { FlushPolicy } from '../fs/mount';
import type { Workload } from '../workloads/ops';
import { MountSetup, PromiseId } from './check';
import { EngineOptions, Finding, UnitResult, runUnit } from './engine';

export interface CampaignSpec {
  readonly workloads: readonly Workload[];
  readonly profiles: readonly ProfileName[];
  readonly pmemApis: readonly PmemApiName[];
  readonly policies: readonly FlushPolicy[];
  readonly flushHint?: boolean;
  readonly engine?: Omit<EngineOptions, 'setup'>;
}

export interface ComboResult {
  readonly setup: MountSetup;
  readonly skipped?: string;
  readonly units: number;
  readonly statesChecked: number;
  readonly statesInBound: bigint;
  readonly uniqueImages: number;
  /** G9: crash states of recovery runs checked. */
  readonly recoveryStatesChecked: number;
  readonly findingCounts: Readonly<Partial<Record<PromiseId, number>>>;
  /** Workloads with at least one finding. */
  readonly failingWorkloads: number;
  /** Simulated device nanoseconds per workload operation. */
  readonly costNanosPerOp: number;
  readonly findings: readonly Finding[];
}

export interface CampaignResult {
  readonly combos: readonly ComboResult[];
}

export type Progress = (done: number, total: number, combo: MountSetup) => void;

export function runCampaign(spec: CampaignSpec, onProgress?: Progress): CampaignResult {
  const combos: ComboResult[] = [];
  const setups: MountSetup[] = [];
  for (const profile of spec.profiles) {
    for (const pmemApi of spec.pmemApis) {
      for (const policy of spec.policies) setups.push({ profile, pmemApi, policy, flushHint: spec.flushHint ?? false });
    }
  }
  const total = setups.length * spec.workloads.length;
  let done = 0;
  for (const setup of setups) {
    const units: UnitResult[] = [];
    let skipped: string | undefined;
    for (const workload of spec.workloads) {
      try {
        units.push(runUnit(workload, { ...spec.engine, setup }));
      } catch (err) {
        if (!(err instanceof UndefinedInstruction)) throw err;
        skipped = `${setup.pmemApi} cannot run on ${setup.profile}: ${err.message}`;
        done += spec.workloads.length - units.length;
        break;
      }
      onProgress?.(++done, total, setup);
    }
    combos.push(summarise(setup, units, skipped));
  }
  return { combos };
}

function summarise(setup: MountSetup, units: readonly UnitResult[], skipped: string | undefined): ComboResult {
  const counts: Partial<Record<PromiseId, number>> = {};
  let nanos = 0;
  let ops = 0;
  for (const u of units) {
    for (const [p, n] of Object.entries(u.findingCounts)) counts[p as PromiseId] = (counts[p as PromiseId] ?? 0) + n;
    for (const c of Object.values(u.costs)) nanos += c.costNanos;
    ops += u.operations;
  }
  return {
    setup,
    skipped,
    units: units.length,
    statesChecked: units.reduce((n, u) => n + u.statesChecked, 0),
    statesInBound: units.reduce((n, u) => n + u.statesInBound, 0n),
    uniqueImages: units.reduce((n, u) => n + u.uniqueImages, 0),
    recoveryStatesChecked: units.reduce((n, u) => n + u.recoveryStatesChecked, 0),
    findingCounts: counts,
    failingWorkloads: units.filter((u) => Object.keys(u.findingCounts).length > 0).length,
    costNanosPerOp: ops === 0 ? 0 : nanos / ops,
    findings: units.flatMap((u) => u.findings),
  };
}

/** Coverage: states checked over states in the bound. */
export function coverage(c: ComboResult): number {
  return c.statesInBound === 0n ? 1 : c.statesChecked / Number(c.statesInBound);
}

/** A plain table of a campaign: one row per combination. */
export function campaignTable(result: CampaignResult): string {
  const promises: PromiseId[] = ['G0', 'G1', 'G2', 'G3', 'G4', 'G5', 'G6', 'G7', 'G8', 'G9'];
  const header = ['profile', 'pmem API', 'policy', 'workloads', 'states', 'coverage', 'recovery states', ...promises, 'ns/op'];
  const rows = result.combos.map((c) => c.skipped
    ? [c.setup.profile, c.setup.pmemApi, c.setup.policy, 'skipped', '', '', '', ...promises.map(() => ''), '']
    : [c.setup.profile, c.setup.pmemApi, c.setup.policy + (c.setup.flushHint ? '+hint' : ''), String(c.units), String(c.statesChecked),
      `${(coverage(c) * 100).toFixed(1)}%`, String(c.recoveryStatesChecked), ...promises.map((p) => String(c.findingCounts[p] ?? 0)), c.costNanosPerOp.toFixed(0)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
