/**
 * `daxcrash test-module FILE`: crash-test installed packages through a scenario file
 * (crash/scenario.ts). Each scenario of the file runs on the setup asked (default armv8.2,
 * the profile's Linux flavour, ordered); for each, one line of counts and, when the promise
 * broke, its smallest finding: where the power failed, what the check said, the token and the
 * `daxcrash repro` command that checks that one state again. Also the body of `daxcrash
 * repro` for scenario tokens (dxs1-...).
 *
 * Exit codes: 1 a documented promise broke, or the file system failed (an image that did not
 * mount, an fsck problem: under `ordered` a daxcrash bug), 0 otherwise (a scenario marked
 * `promised: false` that does not hold is an observation), 2 bad input (no such file, a malformed scenario, a bad flag), 3 internal.
 */
import { Command, Option } from 'commander';
import { UsageError } from '../core/errors';
import { PROFILE_NAMES, ProfileName, isProfileName } from '../device/profiles';
import { PMEM_API_NAMES, PmemApiName, isPmemApiName } from '../device/pmem-api';
import type { FlushPolicy } from '../fs/mount';
import { CrashTestFinding, stateText } from '../crash/crash-test';
import { ScenarioResult, fileSystemFailures, reproScenario, runScenario, scenariosIn } from '../crash/scenario';
import { decodeScenarioToken } from '../crash/scenario-token';
import { POLICY_NAMES, setupLabel, resolveSetup } from '../crash/setup';
import { CommandIo, EXIT_FINDINGS, EXIT_OK, configureCommand, guardUsageAsync, parseCount } from './command-io';
import { parseDeviceSize, DEVICE_SIZE_HINT } from './device-size';
import { parseStates } from './campaign-options';
import type { StateChoice } from '../crash/points';
import { writeSparseFile } from '../device/media';

interface TestModuleFlags {
  readonly scenario?: string;
  readonly profile?: string;
  readonly pmemApi?: string;
  readonly policy?: string;
  readonly seed?: string;
  readonly deviceSize?: string;
  readonly limit?: number;
  readonly states?: string;
  readonly k?: string;
  readonly json?: boolean;
}

/** Findings listed per scenario besides the smallest (all are counted). */
const MAX_FINDINGS_SHOWN = 3;

export function testModuleCommand(io: CommandIo): Command {
  return configureCommand(new Command('test-module'), io)
    .description("crash-test installed packages: run a scenario file's operations through them, crash at every chosen point, and hold each scenario's promise after recovery")
    .argument('<file>', 'a scenario file (.js/.cjs CommonJS or .mjs ES module) exporting a scenario or a list of them')
    .option('--scenario <name>', 'only the scenarios whose name contains this text')
    .option('--profile <profile>', `device profile: ${PROFILE_NAMES.join(', ')} (default: the scenario's, else armv8.2)`)
    .option('--pmem-api <flavour>', `pmem API flavour: ${PMEM_API_NAMES.join(', ')} (default: the profile's Linux flavour)`)
    .option('--policy <policy>', `flush policy: ${POLICY_NAMES.join(', ')} (default: the scenario's, else ordered)`)
    .option('--seed <seed>', "the seed (default: the scenario's, else 0)")
    .option('--device-size <size>', 'the pmem device (default 1G, pmem0)')
    .option('--states <states>', 'crash states per point: a count N (sampled), or bounded[:LIMIT] (k-bounded; default bounded:16 with k 2)')
    .option('--k <k>', 'bound of --states bounded: uncertain lines per state (default 2)')
    .addOption(new Option('--limit <n>', 'crash states checked per scenario at most (the rest are counted as skipped)').argParser(parseCount(10_000_000)))
    .option('--json', 'print the results as JSON')
    .addHelpText('after', [
      '',
      'Exit codes: 1 a documented promise broke or an image did not mount or fsck, 0 otherwise, 2 bad input, 3 internal error.',
      '',
      'Examples:',
      '  daxcrash test-module scenarios/my-store.scenarios.js',
      '  daxcrash test-module scenarios/my-store.scenarios.mjs --policy unordered --scenario "save"',
      '',
      'A scenario file: docs/ecosystem.md.',
    ].join('\n'))
    .action(async (file: string, flags: TestModuleFlags) => guardUsageAsync(io, 'test-module', () => runTestModule(io, file, flags)));
}

