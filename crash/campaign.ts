/**
 * Campaigns: the one path from a campaign's parameters to its report — plan (plan.ts), pool
 * (pool.ts: this thread or worker threads), report (report.ts). The CLI's `run`, `compare`
 * and `merge`, the demo and the library's `runCampaign` all take it, so they skip the same
 * setups (the plan's up-front probe: a flavour whose instructions the profile lacks is listed
 * as skipped, never run), count the same way, and a library user gets the report the CLI
 * writes.
 *
 * What stays with the caller: where records are kept (the CLI streams them to a results
 * file), resuming (finished records handed back in `previous` are not run again), and when to
 * stop (`CampaignControl`: drain lets units in flight finish, abort drops them).
 *
 * Determinism: the report depends on the spec only (not on workers, shards or time); the
 * records come back in unit order whatever order the workers finish in.
 */
import { DEFAULT_DEVICE_BYTES } from '../core/limits';
import type { Workload } from '../workloads/ops';
import { DEFAULT_RANDOM_WORKLOADS, PlanParams, Shard, SuiteSpec, inShard, makePlan, workloadFileLabel } from './plan';
import { PoolOutcome, PoolSchedule, ShrinkJob, UnitPool } from './pool';
import { Report, ReportRun, ShrunkFinding, buildReport, shardUnits } from './report';
import type { UnitEngineOptions, UnitRecord } from './results';
import { featuresField, setupLabel } from './setup';

/** A campaign: PlanParams with defaults, and how to run it. */
export interface CampaignSpec extends Partial<PlanParams> {
  /** A suite of these workloads, after `suites` (their operations go into tokens). */
  readonly workloads?: readonly Workload[];
  /** Labels of the suites in the report (default: the suite's name, `file:<digest>` for workloads). */
  readonly suiteLabels?: readonly string[];
  /** Run only this slice of the plan. */
  readonly shard?: Shard | null;
  /** Worker threads (default 1: this thread). */
  readonly workers?: number;
  /** Engine runs the shrinker may spend on the first finding of each kind (default 0: none). */
  readonly shrinkTries?: number;
}

export const CAMPAIGN_DEFAULTS = {
  seeds: ['0'], profiles: ['armv8.2'], pmemApis: ['linux-arm64'], policies: ['ordered'], flushHint: false,
  points: 'flushes', states: { kind: 'bounded', k: 2, limit: 64 }, e2fsck: 'none', deviceBytes: DEFAULT_DEVICE_BYTES, features: 'minimal',
} as const satisfies Partial<PlanParams>;

/** The plan's parameters of a spec, defaults filled in. */
export function campaignParams(spec: CampaignSpec): PlanParams {
  const suites: SuiteSpec[] = [...(spec.suites ?? [])];
  if (spec.workloads !== undefined) suites.push({ kind: 'file', label: workloadFileLabel(spec.workloads), workloads: spec.workloads });
  const hasRandom = suites.some((s) => s.kind === 'generated' && s.suite === 'random');
  return {
    seeds: spec.seeds ?? CAMPAIGN_DEFAULTS.seeds,
    suites,
    profiles: spec.profiles ?? CAMPAIGN_DEFAULTS.profiles,
    pmemApis: spec.pmemApis ?? CAMPAIGN_DEFAULTS.pmemApis,
    policies: spec.policies ?? CAMPAIGN_DEFAULTS.policies,
    flushHint: spec.flushHint ?? CAMPAIGN_DEFAULTS.flushHint,
    points: spec.points ?? CAMPAIGN_DEFAULTS.points,
    states: spec.states ?? CAMPAIGN_DEFAULTS.states,
    e2fsck: spec.e2fsck ?? CAMPAIGN_DEFAULTS.e2fsck,
    deviceBytes: spec.deviceBytes ?? CAMPAIGN_DEFAULTS.deviceBytes,
    features: spec.features ?? CAMPAIGN_DEFAULTS.features,
    workloadsPerSuite: spec.workloadsPerSuite ?? (hasRandom ? DEFAULT_RANDOM_WORKLOADS : Infinity),
    limit: spec.limit ?? Infinity,
  };
}

/** A suite's name in a report. */
export function suiteLabel(s: SuiteSpec): string {
  switch (s.kind) {
    case 'generated': return s.stride === undefined || s.stride === 1 ? s.suite : `${s.suite}/every-${s.stride}`;
    case 'mmap': return 'mmap';
    case 'file': return s.label;
  }
}

