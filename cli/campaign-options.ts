/**
 * The options `run` and `compare` share, and their translation into a checked configuration:
 * the plan's parameters (the device is the 1 GiB pmem0 unless --device-size says otherwise),
 * the shard, workers, budget, and where results and reports go. Every
 * check happens here, before anything is written: a bad value is a UsageError (one line and
 * a hint, exit 2) and leaves no file behind.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../core/errors';
import { DEFAULT_DEVICE_BYTES } from '../core/limits';
import type { PmemApiName } from '../device/pmem-api';
import type { ProfileName } from '../device/profiles';
import type { FlushPolicy } from '../fs/mount';
import { E2FSCK_CHOICES, E2FSCK_PER_UNIT } from '../crash/engine';
import type { CrashPointChoice, E2fsckChoice, StateChoice } from '../crash/engine';
import {
  DEFAULT_RANDOM_WORKLOADS, GENERATED_SUITES, MAX_WORKLOAD_FILE_BYTES, PMEM_APIS, POLICY_NAMES, PROFILES,
  PlanParams, Shard, SuiteSpec, parseList, parseShard, parseWorkloadFile, workloadFileLabel,
} from '../crash/plan';
import type { SuiteName } from '../workloads/generators';
import { FEATURE_PROFILES } from '../crash/setup';
import type { FeatureProfile } from '../fs/mkfs';
import { sizeText } from './command-io';
import { DEVICE_SIZE_HINT, parseDeviceSize } from './device-size';

export const DEFAULT_SHRINK_TRIES = 32;
export const MAX_WORKERS = 64;
const MAX_SEEDS = 10_000;
const MAX_SAMPLED_STATES = 100_000;
const MAX_K = 8;

export interface CampaignOptionValues {
  suite: string;
  seed?: string;
  seeds?: string;
  profile: string;
  pmemApi: string;
  policy: string;
  flushHint?: boolean;
  points: string;
  states: string;
  k?: string;
  budget?: string;
  e2fsck: string;
  workers: string;
  shard?: string;
  json?: string;
  junit?: string;
  html?: string;
  out?: string;
  resume?: string;
  limit?: string;
  workloads?: string;
  shrinkTries: string;
  deviceSize?: string;
  features: string;
}

export interface CampaignDefaults {
  readonly suite: string;
  readonly profile: string;
  readonly pmemApi: string;
  readonly policy: string;
  readonly states: string;
  /** Results directory when none is given; undefined: keep results in memory only. */
  readonly out: string | undefined;
}

export interface CampaignConfig {
  readonly params: PlanParams;
  readonly suiteLabels: readonly string[];
  readonly shard: Shard | null;
  readonly workers: number;
  readonly budgetSeconds: number | undefined;
  readonly shrinkTries: number;
  /** Where results go; undefined: in memory only. */
  readonly outDir: string | undefined;
  readonly resume: boolean;
  readonly json: string | undefined;
  readonly junit: string | undefined;
  readonly html: string | undefined;
  /** The command line again, minus --out/--resume/--seed, for the resume hint. */
  readonly argvForResume: readonly string[];
}

export function addCampaignOptions(cmd: Command, defaults: CampaignDefaults): Command {
  return cmd
    .option('--suite <suites>', `${GENERATED_SUITES.join(', ')}, mmap, or a workload JSON file (a comma list for several)`, defaults.suite)
    .option('--seed <seed>', 'the run seed (default: drawn at random and printed first)')
    .option('--seeds <n|a..b>', 'several seeds: a count (from --seed, default 1) or an inclusive range of integers')
    .option('--profile <profiles>', `device profile(s): all, or a comma list of ${PROFILES.join(', ')}`, defaults.profile)
    .option('--pmem-api <flavours>', `pmem API flavour(s): all, or a comma list of ${PMEM_APIS.join(', ')}`, defaults.pmemApi)
    .option('--policy <policies>', `flush policy(s): all, ${POLICY_NAMES.join(', ')}`, defaults.policy)
    .option('--flush-hint', 'mount with the flushHint option (every barrier of the policy becomes nvdimm_flush)')
    .option('--points <points>', 'crash points: barriers, flushes (barriers and cleans), stores', 'flushes')
    .option('--states <states>', 'crash states per point: a count N (sampled), or bounded[:LIMIT] (k-bounded, at most LIMIT a point)', defaults.states)
    .option('--k <k>', 'bound of --states bounded: uncertain words or lines per state (default 2)')
    .option('--budget <seconds>', 'time budget: keep drawing workloads (random: endlessly) until it runs out')
    .option('--device-size <size>', `the pmem device: bytes, or with K, M, G (binary units, iB optional), a multiple of 4096 from 16M to below 16G (default ${sizeText(DEFAULT_DEVICE_BYTES)}, pmem0)`)
    .option('--features <profile>', `the file system mkfs makes on the device: ${FEATURE_PROFILES.join(' or ')} (mkfs.ext4's default features: metadata_csum, 64bit, flex_bg, htree directories...)`, 'minimal')
    .option('--e2fsck <which>', `the real e2fsck: none; recovered (recovered images with new metadata, at most ${E2FSCK_PER_UNIT} a unit); all (every recovered image, and every raw crash image replayed by debugfs)`, 'recovered')
    .option('--workers <n>', `worker threads (1 to ${MAX_WORKERS}); results do not depend on it`, '1')
    .option('--shard <i/N>', 'run only shard i of N (units whose index is i mod N), numbered from 0')
    .option('--workloads <n>', `N workloads of each suite, spread over its catalogue (random: draw N; default ${DEFAULT_RANDOM_WORKLOADS} without --budget)`)
    .option('--limit <n>', 'cut the plan after N units (before sharding), for quick runs')
    .option('--shrink-tries <n>', 'engine runs the shrinker may spend on the first finding of each kind (0: no shrinking)', String(DEFAULT_SHRINK_TRIES))
    .option('--out <dir>', defaults.out === undefined ? 'stream unit results to DIR/results.jsonl' : `stream unit results to DIR/results.jsonl (default ${defaults.out})`)
    .option('--resume <dir>', 'continue the run whose results are in DIR (same flags), skipping finished units')
    .option('--json <file>', 'write the report as JSON (docs/report-schema.md), atomically')
    .option('--junit <file>', 'write a JUnit XML report (one test case per workload and setup), atomically')
    .option('--html <file>', 'write a self-contained HTML report (summary, comparison charts, findings with timelines), atomically')
    .addOption(new Option('--no-progress', 'no progress line on stderr'));
}

