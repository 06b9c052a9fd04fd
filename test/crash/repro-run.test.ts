/**
 * A report's timelines come from `reproRun`, the run to the crash point alone: each equals
 * the timeline of the full reproduction (`repro`), for every kind of finding of a small
 * unordered campaign.
 */
import { runCampaign } from '../../crash/campaign';
import { repro, reproRun } from '../../crash/repro';
import { reproductionTimeline } from '../../crash/timeline';
import { workloadSpace } from '../../workloads/generators';

test('reproRun gives the timeline repro gives, for every kind of a report', async () => {
  const bounded1 = workloadSpace({ suite: 'bounded-1' });
  const report = await runCampaign({
    workloads: [3, 40, 200].map((i) => bounded1.workload(i)), points: 'flushes', states: { kind: 'bounded', k: 1, limit: 8 },
    seeds: ['timeline'], deviceBytes: 16 << 20, pmemApis: ['linux-arm64', 'rfc-2016'], policies: ['unordered'],
  });
  const withTokens = report.kinds.filter((k) => k.first.token !== undefined);
  expect(withTokens.length).toBeGreaterThan(2);
  for (const kind of withTokens) {
    const token = kind.first.token as string;
    expect(kind.timeline).toEqual(reproductionTimeline(repro(token)));
    expect(reproductionTimeline(reproRun(token, { eventsBefore: 5 }))).toEqual(reproductionTimeline(repro(token, { eventsBefore: 5 })));
  }
}, 300_000);
