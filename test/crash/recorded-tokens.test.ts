/**
 * Recorded tokens: tokens this daxcrash wrote rebuild the same crash image, byte for byte
 * (its sha256), and yield the same promises; tokens of an earlier model revision are refused
 * with a message that says so, never rebuilt into another state (crash/token.ts).
 *
 * Revision 3 (jbd2's lazy checkpoints), re-recorded on the workloads, setups and seeds of the
 * revision-2 tokens: a generated workload (bounded, random with its seed), an embedded
 * operation list, sampled and bounded crash states, Arm and x86 setups. Revision 2
 * (daxcrash 0.3) and revision 1 (`dx1-`, daxcrash 0.2) tokens are refused.
 * When the model moves again, the tokens below move to the refused list and new ones are
 * recorded.
 */
import { TokenError } from '../../crash/token';
import { repro } from '../../crash/repro';

const RECORDED: ReadonlyArray<{ token: string; digest: string; violations: string[] }> = [
  { token: 'dx2-AwQAZAACAAAIcmVjb3JkZWSAIBkHAwAAAaYBFlEqmA', digest: '3bf348ec88758e2b36692707cfa38d116b6a162099b61d141a269eb0f7d88c06', violations: ['G2'] },
  { token: 'dx2-AwQBiQYAAAEACHJlY29yZGVkgCB3BwIApy3DAw', digest: '77abd79291154a48e451dfe28f319f007f89d119b7e9957a6f819c166a8abc2f', violations: ['G2'] },
  { token: 'dx2-AwYDAwN0b2sAAQEAA3Rva4AgwAInAgBiugyL', digest: 'd2f59a239987dd7463d000a4fc63f48fbd133c170bece620419cbf36b0fab934', violations: ['G2'] },
  {
    token: 'dx2-AwWeAY2QywrCMBBFf6Vct1ETl4F-ibgY02ktmAfJiJTSfxcfqBSKrg9z5syMCOQZFpRSWemKJPrerTOnMzmucryEptSmOg7CpTZaQyGmArsfERMsXGYSKCSSEyy2DQlhUi96zb3wnCrEti0ssFrhzKG7M6O1glAHa97TbRmCW3TP6YfMm8SnjVmOeuIfVbvFvTN75sdHFdoc_bde4j83HKYbBAYBAAhyZWNvcmRlZIAgYQ0DAQAASv0HJQ',
    digest: 'd683372db95101150cb405b73720ab83fa48cfab6b455cc32f645dd9fb63c3c3', violations: ['G2'],
  },
  { token: 'dx2-AwQAyAECAAAACHJlY29yZGVkgCByBwMAAAGmAS5REG8', digest: '3bf348ec88758e2b36692707cfa38d116b6a162099b61d141a269eb0f7d88c06', violations: ['G2'] },
];

/** Recorded by earlier versions: model revision 1 (daxcrash 0.2, `dx1-`) and 2 (before jbd2's lazy checkpoints). */
const EARLIER: ReadonlyArray<readonly [number, string]> = [
  [1, 'dx1-BABkAAIAAAhyZWNvcmRlZIAgHggDAAABqAG3b3y7'],
  [1, 'dx1-BgMDA3RvawABAQADdG9rgCCPAycCAB1uFYo'],
  [2, 'dx2-AgQAZAACAAAIcmVjb3JkZWSAIBoHAwAAAawBbpNXEQ'],
  [2, 'dx2-AgQBiQYAAAEACHJlY29yZGVkgCBWBwIAuph1Fg'],
  [2, 'dx2-AgYDAwN0b2sAAQEAA3Rva4Ag3wInAgDFgQQy'],
  [2, 'dx2-AgWeAY2QywrCMBBFf6Vct1ETl4F-ibgY02ktmAfJiJTSfxcfqBSKrg9z5syMCOQZFpRSWemKJPrerTOnMzmucryEptSmOg7CpTZaQyGmArsfERMsXGYSKCSSEyy2DQlhUi96zb3wnCrEti0ssFrhzKG7M6O1glAHa97TbRmCW3TP6YfMm8SnjVmOeuIfVbvFvTN75sdHFdoc_bde4j83HKYbBAYBAAhyZWNvcmRlZIAgVAUDAAJYSgDkyj4a'],
  [2, 'dx2-AgQAyAECAAAACHJlY29yZGVkgCBzBwMAAAGmASELeN0'],
];

test.each(RECORDED.map((r, i) => [i, r] as const))('recorded token %i rebuilds its image byte for byte', (_i, recorded) => {
  const r = repro(recorded.token);
  expect(r.digest).toBe(recorded.digest);
  expect(r.violations.map((v) => v.promise)).toEqual(recorded.violations);
});

test.each(EARLIER)('a token of model revision %i is refused with its reason: %s', (revision, token) => {
  expect(() => repro(token)).toThrow(TokenError);
  expect(() => repro(token)).toThrow(new RegExp(`model revision ${revision}; this daxcrash rebuilds model revision 3`));
});
