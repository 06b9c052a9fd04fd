/**
 * The comparison users come for, on a fixed deterministic sample of the bounded suites
 * (bounded-1 and bounded-2) and two random workloads of fixed seeds: ordered + linux-arm64 has no finding on armv8.2, armv8.0-adr and
 * (linux-x86) x86-adr; unordered on armv8.2 has findings per promise; the 2016 RFC loses
 * fsynced data (G4); linux-arm64 on armv8.0 loses without the flush hint and not with it.
 * The table is printed for the notes.
 */
import { CampaignSpec, ComboResult, campaignTable, runCampaign } from '../../crash/campaign';
import { workloadSpace } from '../../workloads/generators';

const bounded1 = workloadSpace({ suite: 'bounded-1' });
const bounded2 = workloadSpace({ suite: 'bounded-2' });
const random = workloadSpace({ suite: 'random', length: 8 });
const SAMPLE = 6;
const workloads = [
  ...Array.from({ length: SAMPLE }, (_, i) => bounded1.workload(Math.floor((i * bounded1.size) / SAMPLE) + 3)),
  ...Array.from({ length: SAMPLE }, (_, i) => bounded2.workload(Math.floor((i * bounded2.size) / SAMPLE) + 5)),
  ...[0, 1].map((i) => random.workload(i, 'comparison')),
];
const engine: CampaignSpec['engine'] = { points: 'flushes', states: { kind: 'bounded', k: 1, limit: 24 }, seed: 'comparison' };
const tables: string[] = [];

function campaign(spec: Omit<CampaignSpec, 'workloads' | 'engine'>): ComboResult[] {
  const result = runCampaign({ ...spec, workloads, engine });
  tables.push(campaignTable(result));
  return [...result.combos];
}

afterAll(() => console.log(`comparison on ${workloads.length} workloads (12 bounded, 2 random; k=1, at most 24 states a crash point):\n${tables.join('\n')}`));

test('ordered + linux-arm64 on armv8.2 and armv8.0-adr, and linux-x86 on x86-adr: zero findings', () => {
  const arm = campaign({ profiles: ['armv8.2', 'armv8.0-adr'], pmemApis: ['linux-arm64'], policies: ['ordered'] });
  const x86 = campaign({ profiles: ['x86-adr'], pmemApis: ['linux-x86'], policies: ['ordered'] });
  for (const c of [...arm, ...x86]) {
    expect(c.skipped).toBeUndefined();
    expect(c.statesChecked).toBeGreaterThan(c.setup.profile.startsWith('x86') ? 100 : 1000);
    expect({ setup: c.setup, findings: c.findingCounts }).toEqual({ setup: c.setup, findings: {} });
  }
});

test('unordered on armv8.2: findings, counted per promise', () => {
  const [c] = campaign({ profiles: ['armv8.2'], pmemApis: ['linux-arm64'], policies: ['unordered'] });
  expect(c.failingWorkloads).toBeGreaterThan(0);
  expect(Object.values(c.findingCounts).reduce((a, b) => a + (b ?? 0), 0)).toBeGreaterThan(0);
});

test('rfc-2016 on armv8.2: fsync returns and the data is gone (G4)', () => {
  const [c] = campaign({ profiles: ['armv8.2'], pmemApis: ['rfc-2016'], policies: ['ordered'] });
  expect(c.findingCounts.G4 ?? 0).toBeGreaterThan(0);
});

test('linux-arm64 on armv8.0 (volatile PoC): findings without the flush hint, none with it', () => {
  const [without] = campaign({ profiles: ['armv8.0'], pmemApis: ['linux-arm64'], policies: ['ordered'] });
  const [withHint] = campaign({ profiles: ['armv8.0'], pmemApis: ['linux-arm64'], policies: ['ordered'], flushHint: true });
  expect(without.failingWorkloads).toBeGreaterThan(0);
  expect(withHint.findingCounts).toEqual({});
});

test('a flavour of the other ISA is skipped, not counted', () => {
  const [c] = runCampaign({ workloads: workloads.slice(0, 1), profiles: ['x86-adr'], pmemApis: ['linux-arm64'], policies: ['ordered'], engine }).combos;
  expect(c.skipped).toMatch(/cannot run on x86-adr/);
  expect(c.units).toBe(0);
});
