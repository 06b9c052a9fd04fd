/**
 * The recall harness of `npm run canary` (recall.ts) on a budget of a few units: it runs the
 * campaign `daxcrash run` makes of the spec's canary suite and setups, with the canary
 * switched on for every unit, and stops at the first unit with a finding. The full table is
 * too long for `npm test`; the catalog test holds the fast sample to 100% recall.
 */
import { campaignRun } from '../../crash/campaign';
import { decodeToken } from '../../crash/token';
import { CANARY_SETUPS, RecallOptions, recallArgs, recallOf, recallSpec } from './recall';

const OPTIONS: RecallOptions = { budgetUnits: 9, seed: '1', shrinkTries: 0, extraArgs: [] };

describe('recall as a user runs the tool', () => {
  test('is the campaign of daxcrash run on the canary suite and setups, cut at the budget', () => {
    expect(recallArgs(OPTIONS)).toEqual(expect.arrayContaining(['--suite', 'bounded-1,bounded-2,apps,shapes', '--limit', '9']));
    const run = campaignRun(recallSpec(OPTIONS));
    expect(run.setups).toEqual(CANARY_SETUPS);
    expect(run.suites).toEqual(['bounded-1', 'bounded-2', 'apps', 'shapes']);
    expect(run.plannedUnits).toBe(9);
    expect(run.skipped.map((s) => s.setup).sort()).toEqual(['armv8.2 linux-x86', 'x86-adr linux-arm64', 'x86-adr linux-arm64-nosync']);
  });

  test('a canary is caught in the first unit with a finding, and the run stops there', async () => {
    let clock = 0;
    const row = await recallOf('commit-before-log', OPTIONS, () => clock++);
    expect(row.caught).toBe(true);
    expect(row.units).toBeLessThan(OPTIONS.budgetUnits);
    expect(row.unit).toMatch(/\/(bounded-[12]|apps|shapes)#\d+\//);
    expect(Object.keys(row.promises).length).toBeGreaterThan(0);
    expect(row.states).toBeGreaterThan(0);
    expect(decodeToken(row.token as string).setup.pmemApi).toBe(row.setup?.split('/')[0]);
  });
});
