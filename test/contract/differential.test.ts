// Differential testing of the reference against Linux on seeded random scenarios
// (generate.ts). Each test names its profile and seed; the scenario is a pure function of
// them, so a failure is reproduced by running `generateScenario(seed, steps, profile)` through
// `runScenario` on `createReference()` and on `nodeFsAdapter(someEmptyDirectory)`.
//
// The counts keep the suite near a few seconds; bulk runs with other seeds found no further
// difference after the fixes recorded in reference.ts.

import { createReference, nodeFsAdapter } from '../../workloads';
import { generateScenario, type Profile } from './generate';
import { makeSandboxes, probeDirectoryLinks } from './host';
import { runScenario } from './run';

const RUNS: readonly { profile: Profile; scenarios: number; steps: number }[] = [
  { profile: 'namespace', scenarios: 300, steps: 40 },
  { profile: 'descriptors', scenarios: 100, steps: 60 },
];

const sandboxes = makeSandboxes('daxcrash-differential-');
afterAll(() => sandboxes.removeAll());
const compareDirNlink = probeDirectoryLinks(sandboxes.base).counted;

describe.each(RUNS)('reference equals Linux on random $profile scenarios', ({ profile, scenarios, steps }) => {
  for (let index = 0; index < scenarios; index++) {
    const seed = `${profile}-${index}`;
    test(`seed ${seed} (${steps} steps)`, () => {
      const scenario = generateScenario(seed, steps, profile);
      const linux = runScenario(nodeFsAdapter(sandboxes.make()), scenario, { compareDirNlink });
      const reference = runScenario(createReference(), scenario, { compareDirNlink });
      expect(reference).toEqual(linux);
    });
  }
});
