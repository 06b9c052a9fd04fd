/**
 * daxcrash, the library: the typed public API, one export list. Everything here is also what
 * the `daxcrash` command is built from; anything not exported here is internal and may change.
 *
 * - The device: {@link PmemDevice} (a simulated pmem0 with a profile's persistence rules),
 *   its profiles, and {@link pmemApi} (the kernel's pmem API flavours over it).
 * - The file system: {@link mkfs}, {@link mount} (journal recovery included) and {@link fsck}.
 * - Crash checking of workloads: {@link runUnit} (one workload), {@link runCampaign} (the
 *   CLI's report, as a value) and {@link campaignTable}, {@link shrink}, reproduction tokens ({@link encodeToken},
 *   {@link decodeToken}) and {@link repro}.
 * - Crash checking of your own code: {@link crashTest}.
 *
 * Determinism: every result depends only on its inputs and seed; nothing reads the clock,
 * the environment or fresh entropy.
 *
 * @example
 * ```ts
 * import { crashTest } from 'daxcrash';
 * const result = await crashTest(async (fs) => {
 *   await fs.promises.writeFile('/config.json.tmp', '{"v":2}');
 *   const handle = await fs.promises.open('/config.json.tmp', 'r');
 *   await handle.sync();
 *   await handle.close();
 *   await fs.promises.rename('/config.json.tmp', '/config.json');
 * }, {
 *   setup: (fs) => fs.writeFileSync('/config.json', '{"v":1}'),
 *   check: (fs) => ['{"v":1}', '{"v":2}'].includes(fs.readFileSync('/config.json', 'utf8') as string),
 * });
 * console.log(result.findingCount); // 0
 * ```
 *
 * @packageDocumentation
 */

// ---------------------------------------------------------------- the device

/**
 * A simulated persistent-memory device (pmem0): stores, cache maintenance and barriers with
 * the persistence rules of a profile, crash points and crash images.
 */
export { PmemDevice, PowerFailure, UndefinedInstruction } from './device';
export type { PmemDeviceOptions, BarrierKind, DeviceStats } from './device';
/** The persistence profiles ('armv8.2', 'armv8.0-adr', 'armv8.0', 'armv8.5', 'x86-adr', 'x86-eadr'). */
export { PROFILE_NAMES, getProfile, isProfileName } from './device';
export type { Profile, ProfileName, Granularity, CrashKind } from './device';
/**
 * `pmemApi(name, device)`: a flavour of the kernel's pmem API (memcpy_flushcache,
 * arch_wb_cache_pmem, pmem_wmb...) over a device.
 */
export { pmemApi, isPmemApiName, pmemApiSummary, PMEM_API_NAMES } from './device';
export type { PmemApi, PmemApiName } from './device';
/** Crash points and crash states of a device, and the images they materialise. */
export { CrashPoint, CrashImage, InvalidCrashState } from './device';
export type { CrashState, CrashChoices, MediaSource } from './device';
/** Run a small program on a fresh device and list its persisted outcomes over every crash. */
export { reachableOutcomes } from './device';

// ---------------------------------------------------------------- the file system

/**
 * `mkfs(device, options?)` writes an ext4 image with a jbd2 journal; `mount(device, { policy,
 * pmemApi })` recovers the journal and returns a file system with Node's sync API
 * (`openSync`, `writeSync`, `fsyncSync`, `renameSync`...); `fsck(device)` lists typed problems.
 */
export { mkfs, mount, mountWithReport, fsck, formatProblems, FLUSH_POLICIES, DaxFileSystem, asyncApi, nodeFsModule } from './fs';
export type { MkfsOptions, MountOptions, MountReport, FlushPolicy, FsckProblem, FsckProblemKind, AsyncApi } from './fs';

// ---------------------------------------------------------------- crash checking of workloads

/** One workload on one setup: crash points, crash states, recovery and the promises G0 to G9. */
export { runUnit, PROMISES } from './crash';
export type { EngineOptions, UnitResult, Finding, MountSetup, PromiseId, CrashPointChoice, StateChoice } from './crash';
/**
 * Campaigns: workloads across profiles, pmem API flavours and policies — plan, units (on
 * worker threads if asked), and the report the CLI writes (`daxcrash-report/1`) — and its table.
 */
export { runCampaign, campaignTable, CampaignControl, CampaignAborted } from './crash';
export type { CampaignSpec, CampaignHooks, Report, ComboReport, KindReport, SuiteSpec, Timeline } from './crash';
/** Shrinking a failing workload, reproduction tokens (dx2-...), and rebuilding a finding from one. */
export { shrink, encodeToken, decodeToken, TokenError, repro, findingToken } from './crash';
export type { ShrinkResult, ReproSpec, Reproduction } from './crash';
/** Workloads as data, and the generated suites. */
export type { Workload, Op } from './workloads';
export { SUITE_NAMES, workloadSpace } from './workloads';

// ---------------------------------------------------------------- crash checking of your code

/**
 * `crashTest(fn, options)`: run your function against our file system, crash it at every
 * chosen point, recover, and hold your invariants (`options.check`) on each recovered image.
 */
export { crashTest, PERIODIC_COMMIT } from './crash';
export type {
  CrashTestOptions, CrashTestResult, CrashTestFinding, CrashTestFs, CrashTestTools, CrashContext, CrashInvariant, CrashReplay,
  CrashFindingKind,
} from './crash';

/**
 * Installed packages, unchanged: `runScenario(scenario, { file })` loads the package with its
 * `fs` bound to our file system (CommonJS and ES modules), runs the scenario's operation
 * under crashTest, and holds the scenario's check (docs/ecosystem.md).
 */
export { runScenario, scenariosIn, defineScenario, reproScenario, encodeScenarioToken, decodeScenarioToken, ModuleScope, FakeClock } from './crash';
export type { Scenario, ScenarioTools, ScenarioCheckTools, ScenarioResult, ScenarioReproSpec, ScopeBindings } from './crash';