/** Commander's argParser for a positive integer in [min, max]. */
export function intArg(what: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`${what} is an integer from ${min} to ${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`${what} is an integer from ${min} to ${max}`);
    return n;
  };
}

function int(value: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${flag}: '${value}' is not an integer from ${min} to ${max}`);
  }
  return Number(value);
}

export function resolveCampaign(o: CampaignOptionValues, defaults: CampaignDefaults, argv: readonly string[]): CampaignConfig {
  const suites = parseSuites(o.suite);
  const profiles = parseList<ProfileName>(o.profile, PROFILES, '--profile');
  const pmemApis = parseList<PmemApiName>(o.pmemApi, PMEM_APIS, '--pmem-api');
  const policies = parseList<FlushPolicy>(o.policy, POLICY_NAMES, '--policy');
  const points = oneOf<CrashPointChoice>(o.points, ['barriers', 'flushes', 'stores'], '--points');
  const e2fsck = oneOf<E2fsckChoice>(o.e2fsck, E2FSCK_CHOICES, '--e2fsck');
  const states = parseStates(o.states, o.k);
  const workers = int(o.workers, '--workers', 1, MAX_WORKERS);
  const shard = o.shard === undefined ? null : parseShard(o.shard);
  const budgetSeconds = o.budget === undefined ? undefined : parseBudget(o.budget);
  const shrinkTries = int(o.shrinkTries, '--shrink-tries', 0, 10_000);
  const limit = o.limit === undefined ? Infinity : int(o.limit, '--limit', 1, Number.MAX_SAFE_INTEGER);
  const hasRandom = suites.some((s) => s.kind === 'generated' && s.suite === 'random');
  const workloadsPerSuite = o.workloads !== undefined ? int(o.workloads, '--workloads', 1, Number.MAX_SAFE_INTEGER)
    : hasRandom && budgetSeconds === undefined ? DEFAULT_RANDOM_WORKLOADS : Infinity;
  const seeds = parseSeeds(o.seed, o.seeds);
  const deviceBytes = o.deviceSize === undefined ? DEFAULT_DEVICE_BYTES : parseDeviceBytes(o.deviceSize);
  const features = oneOf<FeatureProfile>(o.features ?? 'minimal', FEATURE_PROFILES, '--features');
  if (o.out !== undefined && o.resume !== undefined && path.resolve(o.out) !== path.resolve(o.resume)) {
    throw new UsageError('--out and --resume name different directories', '--resume DIR alone continues the run in DIR');
  }
  for (const [flag, file] of [['--json', o.json], ['--junit', o.junit], ['--html', o.html]] as const) {
    if (file !== undefined) checkWritableTarget(file, flag);
  }
  const outDir = o.resume ?? o.out ?? (defaults.out === undefined ? undefined
    : shard === null ? defaults.out : path.join(defaults.out, `shard-${shard.index}-of-${shard.count}`));
  if (o.resume !== undefined && !fs.existsSync(path.join(o.resume, 'run.json'))) {
    throw new UsageError(`--resume: ${o.resume} holds no daxcrash run (no run.json)`, 'give the --out directory of the run to continue');
  }
  return {
    params: { seeds, suites, profiles, pmemApis, policies, flushHint: Boolean(o.flushHint), points, states, e2fsck, deviceBytes, features, workloadsPerSuite, limit },
    suiteLabels: suites.map(suiteLabel),
    shard, workers, budgetSeconds, shrinkTries, outDir, resume: o.resume !== undefined, json: o.json, junit: o.junit, html: o.html,
    argvForResume: stripFlags(argv, ['--out', '--resume', '--seed', '--seeds']),
  };
}

