/**
 * Tokens written by daxcrash before the one-pipeline change (commit f5e6bef, token model of
 * dx1) rebuild the same crash image, byte for byte (its sha256), and yield the same
 * promises: the recording loop, the setup codes and the stream tree kept every draw where it
 * was. A generated workload (bounded, random with its seed), an embedded operation list,
 * sampled and bounded crash states, Arm and x86 setups.
 */
import { repro } from '../../crash/repro';

const RECORDED: ReadonlyArray<{ token: string; digest: string; violations: string[] }> = [
  { token: 'dx1-BABkAAIAAAhyZWNvcmRlZIAgHggDAAABqAG3b3y7', digest: '2d7ac32a6440263adc310f715d836a8fadb6091da9837e1c10da2696b5db72df', violations: ['G2', 'G4'] },
  { token: 'dx1-BAGJBgAAAQAIcmVjb3JkZWSAIN0CDwIC4cWBUw', digest: 'dc2fa45748a86c6d1da44934fbe03a898fa32d8207d6e4e2d2cc53b5fe302b46', violations: ['G2', 'G4'] },
  { token: 'dx1-BgMDA3RvawABAQADdG9rgCCPAycCAB1uFYo', digest: '99e6990903d4ceb777a3de2170ed2cf4cc5bc4213945ea8bc33929ca86bb4af8', violations: ['G2', 'G3'] },
  { token: 'dx1-BADIAQIAAAAIcmVjb3JkZWSAIJMBCAMAAAGoAcTh5vI', digest: '2d7ac32a6440263adc310f715d836a8fadb6091da9837e1c10da2696b5db72df', violations: ['G2', 'G4'] },
  {
    token: 'dx1-BZ4BjZDLCsIwEEV_pVy3UROXgX6JuBjTaS2YB8mIlNJ_Fx-oFIquD3PmzIwI5BkWlFJZ6Yok-t6tM6czOa5yvISm1KY6DsKlNlpDIaYCux8REyxcZhIoJJITLLYNCWFSL3rNvfCcKsS2LSywWuHMobszo7WCUAdr3tNtGYJbdM_ph8ybxKeNWY564h9Vu8W9M3vmx0cV2hz9t17iPzccphsEBgEABng4NnJlY4AgSgUCALMPhiY',
    digest: 'c5d5056c12c98959213abd07a687cb529f0f0884e528ed63c6247bf0edd13bd5', violations: ['G2', 'G3'],
  },
];

test.each(RECORDED.map((r, i) => [i, r] as const))('recorded token %i rebuilds its image byte for byte', (_i, recorded) => {
  const r = repro(recorded.token);
  expect(r.digest).toBe(recorded.digest);
  expect(r.violations.map((v) => v.promise)).toEqual(recorded.violations);
});
