/**
 * Recall as a user runs the tool (spec/crash-checking.md, "The canary suite"): each canary
 * (core/canary.ts) switched on, the campaign that `daxcrash run` makes of the spec's canary
 * suite and setups, with every other option at the command's default, no hand-written probe
 * and no sample: the bounded one- and two-operation suites, the application patterns and the
 * shapes (in `daxcrash run`'s defaults since they were added), on
 * `linux-arm64` and `linux-arm64-nosync` on armv8.2 and `linux-x86` on x86-adr (the plan's
 * probe drops the cross-ISA pairs), ordered policy, units in plan order (seed; suites in
 * turn, a workload each, spread over each catalogue; setups innermost), cut after a budget
 * of units (`--limit`), stopped at the first unit with a finding of any promise.
 *
 * The configuration is the CLI's own: the arguments go through `addCampaignOptions` and
 * `resolveCampaign` with `RUN_DEFAULTS`, and the campaign runs through `runCampaign`, so a
 * change of the default crash points, crash states or checks is measured here as soon as it
 * is the default. Units run in this thread (`workers` 1), because the canary switch does not
 * reach worker threads; parallelism is across canaries (recall-worker.ts).
 *
 * What a row says: caught or not, the promises broken in the first failing unit (with their
 * counts), its setup and workload, units run up to and including it, crash states checked
 * in them (the engine's count, G9 recovery states apart), and optionally the first kind of
 * finding shrunk within a budget of engine runs, with its token.
 */
import { Command } from 'commander';
import { CampaignOptionValues, addCampaignOptions, resolveCampaign } from '../../cli/campaign-options';
import { campaignSpec } from '../../cli/execute';
import { RUN_DEFAULTS } from '../../cli/run';
import { CampaignControl, CampaignSpec, campaignParams, campaignRun, runCampaign } from '../../crash/campaign';
import type { PromiseId } from '../../crash/check';
import { FsUnitRecord, recordFindings } from '../../crash/results';
import { Report, shrinkReportKind } from '../../crash/report';
import { baseImage } from '../../crash/setup';
import { assert } from '../../core/assert';
import { CanaryName, withCanaryWhile } from '../../core/canary';

/** The spec's canary suite and setups, as `daxcrash run` arguments. */
export const CANARY_SUITE_ARGS: readonly string[] = [
  '--suite', 'bounded-1,bounded-2,apps,shapes',
  '--profile', 'armv8.2,x86-adr',
  '--pmem-api', 'linux-arm64,linux-arm64-nosync,linux-x86',
  '--policy', 'ordered',
];
/** The setups those arguments must give, in plan order (checked, so the plan's probe cannot drift). */
export const CANARY_SETUPS: readonly string[] = [
  'armv8.2/linux-arm64/ordered', 'armv8.2/linux-arm64-nosync/ordered', 'x86-adr/linux-x86/ordered',
];
export const DEFAULT_RECALL_SEED = '1';

export interface RecallOptions {
  /** Units a canary may run before it counts as not caught (the CLI's `--limit`). */
  readonly budgetUnits: number;
  readonly seed: string;
  /** Engine runs the shrinker may spend on the first kind of finding (0: no shrinking). */
  readonly shrinkTries: number;
  /** More `daxcrash run` arguments (for example `--points stores`); none for the defaults. */
  readonly extraArgs: readonly string[];
}

export interface RecallShrunk {
  readonly operations: number;
  readonly originalOperations: number;
  readonly tries: number;
  readonly token: string;
}

export interface RecallRow {
  readonly canary: CanaryName;
  readonly caught: boolean;
  /** Findings per promise in the first unit with a finding (empty when not caught). */
  readonly promises: Readonly<Partial<Record<PromiseId, number>>>;
  readonly setup: string | null;
  readonly unit: string | null;
  readonly workload: string | null;
  /** Units run, up to and including the first with a finding (the budget when not caught). */
  readonly units: number;
  /** Crash states checked in those units. */
  readonly states: number;
  /** The first kind's token, unshrunk; null when not caught or for G0. */
  readonly token: string | null;
  readonly shrunk: RecallShrunk | null;
  /** Wall-clock seconds, for information only (it depends on the machine and its load). */
  readonly seconds: number;
}

