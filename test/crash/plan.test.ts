/**
 * Campaign plans: order and ids depend on the parameters only, shards partition the plan,
 * setups a flavour cannot run on are skipped and said so, workload files are validated
 * with the bad field named.
 */
import { UsageError } from '../../core/errors';
import { PlanParams, inShard, makePlan, parseList, parseShard, parseWorkloadFile, spreadIndex } from '../../crash/plan';
import { shardUnits } from '../../crash/report';

const params: PlanParams = {
  seeds: ['1', '2'], suites: [{ kind: 'generated', suite: 'bounded-1' }, { kind: 'generated', suite: 'random' }],
  profiles: ['armv8.2', 'x86-adr'], pmemApis: ['linux-arm64', 'linux-x86'], policies: ['ordered', 'unordered'], flushHint: false,
  points: 'flushes', states: { kind: 'sampled', count: 1 }, e2fsck: 'none', deviceBytes: 16 << 20, features: 'minimal', workloadsPerSuite: 3, limit: Infinity,
};

test('units in order: seed, then suites in turn a workload each, setups innermost; catalogue workloads spread; ids stable; flavours of the other ISA skipped', () => {
  const plan = makePlan(params);
  expect(plan.setups.map((s) => `${s.profile}/${s.pmemApi}/${s.policy}`)).toEqual([
    'armv8.2/linux-arm64/ordered', 'armv8.2/linux-arm64/unordered', 'x86-adr/linux-x86/ordered', 'x86-adr/linux-x86/unordered',
  ]);
  expect(plan.skipped.map((s) => s.setup)).toEqual(['armv8.2 linux-x86', 'x86-adr linux-arm64']);
  const units = [...plan.units()];
  expect(units).toHaveLength(plan.size);
  expect(plan.size).toBe(2 * 2 * 3 * 4);
  expect(units.map((u) => u.index)).toEqual(units.map((_, i) => i));
  expect(units[0].id).toBe('1/bounded-1#0/armv8.2/linux-arm64/ordered');
  expect(units[4].id).toBe('1/random#0/armv8.2/linux-arm64/ordered');
  // bounded-1's second workload is spreadIndex(1, 569) = 352, not 1
  expect(units[9].id).toBe(`1/bounded-1#${spreadIndex(1, 569)}/armv8.2/linux-arm64/unordered`);
  expect(spreadIndex(1, 569)).toBe(352);
  expect(units[12].id).toBe('1/random#1/armv8.2/linux-arm64/ordered');
  expect(units[24].id).toBe('2/bounded-1#0/armv8.2/linux-arm64/ordered');
  expect(new Set(units.map((u) => u.id)).size).toBe(units.length);
  expect([...makePlan(params).units(10, 14)].map((u) => u.id)).toEqual(units.slice(10, 14).map((u) => u.id));
  expect([...makePlan({ ...params, limit: 7 }).units()].map((u) => u.id)).toEqual(units.slice(0, 7).map((u) => u.id));
});

test('spreadIndex visits every workload of a catalogue once, 0 first, the first few far apart', () => {
  for (const n of [1, 2, 3, 4, 10, 569, 1000, 4096, 13459]) {
    const seen = Array.from({ length: n }, (_, w) => spreadIndex(w, n));
    expect(new Set(seen).size).toBe(n);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(n - 1);
    expect(seen[0]).toBe(0);
    if (n >= 10) {
      // any 8 consecutive picks hit at least 5 of the catalogue's 8 equal parts
      const parts = new Set(seen.slice(0, 8).map((i) => Math.floor((i * 8) / n)));
      expect(parts.size).toBeGreaterThanOrEqual(5);
    }
  }
});

test('shards partition the plan, and shardUnits counts each slice', () => {
  const units = [...makePlan(params).units()];
  for (const count of [1, 2, 3, 5, 50]) {
    const slices = Array.from({ length: count }, (_, index) => units.filter((u) => inShard(u.index, { index, count })));
    expect(slices.flat().map((u) => u.index).sort((a, b) => a - b)).toEqual(units.map((u) => u.index));
    slices.forEach((s, index) => expect(s.length).toBe(shardUnits(units.length, { index, count })));
  }
  expect(parseShard('3/4')).toEqual({ index: 3, count: 4 });
  for (const bad of ['4/4', '1/0', '-1/2', 'a/b', '1']) expect(() => parseShard(bad)).toThrow(UsageError);
});

test('a random suite without a count is endless; the generator is drawn lazily', () => {
  const plan = makePlan({ ...params, seeds: ['1'], suites: [{ kind: 'generated', suite: 'random' }], workloadsPerSuite: Infinity });
  expect(plan.size).toBe(Infinity);
  const first = plan.units();
  const ids = Array.from({ length: 9 }, () => first.next().value?.id);
  expect(ids[8]).toBe('1/random#2/armv8.2/linux-arm64/ordered');
});

test('lists: all, comma lists, unknown names refused', () => {
  expect(parseList('all', ['a', 'b'] as const, '--x')).toEqual(['a', 'b']);
  expect(parseList('b,a,b', ['a', 'b'] as const, '--x')).toEqual(['b', 'a']);
  expect(() => parseList('a,c', ['a', 'b'] as const, '--x')).toThrow(/--x: unknown value 'c'/);
});

test('workload files: the bad field is named', () => {
  const ok = parseWorkloadFile(JSON.stringify([{ name: 'w', ops: [{ op: 'creat', path: '/a' }, { op: 'sync' }] }]), 'f.json');
  expect(ok).toEqual([{ name: 'w', ops: [{ op: 'creat', path: '/a' }, { op: 'sync' }] }]);
  const bad = (value: unknown) => () => parseWorkloadFile(JSON.stringify(value), 'f.json');
  expect(bad({ ops: [{ op: 'creat', path: 'a' }] })).toThrow(/field 'ops\[0\]' \(creat\): 'path' must be an absolute path/);
  expect(bad({ ops: [{ op: 'creat', path: '/a', mode: 1 }] })).toThrow(/field 'ops\[0\]' \(creat\): unknown field 'mode'/);
  expect(bad({ ops: [{ op: 'chmod', path: '/a' }] })).toThrow(/field 'ops\[0\]': unknown op "chmod"/);
  expect(bad({ ops: [{ op: 'write', path: '/a', offset: 0, length: -1, tag: 1 }] })).toThrow(/'length' -1 is out of range/);
  expect(bad({ name: 3, ops: [] })).toThrow(/field 'name' is not a string/);
  expect(bad({ operations: [] })).toThrow(/unknown field 'operations'/);
  expect(bad([])).toThrow(/holds no workload/);
  expect(() => parseWorkloadFile('{"ops": [', 'f.json')).toThrow(/f\.json: not valid JSON/);
});
