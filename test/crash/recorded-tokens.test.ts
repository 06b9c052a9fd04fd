/**
 * Recorded tokens: tokens this daxcrash wrote rebuild the same crash image, byte for byte
 * (its sha256), and yield the same promises; tokens of an earlier model revision are refused
 * with a message that says so, never rebuilt into another state (crash/token.ts).
 *
 * Revision 2 (daxcrash 0.3): a generated workload (bounded, random with its seed), an
 * embedded operation list, sampled and bounded crash states, Arm and x86 setups. Revision 1
 * (`dx1-`, daxcrash 0.2): tokens recorded before the crash-point rule and the checks changed.
 * When the model moves again, the tokens below move to the refused list and new ones are
 * recorded.
 */
import { TokenError } from '../../crash/token';
import { repro } from '../../crash/repro';

const RECORDED: ReadonlyArray<{ token: string; digest: string; violations: string[] }> = [
  { token: 'dx2-AgQAZAACAAAIcmVjb3JkZWSAIBoHAwAAAawBbpNXEQ', digest: '010712211df450a9c5fe2db312bbbd3afd157f6c5d3e7624bc4d3046c6053ce5', violations: ['G2'] },
  { token: 'dx2-AgQBiQYAAAEACHJlY29yZGVkgCBWBwIAuph1Fg', digest: '66b44d134c89ba0a01bdab674c592fa68afd09a5a3c8fcce74a6e015f7aa5126', violations: ['G2'] },
  { token: 'dx2-AgYDAwN0b2sAAQEAA3Rva4Ag3wInAgDFgQQy', digest: '30e32e89daaee17af52ccec779553f96700b2ac12195b9be7191ff08d596c9ac', violations: ['G2'] },
  {
    token: 'dx2-AgWeAY2QywrCMBBFf6Vct1ETl4F-ibgY02ktmAfJiJTSfxcfqBSKrg9z5syMCOQZFpRSWemKJPrerTOnMzmucryEptSmOg7CpTZaQyGmArsfERMsXGYSKCSSEyy2DQlhUi96zb3wnCrEti0ssFrhzKG7M6O1glAHa97TbRmCW3TP6YfMm8SnjVmOeuIfVbvFvTN75sdHFdoc_bde4j83HKYbBAYBAAhyZWNvcmRlZIAgVAUDAAJYSgDkyj4a',
    digest: '3477676b858d2f34614964b2c8aa3f7e9b0c21098b325ac01b82b3790f6aef97', violations: ['G2'],
  },
  { token: 'dx2-AgQAyAECAAAACHJlY29yZGVkgCBzBwMAAAGmASELeN0', digest: '3bf348ec88758e2b36692707cfa38d116b6a162099b61d141a269eb0f7d88c06', violations: ['G2'] },
];

/** Recorded by daxcrash 0.2 (model revision 1). */
const EARLIER = ['dx1-BABkAAIAAAhyZWNvcmRlZIAgHggDAAABqAG3b3y7', 'dx1-BgMDA3RvawABAQADdG9rgCCPAycCAB1uFYo'];

test.each(RECORDED.map((r, i) => [i, r] as const))('recorded token %i rebuilds its image byte for byte', (_i, recorded) => {
  const r = repro(recorded.token);
  expect(r.digest).toBe(recorded.digest);
  expect(r.violations.map((v) => v.promise)).toEqual(recorded.violations);
});

test.each(EARLIER)('a token of model revision 1 is refused with its reason: %s', (token) => {
  expect(() => repro(token)).toThrow(TokenError);
  expect(() => repro(token)).toThrow(/model revision 1; this daxcrash rebuilds model revision 2/);
});
