/**
 * Named scenarios: failures the comparison found once, shrunk, each replayed from its token.
 * A scenario breaking a different promise (or none) means the file system, the device model
 * or the checker changed what it does on that exact crash state: look before updating it.
 * Made by shrinking the first failing bounded-1 workload of each setup (k=1, limit 12,
 * seed 'scenario', 16 MiB), model revision 3: every one is bounded-1#1, two operations
 * (create, fsync). Under revision 2 the unordered one broke G3 first and the workloads
 * ended in fdatasync.
 */
import { repro } from '../../crash/repro';

const SCENARIOS: ReadonlyArray<{ name: string; promise: string; token: string }> = [
  {
    name: 'unordered policy on armv8.2: a new file and its fsync, written in the seeded order, leave an image that does not mount (G1)',
    promise: 'G1',
    token: 'dx2-AwVcXcuxCoAgFEbhV5G_VSlXe5RoML3RkldSiZDePZKm5u-cimB3gsHCJXjySndaTO4gm1WgU_Qr8yjWdAWnMhe3kZ_VAAmOCWaq4AiD1kMi2rzB4J1wyw_b_Mf5fgAAAAEACHNjZW5hcmlvgCAiAwMBAAAw9ptf',
  },
  {
    name: 'the 2016 RFC on armv8.2: fsync returns, the new file is gone (G4)',
    promise: 'G4',
    token: 'dx2-AwVcXcuxCoAgFEbhV5G_VSlXe5RoML3RkldSiZDePZKm5u-cimB3gsHCJXjySndaTO4gm1WgU_Qr8yjWdAWnMhe3kZ_VAAmOCWaq4AiD1kMi2rzB4J1wyw_b_Mf5fgAAAgAACHNjZW5hcmlvgCATBAMAAACjm_ZO',
  },
  {
    name: 'linux-arm64 on armv8.0 without the flush hint: fsync returns, the new file is gone (G4)',
    promise: 'G4',
    token: 'dx2-AwVcXcuxCoAgFEbhV5G_VSlXe5RoML3RkldSiZDePZKm5u-cimB3gsHCJXjySndaTO4gm1WgU_Qr8yjWdAWnMhe3kZ_VAAmOCWaq4AiD1kMi2rzB4J1wyw_b_Mf5fgACAAAACHNjZW5hcmlvgCB3BAMAAABaldWt',
  },
];

describe('scenarios found by the comparison', () => {
  test.each(SCENARIOS.map((s) => [s.name, s]))('%s', (_name, s) => {
    const r = repro(s.token);
    expect(r.violations.map((v) => v.promise)).toContain(s.promise);
    expect(r.workload.ops.length).toBeLessThanOrEqual(3);
  });
});