/** The report's `run` object: what the campaign is, without time, paths or worker counts. */
export function campaignRun(spec: CampaignSpec): ReportRun {
  const p = campaignParams(spec);
  const plan = makePlan(p);
  return {
    seeds: p.seeds, suites: spec.suiteLabels ?? p.suites.map(suiteLabel), profiles: p.profiles, pmemApis: p.pmemApis, policies: p.policies, flushHint: p.flushHint,
    options: {
      points: p.points, states: p.states, e2fsck: p.e2fsck, deviceBytes: p.deviceBytes, ...featuresField(p.features),
      workloadsPerSuite: Number.isFinite(p.workloadsPerSuite) ? p.workloadsPerSuite : null,
      limit: Number.isFinite(p.limit) ? p.limit : null,
      shrinkTries: spec.shrinkTries ?? 0,
    },
    shard: spec.shard ?? null,
    plannedUnits: Number.isFinite(plan.size) ? plan.size : null,
    setups: plan.setups.map(setupLabel),
    mmapSetups: plan.mmapSetups.map((s) => `${s.profile}/${s.drain}`),
    skipped: plan.skipped,
  };
}

/** Stops a running campaign: `drain` finishes the units in flight, `abort` drops them. */
export class CampaignControl {
  private pool: UnitPool | undefined;
  private pending: 'drain' | 'abort' | undefined;
  /** How the pool ended ('done' until it ran). */
  outcome: PoolOutcome = 'done';

  drain(): void {
    this.pending ??= 'drain';
    this.pool?.drain();
  }

  abort(): void {
    this.pending = 'abort';
    this.pool?.abort();
  }

  /** Shrink a finished unit's finding on the running campaign's pool (pool.ts `shrink`). */
  shrink(job: ShrinkJob): Promise<ShrunkFinding> {
    return this.pool === undefined ? Promise.reject(new Error('no campaign is running')) : this.pool.shrink(job);
  }

  /** @internal runCampaign hands its pool over. */
  attach(pool: UnitPool): void {
    this.pool = pool;
    if (this.pending === 'drain') pool.drain();
    if (this.pending === 'abort') pool.abort();
  }
}

/** runCampaign's rejection when `control.abort()` stopped it: the records finished so far. */
export class CampaignAborted extends Error {
  override name = 'CampaignAborted';
  constructor(readonly records: readonly UnitRecord[]) {
    super(`the campaign was aborted after ${records.length} units`);
  }
}

export interface CampaignHooks {
  /** Records of units already finished (a resumed run): not run again, part of the report. */
  readonly previous?: readonly UnitRecord[];
  /** Each new record, in unit order, as it finishes. */
  readonly onRecord?: (record: UnitRecord) => void;
  readonly control?: CampaignControl;
  /** Called before each shrink (progress for a person). */
  readonly onShrink?: (kind: number, kinds: number, label: string) => void;
  /** The tool version the report names (default the package's). */
  readonly version?: string;
  /** When units run (pool.ts): never what they compute. */
  readonly schedule?: PoolSchedule;
}

/** Units the campaign (its shard) runs, finished ones included. */
export function campaignUnits(spec: CampaignSpec): number | undefined {
  const size = makePlan(campaignParams(spec)).size;
  return Number.isFinite(size) ? shardUnits(size, spec.shard ?? null) : undefined;
}

/** Plan, run every unit not yet finished, and build the report (shrinking the first finding of each kind). */
export async function runCampaign(spec: CampaignSpec, hooks: CampaignHooks = {}): Promise<Report> {
  const params = campaignParams(spec);
  const plan = makePlan(params);
  const previous = hooks.previous ?? [];
  const done = new Set(previous.map((r) => r.index));
  const shard = spec.shard ?? undefined;
  const units = (function* () {
    for (const u of plan.units()) if (inShard(u.index, shard) && !done.has(u.index)) yield u;
  })();
  const engine: UnitEngineOptions = {
    points: params.points, states: params.states, e2fsck: params.e2fsck, deviceBytes: params.deviceBytes, ...featuresField(params.features),
  };
  const pool = new UnitPool(engine, spec.workers ?? 1);
  const control = hooks.control ?? new CampaignControl();
  control.attach(pool);
  const records: UnitRecord[] = [...previous];
  control.outcome = await pool.run(units, (record) => {
    records.push(record);
    hooks.onRecord?.(record);
  }, hooks.schedule);
  if (control.outcome === 'aborted') throw new CampaignAborted(records);
  return buildReport(campaignRun(spec), records, { version: hooks.version ?? packageVersion(), onShrink: hooks.onShrink });
}

/** This package's version (package.json; dist/package.json in a build). */
export function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../package.json') as { version: string }).version;
}
