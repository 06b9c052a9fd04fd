/**
 * Named scenarios from the canary catalog (core/canary.ts): each canary's first finding in
 * the fast sample of test/canary/catalog.ts (`hunt`), shrunk by its `shrinkCaught` (budget 40
 * engine runs, seed 'canary', 16 MiB; model revision 3), replayed from its token with that
 * canary switched on. `log-wrap-off-by-one` has none: no workload of the sample wraps the log
 * (test/fs/journal.test.ts catches it).
 * The token carries the operation list (a shrunk workload), the setup, the crash point and
 * the crash state.
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
  ['no-barrier-before-commit', 'G2', 'dx2-AwWKAWXMywrCMBSE4Vcp4zbBxDuBPom4OKantVCTkBwppfTdRRQXCrP7mH9GoDvDgVIqK1ORxHvvdeY0kOcqx0doSm2r6yRcamuMPumjPui93umtHu17UIipwJ1nxAQHn5kEConkBod1Q0JY1EfH3Av_qkJs28ICZxQGDt3L7EZBqIOz33NbpuD_0pflCQQGAAAGY2FuYXJ5gCBPBQIBsgTUlg'],
  ['commit-before-log', 'G2', 'dx2-AwWJAWXMywqDMBSE4VeR6TaHJvRKwCcpXZzGoxU0CUmKiPjupVC6sDC7j_kXeB4FFhxj3umKSxh7R0niwE6qFF6-ybWpHnORXBut6UoXOtOJjnSgyWwGhRAz7G1BiLBwSbhAIXJ5wmLfcGGs6qtT6otsVSG0bZYCqxUG8d3HjELhDtb8vm2evfsr39c3AAAAAAZjYW5hcnmAIFcFAgD-31zx'],
  ['no-barrier-after-commit', 'G4', 'dx2-AwWPAWXMUQrCMBCE4auU8TXRxCJKoCcRH9Z0Wwu2CclKKaV3F0FUKszbx_wzBuoZDhRj3piCJPSd14njnTwXKTyGOle2uE7CubLG6JM-6oMu9V6P9ndQCDHDnWeECAefmAQKkeQGh11NQljUW8fUCa9VITRNZoEzCnce2peVCkItnP1812Xp49Z-002eBv_Pl-UJAAEAAAZjYW5hcnmAIGEIAgFEjeiE'],
  ['tail-before-checkpoint-durable', 'G1', 'dx2-AwVpLctBCoMwEAXQq4TfbYYQaCmkK88hLlJnRClmBo2UIrl7KXT9eCdKXgUJTz0KC1O83KPr39tShbKZFHahC5Pqw037p4xU9Rhn4YFudKVIER5qO1J_Qg0J64uXDR6W64yE0KH5P_0-2tC-AAEAAAZjYW5hcnmAIC4DAgHbO5cu'],
  ['checkpoint-skips-last-block', 'G2', 'dx2-AwVyTcxBCoMwEAXQq4TfbYZgsRTSlecQF2kyohQzIUZKkdxdhEK7fvB2RLcwLJ6yxcCBmsu9Uf07z4XJpcQxKNOZUeShxvUTPRXZ_MRhoBu1dIWGpBW23yEJFssrzBkayZUJFqZD1V_ymV35p3P98ZmjDvUAAAAAAAZjYW5hcnmAIEoFAgAIp9j7'],
  ['replay-stops-early', 'G4', 'dx2-AwVrZclNCsIwEAbQq4TPbQYT_CXQk4iLMY0o2GTITBel9O5u3Pm2b0XlqSCBRXQXHFub3pl6kQ_n4nqb66hDdI_Fig4xBLrShc50oiMdKMKjiSLdVjRBQu6FDR7C9kLCfmRjbP63T11q_tv79gUAAAAABmNhbmFyeYAgdwQCAK3nXdo'],
  ['data-not-flushed', 'G6', 'dx2-AwWaAXWNywqDMBQFf0VOt0lr7JOAX1K6uI3RCtWE5BYR8d9Lq3QhFWY3nDMDWmosNMj7uEkTYtfURgbrn2RsEtyrLWKuknvPNuYqTeVFnuVJ7mWnvhwmIOB8hL4OcB4aJlhiCHjiBzR2BTFhFLPtQs12aQVcWUbL0KnA07bVx2VHAaYKWv3GZexbs3q9DHPjt2q9POm_aZXN6Wy8jW8AAAAABmNhbmFyeYAgZwkCAIQ1WnE'],
  ['naive-flush-loop', 'G6', 'dx2-AwV1ncxBCsIwEEbhu_zrDE2KUJiriItgJ7EQJ8FEipTcXYrookvhLR_fBvV3AeOpPi1RZSZfiuhc6UQjObK0HoNBLhV83pALGOtjaQKD4tsNjCHluC8hVGlgfDwYJNG4H84aNB_Brps_icl-jfFnhPrS68Hol_4GAAAAAAZjYW5hcnmAIHMFAgHc1iKJ'],
  ['new-block-not-zeroed', 'G5', 'dx2-AwV8VcxRCsIwEIThu8xzFttaRHIV8WEbN7UYk5CsFCm9uyhSKMzbx_wLIj8FFpmLThxoLpMKaaIiryo3GkJyD-rpSB211NDcboNByhX2siBlWLgirDDIrHdYHAas5k-_6o4MkvdVFLZr-rNBkDh-7WSgPMJ229fXd3T77HX9AAAAAAAGY2FuYXJ5gCAjBQIArXPQXw'],
  ['truncate-tail-not-zeroed', 'G4', 'dx2-AwV9jY7LCsIwFAX_5axvMJXiI78iLkLIo6g3IbmlSOm_i6BiceN6ZmBmsL15GLRUB74oSZ5VrHlSvepAyKXBnGbkAgNXvRUQipUEg43FQi801UH8ChFyCM0LjCZcPccn6PVxRxAbYbpPK3VkZ3_yd7PV_eFfd__thnZnt949Lw8AAAAABmNhbmFyeYAgZAoCAP3OlWE'],
  ['rename-split-transactions', 'G2', 'dx2-AwV3Rc0xCgIxEEbhq4TfNqOJokhgTyIW425EwewMyVjIkruLIlg-vuItmLlkJLBqWwXHJuU-Us364DG7Ks95akN0l5flNsQQ6EgH2tOOthQpwEO0IZ0WiCJhrJkNHsp2Q8LGiq4juv9xzd-bx7VK-buHyacmNkY_9zcAAAAABmNhbmFyeYAgdQMCAMrpj-s'],
  ['orphan-not-recorded', 'G2', 'dx2-AwVtbY1BCsIwFAXvMlvzEV2o5Cri4lOjKcaf0FSKlNxdioIIrt_MvBnTe8DzsNTbTabYpyC5BJOD7GUnW9ngyKXijzO54OmGoCOOomPEs1aa-0yLiCOqndNSjT-Y45L0WvEMq6_zfv7fq0_raKf2AgAAAAAGY2FuYXJ5gCB1BwIAJj0aJg'],
  ['fsync-no-commit', 'G4', 'dx2-AwVrZclNCsIwEAbQq4TPbQYT_CXQk4iLMY0o2GTITBel9O5u3Pm2b0XlqSCBRXQXHFub3pl6kQ_n4nqb66hDdI_Fig4xBLrShc50oiMdKMKjiSLdVjRBQu6FDR7C9kLCfmRjbP63T11q_tv79gUAAAAABmNhbmFyeYAgCgQCAJ6LasI'],
  ['freed-block-reused-early', 'G5', 'dx2-AwWNAY2OwQrCMBBE_2XOWWyKFM2viIe0bGqxTUK6UqTk30UtVsWDsJflMW9mhrcDw2BKnTBZJ5zo4vvOn6lmFxJTE4ahE6po0u8HhRBHmMOMEGHQJLYChWjlBIONRVYLerg_kEJwbmSBKRR69u0d6HKnILaF0a_ot7VerePVN-v33Pxff_27f1vsq2VAmY_5BgAAAAAGY2FuYXJ5gCCPAQsCADHuTsk'],
  ['recovery-empties-log-first', 'G9', 'dx2-AwVrZclNCsIwEAbQq4TPbQYT_CXQk4iLMY0o2GTITBel9O5u3Pm2b0XlqSCBRXQXHFub3pl6kQ_n4nqb66hDdI_Fig4xBLrShc50oiMdKMKjiSLdVjRBQu6FDR7C9kLCfmRjbP63T11q_tv79gUAAAAABmNhbmFyeYAgdQMCADouCMA'],
  ['x86-no-sfence-before-commit', 'G2', 'dx2-AwWKAWXMywrCMBSE4Vcp4zbBxDuBPom4OKantVCTkBwppfTdRRQXCrP7mH9GoDvDgVIqK1ORxHvvdeY0kOcqx0doSm2r6yRcamuMPumjPui93umtHu17UIipwJ1nxAQHn5kEConkBod1Q0JY1EfH3Av_qkJs28ICZxQGDt3L7EZBqIOz33NbpuD_0pflCQQGAAAGY2FuYXJ5gCBPBQIBsgTUlg'],
  // G2 when shrunk; G1 since lookups follow the kernel's iget (a name of the image reaches an
  // inode the kernel refuses, EUCLEAN, before fsck runs). The catalog's sample still breaks G2.
  ['x86-pmem-wmb-compiler-only', 'G1', 'dx2-AwWNAXXL0QqCMBSH8VeRf7dbbQkVA58kujjNownqxnZCRHz3CIKiCL67H9-CkQaGA8WYN6YgCUPndeLYk-cihftY58oW11k4V9YYfdJHfdCltnoqP4NCiBnuvCBEOPjEJFCIJDc47GoSwqpe2uR59H_1-5Uhbu2bp9QJ_7BCaJrMAmcUeh7bJ5YKQi3cfr2sDwQGAAAGY2FuYXJ5gCAnBwIAUcLm-A'],
  ['revoke-not-written', 'G5', 'dx2-AwWGAY3NywrCMBCF4Xc56wy2RTfzKuJibCY19JKSRIqUvLuIQhUUhLP7OPwrJhkVDOsjnYfQ9hT1mtSSJLKShWpqaDk8B4MwJ_BxRZjBGHvrIwxmyRcwdhbFvMil29R-pzj-_dqkjSr5TdxGS_RZP8ggOJc0gyuDQafuAXXV7A2ydOD6Z9ChnModAAAAAAZjYW5hcnmAILADDQIA1NnmKg'],
  ['replay-ignores-revokes', 'G5', 'dx2-AwWGAY3NywrCMBCF4Xc56wy2RTfzKuJibCY19JKSRIqUvLuIQhUUhLP7OPwrJhkVDOsjnYfQ9hT1mtSSJLKShWpqaDk8B4MwJ_BxRZjBGHvrIwxmyRcwdhbFvMil29R-pzj-_dqkjSr5TdxGS_RZP8ggOJc0gyuDQafuAXXV7A2ydOD6Z9ChnModAAAAAAZjYW5hcnmAILMDDQIAEYRDMQ'],
  ['checkpoint-before-commit', 'G2', 'dx2-AwVrZclNCsIwEAbQq4TPbQYT_CXQk4iLMY0o2GTITBel9O5u3Pm2b0XlqSCBRXQXHFub3pl6kQ_n4nqb66hDdI_Fig4xBLrShc50oiMdKMKjiSLdVjRBQu6FDR7C9kLCfmRjbP63T11q_tv79gUAAAAABmNhbmFyeYAgCwMCAN3Xc2g'],
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