async function runTestModule(io: CommandIo, file: string, flags: TestModuleFlags): Promise<void> {
  const options = crashOptions(flags);
  const all = await scenariosIn(file);
  const chosen = flags.scenario === undefined ? all : all.filter((s) => s.name.includes(flags.scenario as string));
  if (chosen.length === 0) throw new UsageError(`no scenario of ${file} has ${JSON.stringify(flags.scenario)} in its name`, `its scenarios: ${all.map((s) => JSON.stringify(s.name)).join(', ')}`);
  const results: ScenarioResult[] = [];
  if (!flags.json) io.out(`daxcrash test-module ${file}: ${chosen.length} scenario${chosen.length === 1 ? '' : 's'}`);
  for (const scenario of chosen) {
    const r = await runScenario(scenario, { file, ...options });
    results.push(r);
    if (!flags.json) io.out(formatScenarioResult(r));
  }
  if (flags.json) io.out(JSON.stringify(results.map(resultJson), null, 2));
  io.setExit(results.some(failed) ? EXIT_FINDINGS : EXIT_OK);
}

/** `daxcrash repro dxs1-...`: check the token's crash state again and show the finding. */
export async function reproScenarioToken(io: CommandIo, token: string, flags: { readonly json?: boolean; readonly image?: string }, writeImage: (file: string, write: (temporary: string) => void) => void): Promise<void> {
  await guardUsageAsync(io, 'repro', async () => {
    const spec = decodeScenarioToken(token);
    const r = await reproScenario(spec);
    const finding = r.result.findings[0];
    if (flags.image !== undefined && finding !== undefined) writeImage(flags.image, (temporary) => writeSparseFile(finding.image, temporary));
    if (flags.json) {
      io.out(JSON.stringify({ token: token.trim(), ...resultJson(r), image: flags.image ?? null }, null, 2));
    } else {
      io.out(`scenario ${JSON.stringify(spec.scenario)} of ${spec.file} on ${setupLabel(spec.setup)}, seed ${JSON.stringify(spec.seed)}: crash point ${spec.point}, state ${stateText(spec.state)}`);
      if (finding === undefined) {
        io.out('the promise holds on this crash state: no finding (the package or the scenario changed since the token was printed?)');
      } else {
        io.out(findingText(finding, '  '));
        for (const f of r.result.findings.slice(1)) io.out(`  also: ${f.kind}: ${f.message}`);
        if (flags.image !== undefined) io.out(`  crash image (before recovery) written to ${flags.image}: e2fsck -fn ${flags.image}`);
      }
    }
    io.setExit(r.result.findingCount > 0 ? EXIT_FINDINGS : EXIT_OK);
  });
}

function crashOptions(flags: TestModuleFlags): { profile?: ProfileName; pmemApi?: PmemApiName; policy?: FlushPolicy; seed?: string; deviceBytes?: number; limit?: number; states?: StateChoice } {
  if (flags.profile !== undefined && !isProfileName(flags.profile)) throw new UsageError(`--profile: unknown profile '${flags.profile}' (expected one of: ${PROFILE_NAMES.join(', ')})`);
  if (flags.pmemApi !== undefined && !isPmemApiName(flags.pmemApi)) throw new UsageError(`--pmem-api: unknown flavour '${flags.pmemApi}' (expected one of: ${PMEM_API_NAMES.join(', ')})`);
  if (flags.policy !== undefined && !(POLICY_NAMES as readonly string[]).includes(flags.policy)) throw new UsageError(`--policy: unknown policy '${flags.policy}' (expected one of: ${POLICY_NAMES.join(', ')})`);
  let deviceBytes: number | undefined;
  if (flags.deviceSize !== undefined) {
    const size = parseDeviceSize(flags.deviceSize);
    if ('problem' in size) throw new UsageError(`--device-size ${flags.deviceSize}: ${size.problem}`, `expected ${DEVICE_SIZE_HINT}`);
    deviceBytes = size.bytes;
  }
  if (flags.profile !== undefined || flags.pmemApi !== undefined) resolveSetup({ profile: flags.profile as ProfileName | undefined, pmemApi: flags.pmemApi as PmemApiName | undefined });
  return {
    profile: flags.profile as ProfileName | undefined, pmemApi: flags.pmemApi as PmemApiName | undefined, policy: flags.policy as FlushPolicy | undefined,
    seed: flags.seed, deviceBytes, limit: flags.limit,
    states: flags.states === undefined ? (flags.k === undefined ? undefined : parseStates('bounded:16', flags.k)) : parseStates(flags.states, flags.k),
  };
}

