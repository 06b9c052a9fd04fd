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
import { DEFAULT_DEVICE_BYTES } from '../core/limits';
import { CampaignControl, runCampaign } from '../crash/campaign';
import type { UnitSpec } from '../crash/plan';
import type { KindReport, Report, ShrunkFinding } from '../crash/report';
import { shrinkReportKind } from '../crash/report';
import type { UnitRecord } from '../crash/results';
import { setupLabel } from '../crash/setup';
import { campaignTable } from '../crash/report-text';
import { decodeToken, workloadOf } from '../crash/token';
import type { PmemApiName } from '../device/pmem-api';
import type { FeatureProfile } from '../fs/mkfs';
import type { FlushPolicy } from '../fs/mount';
import { workloadSpace } from '../workloads/generators';

export interface DemoOptions {
  readonly seed: string;
  /** Worker threads (results do not depend on them). */
  readonly workers: number;
  /** Every `stride`-th workload of bounded-1 (569 workloads). */
  readonly stride: number;
  /**
   * Every `shapesStride`-th workload of shapes (workloads/shapes.ts), from the first: 7 takes
   * reuse-after-commit and sparse-far (freed blocks reused; a depth-1 tree in group 1). Every
   * 3rd (adding unlinked-open-pair and other-groups) made the demo 70 s on 2 cores: on 1 GiB
   * other-groups on linux-arm64 / unordered judges some 25000 distinct states (23 s alone),
   * and unlinked-open-pair's recoveries some 7700 G9 states.
   */
  readonly shapesStride: number;
  readonly shrinkBudget: number;
  /** The file system on the device: the ext4 subset, or mkfs.ext4's default features. */
  readonly features: FeatureProfile;
}

export const DEMO_DEFAULTS: DemoOptions = { seed: 'demo', workers: 1, stride: 24, shapesStride: 7, shrinkBudget: 40, features: 'minimal' };
/** At every crash point: the whole k=1 bound, reduced to classes, at most 256 states judged a point. */
const DEMO_STATES = { kind: 'bounded', k: 1, limit: 256 } as const;
const PMEM_APIS: readonly PmemApiName[] = ['linux-arm64', 'rfc-2016'];
const POLICIES: readonly FlushPolicy[] = ['ordered', 'unordered'];
/** The setup whose finding the demo shrinks when it has one: the correct policy with the broken flavour. */
const SHOWCASE_SETUP = 'armv8.2/rfc-2016/ordered';

export interface DemoResult {
  readonly report: Report;
  readonly workloads: number;
  readonly shrunk?: ShrunkFinding & { readonly promise: string; readonly setup: string };
}

export async function runDemo(options: DemoOptions, progress: (line: string) => void): Promise<DemoResult> {
  const suites = [
    { kind: 'generated', suite: 'bounded-1', stride: options.stride },
    { kind: 'generated', suite: 'shapes', stride: options.shapesStride },
  ] as const;
  const workloads = suites.reduce((n, s) => n + Math.ceil(workloadSpace({ suite: s.suite }).size / s.stride), 0);
  const total = workloads * PMEM_APIS.length * POLICIES.length;
  let done = 0;
  let lastSetup = '';
  const control = new CampaignControl();
  const early = new ShowcaseShrink(control, options.shrinkBudget);
  const report = await runCampaign({
    seeds: [options.seed], suites, profiles: ['armv8.2'], pmemApis: PMEM_APIS, policies: POLICIES, states: DEMO_STATES, deviceBytes: DEFAULT_DEVICE_BYTES,
    features: options.features, workers: options.workers,
  }, {
    control,
    schedule: { order: (units) => early.order(units), onFinished: (record) => early.finished(record) },
    onRecord: (record) => {
      done++;
      const setup = record.kind === 'fs' ? `${record.setup.pmemApi}/${record.setup.policy}` : 'mmap';
      if (setup !== lastSetup || done === total) progress(`  ${String(done).padStart(3)}/${total} units (${setup})`);
      lastSetup = setup;
    },
  });
  // The finding to show: a lost fsync (G4) of the correct policy with the broken flavour says
  // most; else that setup's first kind; else the first kind of all.
  const mine = report.kinds.filter((k) => k.setup === SHOWCASE_SETUP && k.first.token !== undefined);
  const kind = mine.find((k) => k.promise === 'G4') ?? mine[0] ?? report.kinds.find((k) => k.first.token !== undefined);
  if (kind === undefined) return { report, workloads };
  progress(`  shrinking the first ${kind.promise} finding of ${kind.setup} (${kind.first.workload})...`);
  const shrunk = (await early.result(kind)) ?? shrinkReportKind(report, kind, options.shrinkBudget);
  return { report, workloads, shrunk: { ...shrunk, promise: kind.promise, setup: kind.setup } };
}

/**
 * The showcase's shrink, started while the campaign still runs. The demo shrinks the first
 * G4 finding of SHOWCASE_SETUP when it has one: the lowest unit of that setup, in plan order,
 * whose record counts a G4 finding (report.ts, the kind's first unit). The showcase setup's
 * units are dispatched first; once every one of them below a unit with a G4 finding has
 * finished without one, that unit is the kind's first, and its shrink (a function of its
 * record and the engine options only) is queued on the pool. After the campaign it is used
 * only if the report's kind is that one (else the shrink runs then, as before): the same
 * result either way, and the shrink's engine runs overlap the campaign's instead of
 * following them on one core.
 */
