import { LITMUS_TESTS, checkClaim } from '../../device/litmus-catalog';

/** Every claim of the catalogue (spec section 6 and the derived tests) on every profile it names. */
const cases = LITMUS_TESTS.flatMap((test) =>
  test.claims.flatMap((claim) => claim.profiles.map((profile) => ({ test, claim, profile }))));

describe('litmus catalogue', () => {
  test('covers the sixteen tests of the spec', () => {
    const ids = new Set(LITMUS_TESTS.map((t) => t.id.replace(/[a-z]+$/, '')));
    for (let i = 1; i <= 16; i++) expect(ids.has(String(i))).toBe(true);
  });

  test.each(cases.map((c) => [`${c.test.id} ${c.profile}${c.claim.options ? ' ' + JSON.stringify(c.claim.options) : ''}`, c]))(
    '%s',
    (_name, c) => {
      const result = checkClaim(c.test, c.claim, c.profile);
      expect({ threw: result.threw, missing: result.missing, unexpected: result.unexpected })
        .toEqual({ threw: Boolean(c.claim.throws), missing: [], unexpected: [] });
    },
  );
});
