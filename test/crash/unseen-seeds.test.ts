/**
 * The correct file system, on random workloads of seeds no other test uses, with sampled
 * crash states drawn from the full model (not only the bound): no finding, on the setups the
 * persistence model marks "persists" (linux-arm64 and linux-arm64-nosync on armv8.2,
 * linux-x86 on x86-adr, ordered). The checks that would fire are shown firing elsewhere
 * (the canary catalog, the G7/G8 tests, the unordered comparison); here a finding would be a
 * bug in the file system or a false alarm of the checker.
 */
import { runUnit } from '../../crash/engine';
import { MountSetup } from '../../crash/setup';
import { workloadSpace } from '../../workloads/generators';

const SEEDS = ['unseen-7f3a', 'unseen-c41d'];
const PER_SEED = 3;
const SETUPS: MountSetup[] = [
  { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false },
  { profile: 'armv8.2', pmemApi: 'linux-arm64-nosync', policy: 'ordered', flushHint: false },
  { profile: 'x86-adr', pmemApi: 'linux-x86', policy: 'ordered', flushHint: false },
];

test.each(SETUPS.map((s) => [`${s.profile}/${s.pmemApi}/${s.policy}`, s] as const))('%s: no finding on random workloads of unseen seeds, sampled states', (_label, setup) => {
  const random = workloadSpace({ suite: 'random', length: 10 });
  let states = 0;
  for (const seed of SEEDS) {
    for (let i = 0; i < PER_SEED; i++) {
      const r = runUnit(random.workload(i, seed), { setup, seed, states: { kind: 'sampled', count: 2 }, e2fsck: 'none' });
      states += r.statesChecked;
      expect({ workload: r.workload, findings: r.findingCounts, first: r.findings[0]?.diff }).toEqual({ workload: r.workload, findings: {}, first: undefined });
    }
  }
  expect(states).toBeGreaterThan(100);
});