class ShowcaseShrink {
  /** The showcase setup's units in plan order, and those finished. */
  private mine: readonly number[] = [];
  private readonly finishedMine = new Map<number, UnitRecord>();
  private next = 0;
  private started: { readonly unit: string; readonly shrunk: Promise<ShrunkFinding | undefined> } | undefined;

  constructor(private readonly control: CampaignControl, private readonly budget: number) {}

  /** The showcase setup's units first, the rest in plan order. */
  order(units: readonly UnitSpec[]): readonly UnitSpec[] {
    const isMine = (u: UnitSpec) => u.kind === 'fs' && setupLabel(u.setup) === SHOWCASE_SETUP;
    this.mine = units.filter(isMine).map((u) => u.index);
    return [...units.filter(isMine), ...units.filter((u) => !isMine(u))];
  }

  finished(record: UnitRecord): void {
    if (this.started !== undefined || record.kind !== 'fs' || setupLabel(record.setup) !== SHOWCASE_SETUP) return;
    this.finishedMine.set(record.index, record);
    for (; this.next < this.mine.length; this.next++) {
      const r = this.finishedMine.get(this.mine[this.next] as number);
      if (r === undefined || r.kind !== 'fs') return;
      if ((r.findingCounts.G4 ?? 0) === 0) continue;
      // the report's first finding of the kind is this record's, with its token
      if (r.findings.find((f) => f.promise === 'G4')?.token === undefined) return;
      const shrunk = this.control.shrink({ record: r, promise: 'G4', tries: this.budget }).catch(() => undefined);
      this.started = { unit: r.id, shrunk };
      return;
    }
  }

  /** The early shrink's result when `kind` is the one it shrank. */
  async result(kind: KindReport): Promise<ShrunkFinding | undefined> {
    const s = this.started;
    if (s === undefined || kind.promise !== 'G4' || kind.setup !== SHOWCASE_SETUP || kind.first.unit !== s.unit) return undefined;
    return s.shrunk;
  }
}

export function formatDemo(result: DemoResult, options: DemoOptions, seconds: number): string {
  const lines: string[] = [];
  lines.push('');
  lines.push(campaignTable(result.report));
  lines.push('');
  lines.push('G1 mountable, G2 consistent (fsck), G3 metadata prefix, G4 fsync durable, G5 no stale data,');
  lines.push('G6 appends carry data, G7 atomic rename, G8 usable, G9 recovery restartable (spec/crash-checking.md).');
  lines.push('Counts are crash states that broke the promise; coverage is states judged or proven equivalent to a judged one,');
  lines.push('over the states of the k=1 bound (docs/crash.md, "Reduction"); judged: states recovered and checked one by one.');
  lines.push('');
  for (const c of result.report.combos) {
    const n = Object.values(c.findingCounts).reduce((a, b) => a + b, 0);
    const what = n === 0 ? 'no finding' : `${n} findings in ${c.failingWorkloads} of ${c.units} workloads`;
    lines.push(`  ${c.setup.pmemApi.padEnd(12)} ${c.setup.policy.padEnd(9)} ${what}`);
  }
  if (options.features === 'default') {
    lines.push('');
    lines.push('On mkfs.ext4\'s default features the superblock and the journal superblock carry checksums and are written');
    lines.push('in place, outside the journal, as the kernel writes them (through the pmem driver, whose stores are atomic');
    lines.push('8 bytes at a time, not a block): a power failure during such a write can keep some of its cache lines and');
    lines.push('lose others, and the kernel then refuses the mount ("JBD2: journal checksum error", "invalid superblock');
    lines.push('checksum"). Those are the G1 and G9 findings of linux-arm64 / ordered here: findings of the real system,');
    lines.push('not of this file system alone (test/crash/checksums.test.ts holds one crash image to the kernel\'s mount).');
  }
  lines.push('');
  if (result.shrunk === undefined) {
    lines.push('No finding on any setup.');
  } else {
    const s = result.shrunk;
    const spec = decodeToken(s.token);
    const position = spec.position ?? { done: 0, inFlight: false };
    const [profile, pmemApi, policy] = s.setup.split('/');
    lines.push(`One finding, shrunk from ${s.originalOperations} to ${s.operations} operations in ${s.tries} engine runs:`);
    lines.push(`  ${s.promise} on ${profile}, ${pmemApi}, ${policy}`);
    workloadOf(spec.workload).ops.forEach((op, i) => {
      const mark = position.inFlight && i === position.done ? '  <- in flight at the power failure' : '';
      lines.push(`    ${i + 1}. ${JSON.stringify(op)}${mark}`);
    });
    lines.push(`  ${s.diff.split('\n')[0]}`);
    lines.push('  reproduce it, byte for byte:');
    lines.push(`    npx daxcrash repro ${s.token}`);
  }
  lines.push('');
  lines.push(`${result.workloads} workloads x ${result.report.combos.length} setups, seed ${JSON.stringify(options.seed)}, ${seconds.toFixed(1)} s.`);
  return lines.join('\n');
}