/** A documented promise broke, or the file system itself failed (an image that did not mount or was not fsck-clean). */
function failed(r: ScenarioResult): boolean {
  return (r.promised && (r.result.findingCounts.invariant ?? 0) > 0) || fileSystemFailures(r.result).length > 0;
}

export function formatScenarioResult(r: ScenarioResult): string {
  const x = r.result;
  const lines = [``, `${r.name}`];
  if (r.promise !== undefined) lines.push(`  ${r.promised ? 'promise' : 'not promised by the package (observed)'}: ${r.promise}`);
  const setup = `${x.profile}/${x.pmemApi}/${x.policy}, seed ${JSON.stringify(x.seed)}`;
  const counts = `${x.crashPoints} crash points, ${x.statesChecked} states checked${x.statesSkipped > 0 ? ` (${x.statesSkipped} skipped by the limit)` : ''}, ${x.uniqueImages} distinct images, ${x.recoveries} recoveries`;
  if (x.findingCount === 0) {
    lines.push(`  ${setup}: ${counts}: holds (no finding)`);
    return lines.join('\n');
  }
  const broken = x.findingCounts.invariant ?? 0;
  const promise = broken === 0 ? 'holds' : r.promised ? `BROKEN in ${broken} state${broken === 1 ? '' : 's'}` : `does not hold (not promised) in ${broken} state${broken === 1 ? '' : 's'}`;
  const fsParts = fileSystemFailures(x);
  lines.push(`  ${setup}: ${counts}: ${promise}${fsParts.length > 0 ? `; the file system failed: ${fsParts.join(', ')}` : ''}`);
  if (r.smallest !== undefined) {
    lines.push('  smallest finding:');
    lines.push(findingText(r.smallest, '    '));
    lines.push(`    token ${r.token}`);
    lines.push(`    reproduce: daxcrash repro ${r.token}`);
  }
  const others = x.findings.filter((f) => f !== r.smallest).slice(0, MAX_FINDINGS_SHOWN);
  for (const f of others) lines.push(`  also: point ${f.point} (after ${f.event}), state ${stateText(f.state)}${f.inFlight ? `, in ${f.inFlight}` : ''}: ${f.message}`);
  return lines.join('\n');
}

function findingText(f: CrashTestFinding, indent: string): string {
  return [
    `${indent}${f.kind}: ${f.message}`,
    `${indent}power failed at crash point ${f.point}, before instruction ${f.instruction} (after ${f.event}), state ${stateText(f.state)}; ${f.callsDone} fs call${f.callsDone === 1 ? '' : 's'} returned${f.inFlight ? `, in ${f.inFlight}` : ''}`
      + (f.marks.length > 0 ? `; marks reached: ${f.marks.join(', ')}` : ''),
  ].join('\n');
}

function resultJson(r: ScenarioResult): Record<string, unknown> {
  const x = r.result;
  const finding = (f: CrashTestFinding) => ({
    kind: f.kind, message: f.message, point: f.point, instruction: f.instruction, event: f.event, state: f.state,
    callsDone: f.callsDone, inFlight: f.inFlight ?? null, marks: f.marks,
  });
  return {
    scenario: r.name, promise: r.promise ?? null, promised: r.promised, file: r.file, profile: x.profile, pmemApi: x.pmemApi, policy: x.policy, seed: x.seed,
    crashPoints: x.crashPoints, statesChecked: x.statesChecked, statesSkipped: x.statesSkipped, uniqueImages: x.uniqueImages, recoveries: x.recoveries,
    calls: x.calls.length, findingCount: x.findingCount, findingCounts: x.findingCounts,
    smallest: r.smallest === undefined ? null : finding(r.smallest), token: r.token ?? null, findings: x.findings.map(finding),
  };
}
