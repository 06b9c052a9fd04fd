/**
 * Scenarios: crash-testing an installed package in the package's own words. A scenario names
 * what the package promises, prepares the files (setup), performs one operation through the
 * package (run: "save v2"), and states the promise as an invariant over what survives
 * (check: "the file holds v1 or v2, whole"; "after save() resolved, v2 survives"). The
 * runner is crashTest (crash-test.ts): the run is recorded on our file system, crashed at
 * every chosen point, recovered, and the check judges each recovered image.
 *
 * Each phase loads the package afresh (crash/module-loader.ts) with `fs` bound to that
 * phase's file system: setup and run on the recording device, each check on its recovered
 * image. Each phase has its own simulated clock (crash/fake-clock.ts): the package's timers
 * fire when the phase is otherwise idle, so a retry delay or a debounce runs the same way
 * every time; `sleep(ms)` moves the clock on purpose. The run starts when the setup's clock
 * stopped; checks start one minute of simulated time after the run ended (a reboot). Entropy
 * the package draws comes from the seed's `package/<phase>` stream (core/streams.ts); a
 * check's phase is named by its image and position, so a finding's replay (`only`) draws
 * what the full run drew.
 *
 * Invariants: the result is a function of the scenario, the package's files, the options
 * and the seed; a scenario that is not well formed is refused before anything runs, with
 * the field named.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import { UsageError } from '../core/errors';
import { StreamTree } from '../core/streams';
import { DEFAULT_DEVICE_BYTES } from '../core/limits';
import type { CrashState } from '../device/crash';
import { CrashContext, CrashTestFinding, CrashTestFs, CrashTestOptions, CrashTestResult, crashTest } from './crash-test';
import { ScenarioReproSpec, encodeScenarioToken } from './scenario-token';
import { featuresField, resolveSetup } from './setup';
import { FakeClock, FAKE_EPOCH_MS } from './fake-clock';
import { ModuleScope, formatOf, nativeImport } from './module-loader';

/** What each phase of a scenario receives. */
export interface ScenarioTools {
  /** The phase's file system, as Node's `fs` (the same object the package gets). */
  readonly fs: CrashTestFs;
  /**
   * Load a package or file as the scenario file would (`require` for CommonJS, `import` for
   * ES modules, resolved from the scenario file), bound to this phase's file system. Two
   * loads in one phase share module instances; phases never do.
   */
  load(specifier: string): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a package's exports
  /** Move this phase's simulated clock `ms` forward, firing the package's timers due by then. */
  sleep(ms: number): Promise<void>;
  /** Record that the run reached a named step (checks see it through `reached`); no-op outside the run. */
  mark(label: string): void;
  /** This phase's simulated clock. */
  readonly clock: FakeClock;
}

/** What a check receives in addition: where the power failed. */
export interface ScenarioCheckTools extends ScenarioTools {
  readonly crash: CrashContext;
  /** Whether the run had reached mark `label` when the power failed. */
  reached(label: string): boolean;
}

export interface Scenario {
  readonly name: string;
  /** The promise under test, in the package's own words (quoted from its documentation), and where it says so. */
  readonly promise?: string;
  /**
   * False: the package does not document this property; the scenario observes what happens
   * (a finding is reported as an observation, not as a broken promise). Default true.
   */
  readonly promised?: boolean;
  /** Prepares the files; runs without crashes, then the file system is unmounted cleanly. */
  readonly setup?: (tools: ScenarioTools) => unknown;
  /** The operation under test; the power fails at every chosen point of it. */
  readonly run: (tools: ScenarioTools) => unknown;
  /** The promise as an invariant: throw or return false when the recovered files break it. */
  readonly check: (tools: ScenarioCheckTools) => boolean | void | Promise<boolean | void>;
  /** The scenario's own crash options (a caller's options override them). */
  readonly crash?: ScenarioCrashOptions;
  /** Environment variables the package sees on top of the fixed SCOPE_ENV (never the host's). */
  readonly env?: Readonly<Record<string, string>>;
}

export type ScenarioCrashOptions = Partial<Pick<CrashTestOptions,
  'profile' | 'pmemApi' | 'policy' | 'flushHint' | 'deviceBytes' | 'features' | 'seed' | 'points' | 'states' | 'limit' | 'fsck' | 'keepFindings' | 'commitAfter'>>;

export interface ScenarioRunOptions extends ScenarioCrashOptions {
  /** The scenario file: `load` resolves from here. */
  readonly file: string;
  readonly only?: CrashTestOptions['only'];
}

export interface ScenarioResult {
  readonly name: string;
  readonly promise: string | undefined;
  /** Whether the package documents the property (false: the result is an observation). */
  readonly promised: boolean;
  readonly file: string;
  readonly result: CrashTestResult;
  /** The smallest finding kept (earliest crash point, then the state with the fewest choices), or undefined. */
  readonly smallest: CrashTestFinding | undefined;
  /** Its token (`daxcrash repro TOKEN`). */
  readonly token: string | undefined;
}

