/**
 * The first crash smoke test (the full oracle comes with the crash engine): seeded power
 * failures at random instructions of a random workload, each drawn as a crash image, then
 * mounted (journal recovery, orphans) and checked by our fsck, before and after a clean
 * unmount. Under `ordered` + linux-arm64 + armv8.2 every image must mount and check clean;
 * under `unordered` the failures are counted and reported.
 */
import { Rng } from '../../core/rng';
import { PmemDevice, PowerFailure } from '../../device/device';
import { fsck } from '../../fs/fsck';
import { mkfs } from '../../fs/mkfs';
import { FlushPolicy, mount, mountWithReport } from '../../fs/mount';
import { randomWorkload } from '../helpers/random-workload';

const MiB = 1 << 20;
const CRASHES = 1000;
/** Unordered only has to show that it breaks: 283 of the first 1,000 images failed, the first at crash 2. */
const UNORDERED_CRASHES = 250;
const OPERATIONS = 40;

interface SmokeResult {
  readonly failed: number;
  readonly firstFailures: string[];
  readonly replayed: number;
}

function smoke(policy: FlushPolicy, crashes: number): SmokeResult {
  const fresh = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(fresh, { seed: 'smoke' });
  const image = fresh.guaranteedMedia().detach();
  const run = (device: PmemDevice) => {
    const f = mount(device, { policy, pmemApi: 'linux-arm64', seed: 'smoke' });
    randomWorkload(f, Rng.fromSeed('smoke-workload'), OPERATIONS, { fsyncProbability: 0.3 });
    f.unmount();
  };
  const dry = new PmemDevice({ media: image, trace: false });
  run(dry);
  const instructions = dry.instructionCount;
  const points = Rng.fromSeed(`smoke-points-${policy}`);
  const failures: string[] = [];
  let replayed = 0;
  for (let i = 0; i < crashes; i++) {
    const at = points.below(instructions);
    const device = new PmemDevice({ media: image, trace: false, powerFailAt: at });
    try {
      run(device);
    } catch (err) {
      if (!(err instanceof PowerFailure)) throw err;
    }
    const crashed = new PmemDevice({ media: device.drawCrashImage(`smoke-${policy}-${i}`), trace: false });
    try {
      const { fs, report } = mountWithReport(crashed, { policy, pmemApi: 'linux-arm64' });
      if (report.recovery?.transactionsReplayed) replayed++;
      const mounted = fsck(crashed);
      fs.unmount();
      const unmounted = fsck(crashed);
      const problems = [...mounted, ...unmounted];
      if (problems.length > 0) failures.push(`crash ${i} at instruction ${at}: ${problems[0].kind} ${problems[0].where}: ${problems[0].what}`);
    } catch (err) {
      failures.push(`crash ${i} at instruction ${at}: mount failed: ${(err as Error).message}`);
    }
  }
  return { failed: failures.length, firstFailures: failures.slice(0, 3), replayed };
}

test(`ordered + linux-arm64 + armv8.2: ${CRASHES} seeded power failures all recover clean`, () => {
  const r = smoke('ordered', CRASHES);
  console.log(`ordered: ${r.failed} of ${CRASHES} crash images fail (${r.replayed} needed a journal replay)`);
  expect(r.firstFailures).toEqual([]);
  expect(r.replayed).toBeGreaterThan(0); // the crash points do land inside commits
});

test(`unordered + linux-arm64 + armv8.2: ${UNORDERED_CRASHES} seeded power failures, failures counted`, () => {
  const r = smoke('unordered', UNORDERED_CRASHES);
  console.log(`unordered: ${r.failed} of ${UNORDERED_CRASHES} crash images fail; first: ${r.firstFailures.join(' | ')}`);
  // Expected to break (spec: G2, G3, ...); the count is the finding, printed above.
  expect(r.failed).toBeGreaterThan(0);
});