/** The `daxcrash run` arguments of a recall run. */
export function recallArgs(options: RecallOptions): string[] {
  return [...CANARY_SUITE_ARGS, '--seed', options.seed, '--limit', String(options.budgetUnits), '--shrink-tries', '0', ...options.extraArgs];
}

/** The campaign `daxcrash run` makes of these arguments (one thread). */
export function recallSpec(options: RecallOptions): CampaignSpec {
  const args = recallArgs(options);
  const cmd = addCampaignOptions(new Command('run'), RUN_DEFAULTS).exitOverride().configureOutput({ writeErr: () => undefined });
  cmd.parse(args, { from: 'user' });
  const config = resolveCampaign(cmd.opts<CampaignOptionValues>(), RUN_DEFAULTS, args);
  const spec: CampaignSpec = { ...campaignSpec(config), workers: 1, shard: null };
  const setups = campaignRun(spec).setups;
  assert(setups.join() === CANARY_SETUPS.join(), () => `the canary suite's setups are ${setups.join(', ')}`);
  return spec;
}

/** Units between two progress lines of a hunt. */
export const PROGRESS_EVERY_UNITS = 10;

/**
 * Hunt one canary: the campaign with it switched on, stopped after the first unit with a
 * finding. `progress` hears a line every PROGRESS_EVERY_UNITS units without a finding.
 */
export async function recallOf(canary: CanaryName, options: RecallOptions, now: () => number, progress?: (line: string) => void): Promise<RecallRow> {
  const spec = recallSpec(options);
  // The engine caches its empty base image: build it while no canary is switched on.
  baseImage(campaignParams(spec).deviceBytes);
  const start = now();
  const control = new CampaignControl();
  let units = 0;
  let states = 0;
  return withCanaryWhile(canary, async () => {
    const report = await runCampaign(spec, {
      control,
      onRecord: (record) => {
        units++;
        if (record.kind === 'fs') states += record.statesChecked;
        if (recordFindings(record) > 0) control.drain();
        else if (units % PROGRESS_EVERY_UNITS === 0) {
          progress?.(`${canary}: not caught yet after ${units} of ${options.budgetUnits} units, ${states} states, ${((now() - start) / 1000).toFixed(0)} s`);
        }
      },
    });
    return rowOf(canary, report, options.shrinkTries, () => (now() - start) / 1000);
  });
}

/** The row of a finished hunt (the canary still on: shrinking runs the engine). */
function rowOf(canary: CanaryName, report: Report, shrinkTries: number, seconds: () => number): RecallRow {
  const fsUnits = report.units.filter((u): u is FsUnitRecord => u.kind === 'fs');
  const states = fsUnits.reduce((n, u) => n + u.statesChecked, 0);
  const first = fsUnits.find((u) => recordFindings(u) > 0);
  if (first === undefined) {
    return { canary, caught: false, promises: {}, setup: null, unit: null, workload: null, units: report.units.length, states, token: null, shrunk: null, seconds: seconds() };
  }
  const kind = report.kinds.find((k) => k.first.unit === first.id && k.first.token !== undefined);
  const shrunk = kind === undefined || shrinkTries === 0 ? null : shrinkReportKind(report, kind, shrinkTries);
  return {
    canary, caught: true, promises: first.findingCounts, setup: `${first.setup.pmemApi}/${first.setup.profile}`, unit: first.id,
    workload: first.workloadName, units: report.units.length, states, token: kind?.first.token ?? null,
    shrunk: shrunk === null ? null : { operations: shrunk.operations, originalOperations: shrunk.originalOperations, tries: shrunk.tries, token: shrunk.token },
    seconds: seconds(),
  };
}

/** Promises and counts as `G2:9 G3:1`, in promise order. */
export function promiseCounts(counts: Readonly<Partial<Record<PromiseId, number>>>): string {
  return Object.entries(counts).filter(([, n]) => (n ?? 0) > 0).sort(([a], [b]) => a.localeCompare(b)).map(([p, n]) => `${p}:${n}`).join(' ');
}