/** Types a scenario (identity at run time). */
export function defineScenario<S extends Scenario>(scenario: S): S {
  return scenario;
}

/** A check starts this long (simulated) after the run's clock stopped: the reboot. */
export const REBOOT_MS = 60_000;
const SCENARIO_FIELDS = new Set(['name', 'promise', 'promised', 'setup', 'run', 'check', 'crash', 'env']);

/** Crash-test one scenario. */
export async function runScenario(scenario: Scenario, options: ScenarioRunOptions): Promise<ScenarioResult> {
  validateScenario(scenario, options.file);
  const from = nodePath.resolve(options.file);
  const merged: ScenarioCrashOptions = { ...scenario.crash, ...definedOnly(options) };
  const streams = StreamTree.of(merged.seed ?? '0');
  let setupEnded = FAKE_EPOCH_MS;
  let runEnded = FAKE_EPOCH_MS;

  const phase = (fs: CrashTestFs, name: string, startMs: number, mark: (label: string) => void) => {
    const clock = new FakeClock(startMs);
    let scope: ModuleScope | undefined;
    const tools: ScenarioTools = {
      fs, clock, mark,
      load: (specifier: string) => {
        scope ??= new ModuleScope({ fs: fs as unknown as ModuleScope['bindings']['fs'], clock, entropy: streams.packageEntropy(name), env: scenario.env });
        return clock.whileBusy(scope.load(specifier, from));
      },
      sleep: (ms: number) => clock.advance(ms),
    };
    return { tools, clock, dispose: () => scope?.dispose() };
  };

  const result = await crashTest(async (fs, t) => {
    const p = phase(fs, 'run', setupEnded, (label) => t.mark(label));
    try {
      await phaseRun(scenario, 'run', () => p.clock.settle(scenario.run(p.tools)));
    } finally {
      runEnded = p.clock.now();
      p.dispose();
    }
  }, {
    ...merged,
    only: options.only,
    setup: scenario.setup === undefined ? undefined : async (fs) => {
      const p = phase(fs, 'setup', FAKE_EPOCH_MS, () => undefined);
      try {
        await phaseRun(scenario, 'setup', () => p.clock.settle((scenario.setup as (t: ScenarioTools) => unknown)(p.tools)));
      } finally {
        setupEnded = p.clock.now();
        p.dispose();
      }
    },
    check: Object.defineProperty(async (fs: CrashTestFs, crash: CrashContext) => {
      const p = phase(fs, `check-${phaseKey(crash)}`, runEnded + REBOOT_MS, () => undefined);
      try {
        const tools: ScenarioCheckTools = { ...p.tools, crash, reached: (label: string) => crash.marks.includes(label) };
        return await p.clock.settle(scenario.check(tools));
      } finally {
        p.dispose();
      }
    }, 'name', { value: 'check' }),
  });
  const smallest = smallestFinding(result.findings);
  const token = smallest === undefined ? undefined : encodeScenarioToken({
    file: options.file, scenario: scenario.name, setup: resolveSetup({ profile: result.profile, pmemApi: result.pmemApi, policy: result.policy, flushHint: merged.flushHint }),
    seed: result.seed, deviceBytes: merged.deviceBytes ?? DEFAULT_DEVICE_BYTES, points: merged.points ?? 'flushes',
    commitAfter: merged.commitAfter ?? true, point: smallest.point, state: smallest.state,
    ...featuresField(merged.features),
  });
  return { name: scenario.name, promise: scenario.promise, promised: scenario.promised ?? true, file: options.file, result, smallest, token };
}

/** What the file system itself did in a run (not the package's doing): images that did not mount, fsck problems. */
export function fileSystemFailures(result: CrashTestResult): string[] {
  const { mount = 0, fsck = 0 } = result.findingCounts;
  return [mount > 0 ? `${mount} did not mount` : '', fsck > 0 ? `${fsck} with fsck problems` : ''].filter((p) => p !== '');
}

/** Reproduce one finding from its token: the scenario run again, checked at its crash point and state only. */
export async function reproScenario(spec: ScenarioReproSpec): Promise<ScenarioResult> {
  const scenario = (await scenariosIn(spec.file)).find((s) => s.name === spec.scenario);
  if (scenario === undefined) throw new UsageError(`${spec.file} has no scenario named ${JSON.stringify(spec.scenario)}`, 'run repro from the directory test-module ran in, with the same scenario file');
  return runScenario(scenario, {
    file: spec.file, profile: spec.setup.profile, pmemApi: spec.setup.pmemApi, policy: spec.setup.policy, flushHint: spec.setup.flushHint,
    seed: spec.seed, deviceBytes: spec.deviceBytes, features: spec.features, points: spec.points, commitAfter: spec.commitAfter, only: { point: spec.point, state: spec.state },
  });
}

