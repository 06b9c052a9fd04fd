// The contract on our file system: every scenario, and the seeded random ones, give the same
// results and error codes on our DAX file system as on the reference (memfs made POSIX-strict,
// itself checked against Linux in reference.test.ts and differential.test.ts).
//
// mkfs makes /lost+found, which the reference has not: the test removes it first (e2fsck -n
// accepts an image without it), so the namespaces start equal.
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { DaxFileSystem } from '../../fs/filesystem';
import type { SyncFs } from '../../core';
import { createReference } from '../../workloads';
import { generateScenario, type Profile } from './generate';
import { runContract, runScenario } from './run';

const MiB = 1 << 20;

function makeOurs(): SyncFs {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(device, { seed: 'contract' });
  const fs = mount(device, { policy: 'ordered', pmemApi: 'linux-arm64' });
  fs.rmdirSync('/lost+found');
  return fs;
}

const unmount = (fs: SyncFs) => (fs as unknown as DaxFileSystem).unmount();

describe('contract scenarios: ours equals the reference', () => {
  runContract(makeOurs, { dispose: unmount });
});

const RUNS: readonly { profile: Profile; scenarios: number; steps: number }[] = [
  { profile: 'namespace', scenarios: 150, steps: 40 },
  { profile: 'descriptors', scenarios: 60, steps: 60 },
];

describe.each(RUNS)('ours equals the reference on random $profile scenarios', ({ profile, scenarios, steps }) => {
  for (let index = 0; index < scenarios; index++) {
    const seed = `${profile}-${index}`;
    test(`seed ${seed} (${steps} steps)`, () => {
      const scenario = generateScenario(seed, steps, profile);
      const ours = makeOurs();
      const actual = runScenario(ours, scenario);
      unmount(ours);
      expect(actual).toEqual(runScenario(createReference(), scenario));
    });
  }
});
