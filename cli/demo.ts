/**
 * `daxcrash demo` (what `npm start` runs): a short campaign on `armv8.2` that compares the
 * `ordered` and `unordered` flush policies and the `linux-arm64` and `rfc-2016` pmem API
 * flavours on the same workloads, seeds and crash points; prints what it tested, the table,
 * and one finding shrunk to its smallest workload with the command that reproduces it.
 *
 * It is a demonstration, so it exits 0 even though it shows findings (DESIGN.md); a finding
 * here is the expected result of a known-broken setup, and the ordered policy on
 * linux-arm64 is expected to show none. Deterministic: the seed is fixed unless given.
 */
import { PromiseId } from '../crash/check';
import { CampaignResult, campaignTable, runCampaign } from '../crash/campaign';
import type { EngineOptions, Finding } from '../crash/engine';
import { findingToken } from '../crash/repro';
import { shrink } from '../crash/shrink';
import type { PmemApiName } from '../device/pmem-api';
import type { FlushPolicy } from '../fs/mount';
import { workloadSpace } from '../workloads/generators';
import type { Workload } from '../workloads/ops';

export interface DemoOptions {
  readonly seed: string;
  /** Every `stride`-th workload of bounded-1 (569 workloads). */
  readonly stride: number;
  readonly shrinkBudget: number;
}

export const DEMO_DEFAULTS: DemoOptions = { seed: 'demo', stride: 24, shrinkBudget: 40 };
const DEVICE_BYTES = 16 << 20;
/** At every clean and barrier: the baseline and each single uncertain unit raised, up to 16 a point. */
const DEMO_STATES = { kind: 'bounded', k: 1, limit: 16 } as const;
const PMEM_APIS: readonly PmemApiName[] = ['linux-arm64', 'rfc-2016'];
const POLICIES: readonly FlushPolicy[] = ['ordered', 'unordered'];

export interface DemoResult {
  readonly campaign: CampaignResult;
  readonly workloads: readonly Workload[];
  readonly shrunk?: { readonly finding: Finding; readonly ops: number; readonly tries: number; readonly token: string; readonly originalOps: number };
}

export function demoWorkloads(stride: number): Workload[] {
  const space = workloadSpace({ suite: 'bounded-1' });
  const out: Workload[] = [];
  for (let i = 0; i < space.size; i += stride) out.push(space.workload(i));
  return out;
}

export function runDemo(options: DemoOptions, progress: (line: string) => void): DemoResult {
  const workloads = demoWorkloads(options.stride);
  const engine: Omit<EngineOptions, 'setup'> = { seed: options.seed, deviceBytes: DEVICE_BYTES, states: DEMO_STATES };
  let lastCombo = '';
  const campaign = runCampaign({ workloads, profiles: ['armv8.2'], pmemApis: PMEM_APIS, policies: POLICIES, engine }, (done, total, setup) => {
    const combo = `${setup.pmemApi}/${setup.policy}`;
    if (combo !== lastCombo || done === total) progress(`  ${String(done).padStart(3)}/${total} units (${combo})`);
    lastCombo = combo;
  });
  // The finding to show: the first one of the setup with the most findings, preferring the
  // correct policy with the broken flavour (the comparison's point), shrunk.
  const withFindings = campaign.combos.filter((c) => c.findings.length > 0);
  const pick = withFindings.find((c) => c.setup.pmemApi === 'rfc-2016' && c.setup.policy === 'ordered') ?? withFindings[0];
  if (pick === undefined) return { campaign, workloads };
  // A lost fsync (G4) says most about a flavour that does not persist; else the first finding.
  const first = pick.findings.find((f) => f.promise === 'G4') ?? pick.findings[0];
  progress(`  shrinking the first ${first.promise} finding of ${pick.setup.pmemApi}/${pick.setup.policy} (${first.workload.ops.length} operations)...`);
  const r = shrink(first.workload, first.promise as PromiseId, { ...engine, setup: first.setup }, options.shrinkBudget);
  const token = findingToken(r.finding, { seed: options.seed, deviceBytes: DEVICE_BYTES });
  return { campaign, workloads, shrunk: { finding: r.finding, ops: r.workload.ops.length, tries: r.tries, token, originalOps: first.workload.ops.length } };
}

export function formatDemo(result: DemoResult, options: DemoOptions, seconds: number): string {
  const lines: string[] = [];
  lines.push('');
  lines.push(campaignTable(result.campaign));
  lines.push('');
  lines.push('G1 mountable, G2 consistent (fsck), G3 metadata prefix, G4 fsync durable, G5 no stale data,');
  lines.push('G6 appends carry data, G7 atomic rename, G8 usable, G9 recovery restartable (spec/crash-checking.md).');
  lines.push('Counts are crash states that broke the promise; coverage is states checked over states in the k=1 bound.');
  lines.push('');
  for (const c of result.campaign.combos) {
    const n = Object.values(c.findingCounts).reduce((a, b) => a + (b ?? 0), 0);
    const what = n === 0 ? 'no finding' : `${n} findings in ${c.failingWorkloads} of ${c.units} workloads`;
    lines.push(`  ${c.setup.pmemApi.padEnd(12)} ${c.setup.policy.padEnd(9)} ${what}`);
  }
  lines.push('');
  if (result.shrunk === undefined) {
    lines.push('No finding on any setup.');
  } else {
    const s = result.shrunk;
    const f = s.finding;
    lines.push(`One finding, shrunk from ${s.originalOps} to ${s.ops} operations in ${s.tries} engine runs:`);
    lines.push(`  ${f.promise} on ${f.setup.profile}, ${f.setup.pmemApi}, ${f.setup.policy}`);
    f.workload.ops.forEach((op, i) => {
      const mark = f.position.inFlight && i === f.position.done ? '  <- in flight at the power failure' : '';
      lines.push(`    ${i + 1}. ${JSON.stringify(op)}${mark}`);
    });
    lines.push(`  ${f.diff.split('\n')[0]}`);
    lines.push('  reproduce it, byte for byte:');
    lines.push(`    npx daxcrash repro ${s.token}`);
  }
  lines.push('');
  lines.push(`${result.workloads.length} workloads x ${result.campaign.combos.length} setups, seed ${JSON.stringify(options.seed)}, ${seconds.toFixed(1)} s.`);
  return lines.join('\n');
}