/** The earliest crash point's finding whose state makes the fewest choices (ties: the first). */
export function smallestFinding(findings: readonly CrashTestFinding[]): CrashTestFinding | undefined {
  let best: CrashTestFinding | undefined;
  for (const f of findings) {
    if (best === undefined || f.point < best.point || (f.point === best.point && stateWeight(f.state) < stateWeight(best.state))) best = f;
  }
  return best;
}

/** How many choices a state makes (newest makes none; a sampled state is never preferred). */
function stateWeight(state: CrashState): number {
  switch (state.kind) {
    case 'newest': return 0;
    case 'bounded': return state.subset.length + state.units.length;
    case 'cut': return state.subset.length + 1;
    default: return Number.MAX_SAFE_INTEGER;
  }
}

/** A scenario's setup or run threw (no crash was involved): the scenario cannot be judged. */
export class ScenarioError extends UsageError {
  override name = 'ScenarioError';
}

/** Run a phase; what it throws becomes a ScenarioError naming the scenario and the phase, with the stack as the hint. */
async function phaseRun(scenario: Scenario, phaseName: 'setup' | 'run', body: () => Promise<unknown>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const error = err instanceof Error ? err : new Error(String(err));
    const stack = (error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 6).join('\n');
    throw new ScenarioError(`scenario ${JSON.stringify(scenario.name)}: its ${phaseName} threw before any crash: ${error.message}`,
      stack === '' ? `the ${phaseName} must complete on a healthy file system` : `where:\n${stack}`);
  }
}

/** The scenarios a file exports: `module.exports` / `export default` a scenario, a list of them, or `{ scenarios }`. */
export async function scenariosIn(file: string): Promise<Scenario[]> {
  const path = nodePath.resolve(file);
  if (!existsSync(path)) throw new UsageError(`no scenario file at ${file}`);
  let exported: unknown;
  if (formatOf(path) === 'module') {
    const namespace = (await nativeImport(pathToFileURL(path).href)) as { default?: unknown; scenarios?: unknown };
    exported = namespace.default ?? namespace;
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the user's scenario file, CommonJS
    exported = require(path) as unknown;
  }
  const record = exported as { scenarios?: unknown; default?: unknown } | undefined;
  const value = record?.scenarios ?? (record !== undefined && isScenarioLike(record.default) ? record.default : exported);
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new UsageError(`${file} exports no scenario`);
  for (const s of list) validateScenario(s as Scenario, file);
  const names = new Set<string>();
  for (const s of list as Scenario[]) {
    if (names.has(s.name)) throw new UsageError(`${file}: two scenarios are named ${JSON.stringify(s.name)}`);
    names.add(s.name);
  }
  return list as Scenario[];
}

/** Refuse a malformed scenario, naming the field. */
export function validateScenario(s: Scenario, file: string): void {
  const where = `${file}: scenario ${typeof s?.name === 'string' ? JSON.stringify(s.name) : '(unnamed)'}`;
  if (s === null || typeof s !== 'object') throw new UsageError(`${file}: a scenario is an object with name, run and check; got ${s === null ? 'null' : typeof s}`);
  if (typeof s.name !== 'string' || s.name.trim() === '') throw new UsageError(`${where}: 'name' must be a non-empty string`);
  if (typeof s.run !== 'function') throw new UsageError(`${where}: 'run' must be a function (the operation under test)`);
  if (typeof s.check !== 'function') throw new UsageError(`${where}: 'check' must be a function (the promise, as an invariant)`);
  if (s.setup !== undefined && typeof s.setup !== 'function') throw new UsageError(`${where}: 'setup' must be a function when given`);
  if (s.promise !== undefined && typeof s.promise !== 'string') throw new UsageError(`${where}: 'promise' must be a string when given`);
  if (s.promised !== undefined && typeof s.promised !== 'boolean') throw new UsageError(`${where}: 'promised' must be true or false when given`);
  if (s.crash !== undefined && (s.crash === null || typeof s.crash !== 'object')) throw new UsageError(`${where}: 'crash' must be an object of crash options when given`);
  if (s.env !== undefined && (s.env === null || typeof s.env !== 'object' || Object.values(s.env).some((v) => typeof v !== 'string'))) {
    throw new UsageError(`${where}: 'env' must be an object of string values when given`);
  }
  const unknown = Object.keys(s).filter((k) => !SCENARIO_FIELDS.has(k));
  if (unknown.length > 0) throw new UsageError(`${where}: unknown field(s) ${unknown.join(', ')} (a scenario has ${[...SCENARIO_FIELDS].join(', ')})`);
}

function isScenarioLike(value: unknown): boolean {
  return Array.isArray(value) || (value !== null && typeof value === 'object' && 'run' in value);
}

/** A check's phase name: its image and position, so a replay draws what the full run drew. */
function phaseKey(crash: CrashContext): string {
  return createHash('sha256').update(`${crash.imageDigest}|${crash.calls.length}|${crash.inFlight ?? ''}|${crash.marks.length}`).digest('hex').slice(0, 16);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k !== 'file' && k !== 'only')) as Partial<T>;
}