function oneOf<T extends string>(value: string, names: readonly T[], flag: string): T {
  if (!(names as readonly string[]).includes(value)) throw new UsageError(`${flag}: unknown value '${value}'`, `expected one of: ${names.join(', ')}`);
  return value as T;
}

function parseSuites(value: string): SuiteSpec[] {
  const parts = value.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) throw new UsageError('--suite: empty', `give one of: ${GENERATED_SUITES.join(', ')}, mmap, or a workload JSON file`);
  return parts.map((p): SuiteSpec => {
    if ((GENERATED_SUITES as readonly string[]).includes(p)) return { kind: 'generated', suite: p as SuiteName };
    if (p === 'mmap') return { kind: 'mmap' };
    if (!/[./\\]/.test(p)) {
      throw new UsageError(`--suite: unknown suite '${p}'`, `expected ${GENERATED_SUITES.join(', ')}, mmap, or a path to a workload JSON file`);
    }
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      throw new UsageError(`--suite: cannot read workload file ${p}: no such file`, 'give the path of a workload JSON file, or a suite name');
    }
    if (!stat.isFile()) throw new UsageError(`--suite: ${p} is not a file`);
    if (stat.size > MAX_WORKLOAD_FILE_BYTES) throw new UsageError(`--suite: ${p} is ${stat.size} bytes, more than ${MAX_WORKLOAD_FILE_BYTES}`);
    let text: string;
    try {
      text = fs.readFileSync(p, 'utf8');
    } catch (err) {
      throw new UsageError(`--suite: cannot read workload file ${p}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    const workloads = parseWorkloadFile(text, p);
    return { kind: 'file', label: workloadFileLabel(workloads), workloads };
  });
}

function suiteLabel(s: SuiteSpec): string {
  return s.kind === 'generated' ? s.suite : s.kind === 'mmap' ? 'mmap' : s.label;
}

export function parseStates(value: string, k: string | undefined): StateChoice {
  if (/^\d+$/.test(value)) {
    if (k !== undefined) throw new UsageError('--k applies to --states bounded only', 'use --states bounded --k K, or drop --k');
    return { kind: 'sampled', count: int(value, '--states', 1, MAX_SAMPLED_STATES) };
  }
  const m = /^bounded(?::(\d+))?$/.exec(value);
  if (m === null) throw new UsageError(`--states: '${value}' is neither a count nor bounded[:LIMIT]`, 'for example --states 4 or --states bounded:64 --k 2');
  return { kind: 'bounded', k: k === undefined ? 2 : int(k, '--k', 0, MAX_K), limit: m[1] === undefined ? 64 : int(m[1], '--states bounded:LIMIT', 1, MAX_SAMPLED_STATES) };
}

function parseDeviceBytes(value: string): number {
  const size = parseDeviceSize(value);
  if ('problem' in size) throw new UsageError(`--device-size: '${value}': ${size.problem}`, `give ${DEVICE_SIZE_HINT}`);
  return size.bytes;
}

function parseBudget(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(n > 0) || n > 30 * 24 * 3600) throw new UsageError(`--budget: '${value}' is not a number of seconds (more than 0, at most 30 days)`);
  return n;
}

function parseSeeds(seed: string | undefined, seeds: string | undefined): string[] {
  if (seed !== undefined && (seed.length === 0 || seed.length > 200 || /[\s]/.test(seed))) throw new UsageError('--seed: a seed is 1 to 200 characters without spaces');
  if (seeds === undefined) return [seed ?? String(randomInt(1, 2 ** 31))];
  const range = /^(\d+)\.\.(\d+)$/.exec(seeds.trim());
  if (range !== null) {
    if (seed !== undefined) throw new UsageError('--seed and a --seeds range both name the seeds', 'give one of them');
    const a = Number(range[1]);
    const b = Number(range[2]);
    if (b < a || b - a + 1 > MAX_SEEDS) throw new UsageError(`--seeds: range ${seeds} is empty or longer than ${MAX_SEEDS}`);
    return Array.from({ length: b - a + 1 }, (_, i) => String(a + i));
  }
  const count = int(seeds, '--seeds', 1, MAX_SEEDS);
  const base = seed ?? '1';
  if (/^\d+$/.test(base) && Number(base) + count < Number.MAX_SAFE_INTEGER) return Array.from({ length: count }, (_, i) => String(Number(base) + i));
  return Array.from({ length: count }, (_, i) => (i === 0 ? base : `${base}.${i}`));
}

function checkWritableTarget(file: string, flag: string): void {
  const dir = path.dirname(path.resolve(file));
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new UsageError(`${flag}: directory ${dir} does not exist`, 'create it first, or write the report elsewhere');
  }
  if (!stat.isDirectory()) throw new UsageError(`${flag}: ${dir} is not a directory`);
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new UsageError(`${flag}: ${file} is a directory`);
}

/** argv without the given flags and their values (`--flag value` or `--flag=value`). */
function stripFlags(argv: readonly string[], flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (flags.includes(a)) {
      i++;
      continue;
    }
    if (flags.some((f) => a.startsWith(`${f}=`))) continue;
    out.push(a);
  }
  return out;
}
