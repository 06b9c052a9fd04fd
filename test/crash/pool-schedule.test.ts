/**
 * The pool's schedule (crash/pool.ts) changes when units and shrinks run, never what they
 * compute: a plan dispatched in reverse on two workers hands back the same records, in plan
 * order, as the plain run in this thread; every record is told as it finishes; and a shrink
 * queued from a finished record while the plan still runs equals the shrink of the report's
 * kind made afterwards. A dispatch order that drops or repeats a unit is refused.
 */
import { CampaignControl, CampaignSpec, runCampaign } from '../../crash/campaign';
import type { UnitSpec } from '../../crash/plan';
import { ShrunkFinding, shrinkReportKind } from '../../crash/report';
import type { UnitRecord } from '../../crash/results';
import { workloadSpace } from '../../workloads/generators';

const bounded1 = workloadSpace({ suite: 'bounded-1' });
const workloads = [3, 40, 200].map((i) => bounded1.workload(i));
const spec: CampaignSpec = {
  workloads, points: 'flushes', states: { kind: 'bounded', k: 1, limit: 8 }, seeds: ['schedule'], deviceBytes: 16 << 20,
  pmemApis: ['linux-arm64'], policies: ['ordered', 'unordered'],
};
const SHRINK_TRIES = 4;

test('a reversed dispatch on two workers, with a shrink queued mid-run, changes no record and no shrink', async () => {
  const plain = await runCampaign(spec);
  const control = new CampaignControl();
  const finished: UnitRecord[] = [];
  const delivered: number[] = [];
  let early: { unit: string; shrunk: Promise<ShrunkFinding> } | undefined;
  const scheduled = await runCampaign({ ...spec, workers: 2 }, {
    control,
    onRecord: (r) => delivered.push(r.index),
    schedule: {
      order: (units: readonly UnitSpec[]) => [...units].reverse(),
      onFinished: (r) => {
        finished.push(r);
        const g2 = r.kind === 'fs' && (r.findingCounts.G2 ?? 0) > 0 && r.findings.some((f) => f.promise === 'G2');
        if (early === undefined && g2 && r.kind === 'fs') early = { unit: r.id, shrunk: control.shrink({ record: r, promise: 'G2', tries: SHRINK_TRIES }) };
      },
    },
  });
  expect(delivered).toEqual([...delivered].sort((a, b) => a - b));
  expect(finished.map((r) => r.index).sort((a, b) => a - b)).toEqual(delivered);
  // the plan's last two units went first, one to each worker
  expect(finished[0]?.index).toBeGreaterThanOrEqual(Math.max(...delivered) - 1);
  expect(scheduled.units).toEqual(plain.units);
  expect(scheduled.digest).toBe(plain.digest);
  expect(early).toBeDefined();
  const e = early as { unit: string; shrunk: Promise<ShrunkFinding> };
  // the reversed order may meet another G2 unit first than the report's kind: shrink it as the kind would be
  const first = plain.kinds[0];
  expect(first).toBeDefined();
  const afterwards = shrinkReportKind(plain, { ...first, promise: 'G2', first: { ...first.first, unit: e.unit } }, SHRINK_TRIES);
  expect(await e.shrunk).toEqual(afterwards);
  expect(afterwards.tries).toBeGreaterThan(1);
}, 300_000);

test('a dispatch order must hold each unit once', async () => {
  await expect(runCampaign({ ...spec, workers: 2 }, { schedule: { order: (units) => units.slice(1) } })).rejects.toThrow(/each unit of the plan once/);
});

test('a shrink asked of no running campaign is refused', async () => {
  await expect(new CampaignControl().shrink({ record: {} as never, promise: 'G2', tries: 1 })).rejects.toThrow(/no campaign is running/);
});
