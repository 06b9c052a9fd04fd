/** The crash layer's export list: the oracle, the checks of G1 to G8, the engine. */
export { runOracle, snapshot, namespaceKey } from './oracle';
export type { OracleRun, Snapshot, Entry, EntryType } from './oracle';
export { judge, recoverImage, namespaceDiff, PROMISES } from './check';
export type { PromiseId, Violation, CrashPosition, Recovered } from './check';
export type { MountSetup } from './setup';
export { runUnit } from './engine';
export type { EngineOptions, Finding, UnitResult, CrashPointChoice, StateChoice } from './engine';
export { runCampaign, campaignParams, campaignRun, campaignUnits, suiteLabel, packageVersion, CampaignControl, CampaignAborted, CAMPAIGN_DEFAULTS } from './campaign';
export type { CampaignSpec, CampaignHooks } from './campaign';
export { campaignTable, textTable } from './report-text';
export { boot, setupDevice, mountSetup, baseImage, setupLabel, parseSetupLabel, policyLabel, resolveSetup, POLICY_NAMES } from './setup';
export type { BootOptions, Booted } from './setup';
export { Recording, recordWorkload } from './record';
export type { RecordingOptions, WorkloadStep } from './record';
export { reproductionTimeline, timelineEvent, workloadLines, MAX_TIMELINE_WORDS } from './timeline';
export type { Timeline, TimelineEvent, TimelineWord, TimelineEventKind, WordFate } from './timeline';
export { runMmapWorkload, MMAP_DRAINS } from './mmap';
export type { MmapDrain, MmapResult } from './mmap';
export { shrink, choices, MAX_SHRINK_TRIES } from './shrink';
export type { ShrinkResult } from './shrink';
export { encodeToken, decodeToken, workloadOf, TokenError, TOKEN_VERSION } from './token';
export type { ReproSpec, WorkloadRef } from './token';
export { repro, findingSpec, findingToken, REPRO_EVENTS_BEFORE } from './repro';
export type { Reproduction, FindingTokenOptions } from './repro';
export { crashTest, fsObject, PERIODIC_COMMIT } from './crash-test';
export type {
  CrashTestOptions, CrashTestResult, CrashTestFinding, CrashTestFs, CrashTestTools, CrashContext, CrashInvariant, CrashReplay,
  CrashFindingKind, CrashTestSyncName,
} from './crash-test';
export { runScenario, scenariosIn, defineScenario, reproScenario, validateScenario, smallestFinding, ScenarioError, REBOOT_MS } from './scenario';
export type { Scenario, ScenarioTools, ScenarioCheckTools, ScenarioCrashOptions, ScenarioRunOptions, ScenarioResult } from './scenario';
export { encodeScenarioToken, decodeScenarioToken, isScenarioToken, SCENARIO_TOKEN_PREFIX } from './scenario-token';
export type { ScenarioReproSpec } from './scenario-token';
export { ModuleScope, SCOPE_PID } from './module-loader';
export type { ScopeBindings } from './module-loader';
export { FakeClock, FakeTimer, FAKE_EPOCH_MS } from './fake-clock';
export { crashPointWatcher, statesAt, isCrashPointKind } from './points';
export { makePlan, inShard, parseShard, parseList, parseWorkloadFile, workloadFileLabel, flavourProblem, drainProblem, unitWorkload, MMAP_RECORDS, DEFAULT_RANDOM_WORKLOADS } from './plan';
export type { Plan, PlanParams, UnitSpec, SuiteSpec, Shard, SkippedSetup } from './plan';
export { runPlannedUnit, canonicalJson, resultsDigest, parseRecord, recordFindings, RECORD_VERSION } from './results';
export type { UnitRecord, FsUnitRecord, MmapUnitRecord, RecordedFinding, UnitCost, UnitEngineOptions } from './results';
export { UnitPool, UnitFailure } from './pool';
export type { PoolOutcome } from './pool';
export { buildReport, shardUnits, hasFindings, REPORT_SCHEMA } from './report';
export type { Report, ReportRun, ComboReport, KindReport, FirstFinding, ShrunkFinding, MmapComboReport, ReportTotals, CostPerOp } from './report';
