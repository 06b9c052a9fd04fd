/**
 * Scenarios: a known-good writer (write, fsync, rename, fsync the directory) holds its promise
 * at every crash point; a known-bad one (in place) is caught; a finding's token rebuilds the
 * same finding; results repeat for a seed; malformed scenarios are refused naming the field.
 */
import * as path from 'node:path';
import { UsageError } from '../../core/errors';
import { Scenario, ScenarioError, reproScenario, runScenario, scenariosIn, smallestFinding, validateScenario } from '../../crash/scenario';
import { decodeScenarioToken, encodeScenarioToken } from '../../crash/scenario-token';
import { TokenError } from '../../crash/token';

const FILE = path.relative(process.cwd(), path.join(__dirname, '..', 'fixtures', 'scenarios', 'tiny-store-cjs.scenarios.js'));
const SMALL = { deviceBytes: 64 << 20 } as const;

async function fixture(name: string): Promise<Scenario> {
  const found = (await scenariosIn(FILE)).find((s) => s.name.startsWith(name));
  if (found === undefined) throw new Error(`no scenario ${name}`);
  return found;
}

describe('scenarios on the CommonJS fixture package', () => {
  test('the known-good writer holds at every crash point; the known-bad one is caught, with a token that rebuilds it', async () => {
    const good = await runScenario(await fixture('saveSafe'), { file: FILE, ...SMALL });
    expect(good.result.statesChecked).toBeGreaterThan(1000);
    expect(good.result.findingCount).toBe(0);
    expect(good.token).toBeUndefined();

    const bad = await runScenario(await fixture('saveNaive'), { file: FILE, ...SMALL });
    expect(bad.result.findingCounts.invariant).toBeGreaterThan(0);
    expect(bad.smallest).toBe(smallestFinding(bad.result.findings));
    expect(bad.smallest?.inFlight).toMatch(/^writeSync\(/);
    const spec = decodeScenarioToken(bad.token as string);
    expect(spec).toMatchObject({ file: FILE, scenario: bad.name, seed: '0', deviceBytes: 64 << 20, points: 'flushes', commitAfter: true, point: bad.smallest?.point });
    const again = await reproScenario(spec);
    expect(again.result.statesChecked).toBe(1);
    expect(again.result.findings.map((f) => [f.kind, f.message, f.point, f.state])).toEqual([[bad.smallest?.kind, bad.smallest?.message, bad.smallest?.point, bad.smallest?.state]]);
  });

  test('the same seed gives the same result, byte for byte', async () => {
    const scenario = await fixture('saveNaive');
    const strip = (r: Awaited<ReturnType<typeof runScenario>>) => JSON.stringify({ ...r.result, findings: r.result.findings.map((f) => ({ ...f, image: undefined })) });
    const a = await runScenario(scenario, { file: FILE, ...SMALL, seed: '7' });
    const b = await runScenario(scenario, { file: FILE, ...SMALL, seed: '7' });
    expect(strip(a)).toBe(strip(b));
    expect(a.token).toBe(b.token);
  });

  test('a run that throws before any crash is a ScenarioError naming the scenario and the phase', async () => {
    const broken: Scenario = { name: 'throws', run: () => { throw new Error('no such key'); }, check: () => true };
    await expect(runScenario(broken, { file: FILE, ...SMALL })).rejects.toThrow(ScenarioError);
    await expect(runScenario(broken, { file: FILE, ...SMALL })).rejects.toThrow('scenario "throws": its run threw before any crash: no such key');
  });
});

describe('scenario validation and tokens', () => {
  const none = (): undefined => undefined;
  const yes = (): boolean => true;
  test.each([
    ['no name', { run: none, check: yes }, "'name' must be a non-empty string"],
    ['no run', { name: 'x', check: yes }, "'run' must be a function"],
    ['no check', { name: 'x', run: none }, "'check' must be a function"],
    ['a setup that is not a function', { name: 'x', run: none, check: yes, setup: 3 }, "'setup' must be a function"],
    ['promised not a boolean', { name: 'x', run: none, check: yes, promised: 'yes' }, "'promised' must be true or false"],
    ['an unknown field', { name: 'x', run: none, check: yes, invariant: yes }, 'unknown field(s) invariant'],
  ])('refused: %s', (_what, scenario, message) => {
    expect(() => validateScenario(scenario as unknown as Scenario, 'f.js')).toThrow(UsageError);
    expect(() => validateScenario(scenario as unknown as Scenario, 'f.js')).toThrow(message);
  });

  test('a file that is not there, or exports nothing usable, is a usage error', async () => {
    await expect(scenariosIn('no/such/file.js')).rejects.toThrow('no scenario file at no/such/file.js');
    await expect(scenariosIn(path.join(__dirname, '..', 'fixtures', 'packages', 'tiny-store-cjs', 'shadow.js'))).rejects.toThrow(UsageError);
  });

  test('tokens round-trip and refuse damage', () => {
    const spec = {
      file: 'a.js', scenario: 'save', setup: { profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', flushHint: false },
      seed: 's', deviceBytes: 1 << 30, points: 'flushes', commitAfter: false, point: 12, state: { kind: 'bounded', epochs: 0, subset: [], units: [3] },
    } as const;
    const token = encodeScenarioToken(spec);
    expect(token).toMatch(/^dxs1-[A-Za-z0-9_-]+$/);
    expect(decodeScenarioToken(token)).toEqual(spec);
    const flipped = token.slice(0, -3) + (token.at(-3) === 'A' ? 'B' : 'A') + token.slice(-2);
    expect(() => decodeScenarioToken(flipped)).toThrow(TokenError);
    expect(() => decodeScenarioToken(token.slice(0, 8))).toThrow(TokenError);
    expect(() => decodeScenarioToken('dx2-abc')).toThrow("not a scenario token");
  });
});
