/**
 * Named scenarios from the canary catalog (core/canary.ts): each canary's first finding,
 * shrunk by `npm run canary` (budget 40 engine runs, seed 'canary', 16 MiB), replayed from
 * its token with that canary switched on. The token carries the operation list (a shrunk
 * workload), the setup, the crash point and the crash state.
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
  ['no-barrier-before-commit', 'G1', 'dx2-AgWeAY3QzQqDMBAE4FeR6TW2SaGXQJ-k9LDV1QrGhGSLiPjupT9UCAiFvX3MMOyMgRzDgkJIO12QeNdVZeTQU8VF9I-hTmdT3CbhdDZal6dyNJ-Dgg8J9jLDB1hUkUmgEEjusDjUJIRFfXWMnXCuCr5pEgusVuh5aF9mjgpCLaz5hZs0DdVmda6r5JPEhb3ZDmYc-f0chSZ6t7qC-H9GXJcnAAEAAAZjYW5hcnmAIPACDwIAzqwT7Q'],
  ['commit-before-log', 'G2', 'dx2-AgWJAWXMywqDMBSE4VeR6TaHJvRKwCcpXZzGoxU0CUmKiPjupVC6sDC7j_kXeB4FFhxj3umKSxh7R0niwE6qFF6-ybWpHnORXBut6UoXOtOJjnSgyWwGhRAz7G1BiLBwSbhAIXJ5wmLfcGGs6qtT6otsVSG0bZYCqxUG8d3HjELhDtb8vm2evfsr39c3AAAAAAZjYW5hcnmAIFgFAgCTY7Y1'],
  ['no-barrier-after-commit', 'G2', 'dx2-AgWJAWXMywqDMBSE4VeR6TaHJvRKwCcpXZzGoxU0CUmKiPjupVC6sDC7j_kXeB4FFhxj3umKSxh7R0niwE6qFF6-ybWpHnORXBut6UoXOtOJjnSgyWwGhRAz7G1BiLBwSbhAIXJ5wmLfcGGs6qtT6otsVSG0bZYCqxUG8d3HjELhDtb8vm2evfsr39c3AAEAAAZjYW5hcnmAIGIFAgCRxAXg'],
  ['tail-before-checkpoint-durable', 'G2', 'dx2-AgWMAWXLUQrCMBCE4auU8TWriaJCoCcRH9Y0rQWbhGSllNK7S0GkIMzbN_-MwIOHBadUdrpiiUPvKPv0YuerHN-hKbWpHpP4Uhut6UxXupCmIxka9XZQiKnA3mbEBIsx9-KhkFiesDg0LLx-2rZ4gdUKLx-61U4Kwh2sWdS3ddmzbFoZ0t7gx22Zgvvn-_IBAAEAAAZjYW5hcnmAIHYFAgE9zdR1'],
  ['checkpoint-skips-last-block', 'G2', 'dx2-AgVrZclNCsIwEAbQq4TPbQYT_CXQk4iLMY0o2GTITBel9O5u3Pm2b0XlqSCBRXQXHFub3pl6kQ_n4nqb66hDdI_Fig4xBLrShc50oiMdKMKjiSLdVjRBQu6FDR7C9kLCfmRjbP63T11q_tv79gUAAAAABmNhbmFyeYAghQEDAgAj_8Lu'],
  ['replay-stops-early', 'G2', 'dx2-AgVrZclNCsIwEAbQq4TPbQYT_CXQk4iLMY0o2GTITBel9O5u3Pm2b0XlqSCBRXQXHFub3pl6kQ_n4nqb66hDdI_Fig4xBLrShc50oiMdKMKjiSLdVjRBQu6FDR7C9kLCfmRjbP63T11q_tv79gUAAAAABmNhbmFyeYAgeQMCADC21oU'],
  ['data-not-flushed', 'G6', 'dx2-AgWKAWXMQQrCMBBG4auU320GE7UqgZ5EXIzptBZqEpJIKaV3F0Fc6PrjvQWeHwILjjFvdMUlPAZHSeLITqoUnr7Njaluc5HcGK3pTCc6Uk0H2tNkaDJQCDHDXhaECAuXhAsUIpc7LLYtF8aqPjqlocivKoSuy1JgtcIovn_brlYo3MOab9zl2bu_9XV9AQAAAAAGY2FuYXJ5gCBnBQIALhpP3Q'],
  ['naive-flush-loop', 'G6', 'dx2-AgV1ncxBCsIwEEbhu_zrDE2KUJiriItgJ7EQJ8FEipTcXYrookvhLR_fBvV3AeOpPi1RZSZfiuhc6UQjObK0HoNBLhV83pALGOtjaQKD4tsNjCHluC8hVGlgfDwYJNG4H84aNB_Brps_icl-jfFnhPrS68Hol_4GAAAAAAZjYW5hcnmAIHQFAgBGkJOK'],
  ['new-block-not-zeroed', 'G5', 'dx2-AgV8VcxRCsIwEIThu8xzFttaRHIV8WEbN7UYk5CsFCm9uyhSKMzbx_wLIj8FFpmLThxoLpMKaaIiryo3GkJyD-rpSB211NDcboNByhX2siBlWLgirDDIrHdYHAas5k-_6o4MkvdVFLZr-rNBkDh-7WSgPMJ229fXd3T77HX9AAAAAAAGY2FuYXJ5gCAkBQIAxKuzSw'],
  ['truncate-tail-not-zeroed', 'G4', 'dx2-AgV9jY7LCsIwFAX_5axvMJXiI78iLkLIo6g3IbmlSOm_i6BiceN6ZmBmsL15GLRUB74oSZ5VrHlSvepAyKXBnGbkAgNXvRUQipUEg43FQi801UH8ChFyCM0LjCZcPccn6PVxRxAbYbpPK3VkZ3_yd7PV_eFfd__thnZnt949Lw8AAAAABmNhbmFyeYAgfAoCAIjNf8M'],
  ['rename-split-transactions', 'G2', 'dx2-AgV3Rc0xCgIxEEbhq4TfNqOJokhgTyIW425EwewMyVjIkruLIlg-vuItmLlkJLBqWwXHJuU-Us364DG7Ks95akN0l5flNsQQ6EgH2tOOthQpwEO0IZ0WiCJhrJkNHsp2Q8LGiq4juv9xzd-bx7VK-buHyacmNkY_9zcAAAAABmNhbmFyeYAgdQMCAA-2wFU'],
  ['orphan-not-recorded', 'G2', 'dx2-AgVtbY1BCsIwFAXvMlvzEV2o5Cri4lOjKcaf0FSKlNxdioIIrt_MvBnTe8DzsNTbTabYpyC5BJOD7GUnW9ngyKXijzO54OmGoCOOomPEs1aa-0yLiCOqndNSjT-Y45L0WvEMq6_zfv7fq0_raKf2AgAAAAAGY2FuYXJ5gCB1BwIAXZe7Vg'],
  ['fsync-no-commit', 'G4', 'dx2-AgVrZclNCsIwEAbQq4TPbQYT_CXQk4iLMY0o2GTITBel9O5u3Pm2b0XlqSCBRXQXHFub3pl6kQ_n4nqb66hDdI_Fig4xBLrShc50oiMdKMKjiSLdVjRBQu6FDR7C9kLCfmRjbP63T11q_tv79gUAAAAABmNhbmFyeYAgCgQCAMqFAMs'],
  ['freed-block-reused-early', 'G5', 'dx2-AgWNAY2OwQrCMBBE_2XOWWyKFM2viIe0bGqxTUK6UqTk30UtVsWDsJflMW9mhrcDw2BKnTBZJ5zo4vvOn6lmFxJTE4ahE6po0u8HhRBHmMOMEGHQJLYChWjlBIONRVYLerg_kEJwbmSBKRR69u0d6HKnILaF0a_ot7VerePVN-v33Pxff_27f1vsq2VAmY_5BgAAAAAGY2FuYXJ5gCCRAQsCADDkVYM'],
  ['recovery-empties-log-first', 'G9', 'dx2-AgVrZclNCsIwEAbQq4TPbQYT_CXQk4iLMY0o2GTITBel9O5u3Pm2b0XlqSCBRXQXHFub3pl6kQ_n4nqb66hDdI_Fig4xBLrShc50oiMdKMKjiSLdVjRBQu6FDR7C9kLCfmRjbP63T11q_tv79gUAAAAABmNhbmFyeYAgdQMCAADBKzQ'],
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
