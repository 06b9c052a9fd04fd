/**
 * Named scenarios from the canary catalog (core/canary.ts): each canary's first finding in
 * the fast sample of test/canary/catalog.ts (`hunt`), shrunk by its `shrinkCaught` (budget 40
 * engine runs, seed 'canary', 16 MiB), replayed from its token with that canary switched on.
 * The token carries the operation list (a shrunk workload), the setup, the crash point (for
 * x86-no-sfence-before-commit a store, since the sample hunts it with a crash point after
 * every store) and the crash state.
 *
 * Each scenario also runs the token's workload on the correct file system, on the same
 * setup, through the whole engine: no finding there, so the finding is the canary's.
 *
 * A G9 finding is a crash during recovery, which a token does not name (it names the first
 * crash state only): that scenario re-explores the token's workload with the canary on and
 * requires a G9 finding again. If one of these fails after a change to the file system, the
 * device model or the checker, look at what changed before re-shrinking.
 */
import { runUnit } from '../../crash/engine';
import { repro } from '../../crash/repro';
import { decodeToken, workloadOf } from '../../crash/token';
import { CanaryName, withCanary } from '../../core/canary';

const SCENARIOS: ReadonlyArray<readonly [CanaryName, string, string]> = [
  ['no-barrier-before-commit', 'G1', 'dx1-BZ4BjdDNCoMwEATgV5HpNbZJoZdAn6T0sNXVCsaEZIuI-O6lP1QICIW9fcww7IyBHMOCQkg7XZB411Vl5NBTxUX0j6FOZ1PcJuF0NlqXp3I0n4OCDwn2MsMHWFSRSaAQSO6wONQkhEV9dYydcK4KvmkSC6xW6HloX2aOCkItrPmFmzQN1WZ1rqvkk8SFvdkOZhz5_RyFJnq3uoL4f0ZclycAAQAABmNhbmFyeYAg8AIPAgB0hL5e'],
  ['commit-before-log', 'G2', 'dx1-BYkBZczLCoMwFIThV5HpNocm9ErAJyldnMajFTQJSYqI-O6lULqwMLuP-Rd4HgUWHGPe6YpLGHtHSeLATqoUXr7Jtakec5FcG63pShc604mOdKDJbAaFEDPsbUGIsHBJuEAhcnnCYt9wYazqq1Pqi2xVIbRtlgKrFQbx3ceMQuEO1vy-bZ69-yvf1zcAAAAABmNhbmFyeYAgWAUCAJP78SY'],
  ['no-barrier-after-commit', 'G2', 'dx1-BYkBZczLCoMwFIThV5HpNocm9ErAJyldnMajFTQJSYqI-O6lULqwMLuP-Rd4HgUWHGPe6YpLGHtHSeLATqoUXr7Jtakec5FcG63pShc604mOdKDJbAaFEDPsbUGIsHBJuEAhcnnCYt9wYazqq1Pqi2xVIbRtlgKrFQbx3ceMQuEO1vy-bZ69-yvf1zcAAQAABmNhbmFyeYAgYgUCAMng6hs'],
  ['tail-before-checkpoint-durable', 'G2', 'dx1-BYwBZctRCsIwEIThq5TxNauJokKgJxEf1jStBZuEZKWU0rtLQaQgzNs3_4zAg4cFp1R2umKJQ-8o-_Ri56sc36Eptakek_hSG63pTFe6kKYjGRr1dlCIqcDeZsQEizH34qGQWJ6wODQsvH7atniB1QovH7rVTgrCHaxZ1Ld12bNsWhnS3uDHbZmC--f78gEAAQAABmNhbmFyeYAgdgUCAYdCVVw'],
  ['checkpoint-skips-last-block', 'G2', 'dx1-BWtlyU0KwjAQBtCrhM9tBhP8JdCTiIsxjSjYZMhMF6X07m7c-bZvReWpIIFFdBccW5vemXqRD-fiepvrqEN0j8WKDjEEutKFznSiIx0owqOJIt1WNEFC7oUNHsL2QsJ-ZGNs_rdPXWr-2_v2BQAAAAAGY2FuYXJ5gCCFAQMCAN9CT40'],
  ['replay-stops-early', 'G2', 'dx1-BWtlyU0KwjAQBtCrhM9tBhP8JdCTiIsxjSjYZMhMF6X07m7c-bZvReWpIIFFdBccW5vemXqRD-fiepvrqEN0j8WKDjEEutKFznSiIx0owqOJIt1WNEFC7oUNHsL2QsJ-ZGNs_rdPXWr-2_v2BQAAAAAGY2FuYXJ5gCB5AwIAsKf4zg'],
  ['data-not-flushed', 'G6', 'dx1-BYoBZcxBCsIwEEbhq5TfbQYTtSqBnkRcjOm0FmoSkkgppXcXQVzo-uO9BZ4fAguOMW90xSU8BkdJ4shOqhSevs2NqW5zkdwYrelMJzpSTQfa02RoMlAIMcNeFoQIC5eECxQilzssti0Xxqo-OqWhyK8qhK7LUmC1wii-f9uuVijcw5pv3OXZu7_1dX0BAAAAAAZjYW5hcnmAIGcFAgCXZcUy'],
  ['naive-flush-loop', 'G6', 'dx1-BXWdzEEKwjAQRuG7_OsMTYpQmKuIi2AnsRAnwUSKlNxdiuiiS-EtH98G9XcB46k-LVFlJl-K6FzpRCM5srQeg0EuFXzekAsY62NpAoPi2w2MIeW4LyFUaWB8PBgk0bgfzho0H8Gumz-JyX6N8WeE-tLrweiX_gYAAAAABmNhbmFyeYAgdAUCANvXUg8'],
  ['new-block-not-zeroed', 'G5', 'dx1-BXxVzFEKwjAQhOG7zHMW21pEchXxYRs3tRiTkKwUKb27KFIozNvH_AsiPwUWmYtOHGgukwppoiKvKjcaQnIP6ulIHbXU0Nxug0HKFfayIGVYuCKsMMisd1gcBqzmT7_qjgyS91UUtmv6s0GQOH7tZKA8wnbb19d3dPvsdf0AAAAAAAZjYW5hcnmAICQFAgBoPP7Q'],
  ['truncate-tail-not-zeroed', 'G5', 'dx1-BX2NjssKwjAUBf_lrG8wleIjvyIuQsijqDchuaVI6b-LoGJx43pmYGawvXkYtFQHvihJnlWseVK96kDIpcGcZuQCA1e9FRCKlQSDjcVCLzTVQfwKEXIIzQuMJlw9xyfo9XFHEBthuk8rdWRnf_J3s9X94V93_-2Gdme33j0vDwAAAAAGY2FuYXJ5gCB8CgIA1Eaybw'],
  ['rename-split-transactions', 'G2', 'dx1-BXdFzTEKAjEQRuGrhN82o4miSGBPIhbjbkTB7AzJWMiSu4siWD6-4i2YuWQksGpbBccm5T5SzfrgMbsqz3lqQ3SXl-U2xBDoSAfa0462FCnAQ7QhnRaIImGsmQ0eynZDwsaKriO6_3HN35vHtUr5u4fJpyY2Rj_3NwAAAAAGY2FuYXJ5gCB1AwIACFCp7Q'],
  ['orphan-not-recorded', 'G2', 'dx1-BW1tjUEKwjAUBe8yW_MRXajkKuLiU6Mpxp_QVIqU3F2Kggiu38y8GdN7wPOw1NtNptinILkEk4PsZSdb2eDIpeKPM7ng6YagI46iY8SzVpr7TIuII6qd01KNP5jjkvRa8Qyrr_N-_t-rT-top_YCAAAAAAZjYW5hcnmAIHUHAgBI8dHn'],
  ['fsync-no-commit', 'G4', 'dx1-BWtlyU0KwjAQBtCrhM9tBhP8JdCTiIsxjSjYZMhMF6X07m7c-bZvReWpIIFFdBccW5vemXqRD-fiepvrqEN0j8WKDjEEutKFznSiIx0owqOJIt1WNEFC7oUNHsL2QsJ-ZGNs_rdPXWr-2_v2BQAAAAAGY2FuYXJ5gCAKBAIAwQvasQ'],
  ['freed-block-reused-early', 'G5', 'dx1-BY0BjY7BCsIwEET_Zc5ZbIoUza-Ih7RsarFNQrpSpOTfRS1WxYOwl-Uxb2aGtwPDYEqdMFknnOji-86fqWYXElMThqETqmjS7weFEEeYw4wQYdAktgKFaOUEg41FVgt6uD-QQnBuZIEpFHr27R3ocqcgtoXRr-i3tV6t49U36_fc_F9__bt_W-yrZUCZj_kGAAAAAAZjYW5hcnmAIJEBCwIA6hMu3Q'],
  ['recovery-empties-log-first', 'G9', 'dx1-BWtlyU0KwjAQBtCrhM9tBhP8JdCTiIsxjSjYZMhMF6X07m7c-bZvReWpIIFFdBccW5vemXqRD-fiepvrqEN0j8WKDjEEutKFznSiIx0owqOJIt1WNEFC7oUNHsL2QsJ-ZGNs_rdPXWr-2_v2BQAAAAAGY2FuYXJ5gCB1AwIA2UElhQ'],
  ['x86-no-sfence-before-commit', 'G2', 'dx1-BZ4BjZDLCsIwEEV_pVy3UROXgX6JuBjTaS2YB8mIlNJ_Fx-oFIquD3PmzIwI5BkWlFJZ6Yok-t6tM6czOa5yvISm1KY6DsKlNlpDIaYCux8REyxcZhIoJJITLLYNCWFSL3rNvfCcKsS2LSywWuHMobszo7WCUAdr3tNtGYJbdM_ph8ybxKeNWY564h9Vu8W9M3vmx0cV2hz9t17iPzccphsEBgAABmNhbmFyeYAgxQERAgHJAOgD'],
  ['x86-pmem-wmb-compiler-only', 'G2', 'dx1-BYkBZczLCoMwFIThV5HpNocm9ErAJyldnMajFTQJSYqI-O6lULqwMLuP-Rd4HgUWHGPe6YpLGHtHSeLATqoUXr7Jtakec5FcG63pShc604mOdKDJbAaFEDPsbUGIsHBJuEAhcnnCYt9wYazqq1Pqi2xVIbRtlgKrFQbx3ceMQuEO1vy-bZ69-yvf1zcEBgAABmNhbmFyeYAgUgYCAPy2GFk'],
];

function explore(token: string) {
  const spec = decodeToken(token);
  return runUnit(workloadOf(spec.workload), { setup: spec.setup, seed: spec.seed, deviceBytes: spec.deviceBytes, states: { kind: 'sampled', count: 2 } });
}

describe('scenarios found by the canary catalog', () => {
  test.each(SCENARIOS)('%s breaks %s from its shrunk token', (canary, promise, token) => {
    if (promise === 'G9') {
      expect(withCanary(canary, () => explore(token)).findingCounts.G9).toBeGreaterThan(0);
    } else {
      const r = withCanary(canary, () => repro(token));
      expect(r.violations.map((v) => v.promise)).toContain(promise);
    }
    expect(decodeToken(token).workload).toHaveProperty('ops');
    expect(withCanary(undefined, () => explore(token)).findingCounts).toEqual({});
  });
});
