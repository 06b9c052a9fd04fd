/**
 * Runs a checked campaign configuration (campaign-options.ts): the plan, the shard's units
 * not yet finished, the pool (in this thread or on workers), results streamed to
 * DIR/results.jsonl as each unit finishes (one canonical JSON line, fdatasync'd), a time
 * budget, and Ctrl-C. Then the report (crash/report.ts) from every record of the directory.
 *
 * The results directory holds `run.json` (what the run is: the report's `run` object, and
 * whether it finished) and `results.jsonl`. A resumed run must be the same run (the same
 * `run` object, time budget, workers and report files aside); its last line, if a kill cut
 * it short, is dropped and done again. A directory holding an unfinished run is never
 * overwritten by a fresh one; a finished one is.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../core/errors';
import { CampaignAborted, CampaignControl, CampaignSpec, campaignRun, campaignUnits, runCampaign } from '../crash/campaign';
import { inShard } from '../crash/plan';
import type { PoolOutcome } from '../crash/pool';
import type { Report, ReportRun } from '../crash/report';
import { UnitRecord, canonicalJson, parseRecord, recordFindings } from '../crash/results';
import { syncDir, writeFileAtomic } from './atomic';
import type { CampaignConfig } from './campaign-options';
import { sizeText } from './command-io';
import { ProgressLine } from './progress';

export const RESULTS_FILE = 'results.jsonl';
export const RUN_FILE = 'run.json';
export const RUN_FILE_SCHEMA = 'daxcrash-results/1';

export interface RunFile {
  readonly schema: typeof RUN_FILE_SCHEMA;
  readonly run: ReportRun;
  readonly finished: boolean;
}

export interface CampaignIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly tty: boolean;
  readonly progress: boolean;
  readonly version: string;
  /** The command name for hints (`daxcrash run`). */
  readonly command: string;
}

export interface CampaignOutcome {
  readonly report: Report | undefined;
  readonly pool: PoolOutcome;
  /** Units this invocation ran (resumed ones not counted). */
  readonly ran: number;
}

/** The campaign a configuration runs (crash/campaign.ts). */
export function campaignSpec(config: CampaignConfig): CampaignSpec {
  return { ...config.params, suiteLabels: config.suiteLabels, shard: config.shard, workers: config.workers, shrinkTries: config.shrinkTries };
}

/** The report's `run` object for a configuration. */
export function reportRun(config: CampaignConfig): ReportRun {
  return campaignRun(campaignSpec(config));
}

/** What must match for a directory to continue a run (shrink tries may change). */
function identity(run: ReportRun): string {
  return canonicalJson({ ...run, options: { ...run.options, shrinkTries: 0 } });
}

/** Checks and reads the results directory; writes nothing (a usage error leaves no trace). */
function prepareResults(config: CampaignConfig, run: ReportRun): UnitRecord[] {
  const dir = config.outDir;
  if (dir === undefined) return [];
  const runPath = path.join(dir, RUN_FILE);
  const resultsPath = path.join(dir, RESULTS_FILE);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new UsageError(`--out: ${dir} is not a directory`);
  if (!config.resume) {
    if (!fs.existsSync(runPath)) return [];
    const previous = readRunFile(runPath);
    if (!previous.finished) {
      throw new UsageError(`${dir} holds an unfinished run`, `continue it with --resume ${dir} (and its flags), or choose another --out`);
    }
    return [];
  }
  const previous = readRunFile(runPath);
  if (identity(previous.run) !== identity(run)) {
    throw new UsageError(`--resume: ${dir} holds a different run (${firstDifference(previous.run, run)})`, 'resume with the flags of the run that wrote it (see its run.json)');
  }
  if (!fs.existsSync(resultsPath)) return [];
  return readResults(resultsPath, run);
}

function readRunFile(file: string): RunFile {
  let data: RunFile;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as RunFile;
  } catch (err) {
    throw new UsageError(`${file}: not a daxcrash run file (${(err as Error).message})`);
  }
  if (data?.schema !== RUN_FILE_SCHEMA || typeof data.run !== 'object') throw new UsageError(`${file}: not a ${RUN_FILE_SCHEMA} run file`);
  return data;
}

/** The records of a results file; a cut-short last line is dropped. */
export function readResults(file: string, run: ReportRun): UnitRecord[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const records: UnitRecord[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const r = parseRecord(lines[i]);
    if (typeof r === 'string') {
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      if (last) break; // a write cut short by a kill: that unit runs again
      throw new UsageError(`${file}: line ${i + 1} is not a unit result (${r})`);
    }
    if (run.shard !== null && !inShard(r.index, run.shard)) throw new UsageError(`${file}: unit ${r.id} is not in shard ${run.shard.index}/${run.shard.count}`);
    if (!seen.has(r.index)) records.push(r);
    seen.add(r.index);
  }
  return records;
}

function firstDifference(a: ReportRun, b: ReportRun): string {
  const fields: (keyof ReportRun)[] = ['seeds', 'suites', 'profiles', 'pmemApis', 'policies', 'flushHint', 'shard', 'options', 'plannedUnits', 'setups'];
  for (const f of fields) {
    const x = f === 'options' ? { ...a.options, shrinkTries: 0 } : a[f];
    const y = f === 'options' ? { ...b.options, shrinkTries: 0 } : b[f];
    if (canonicalJson(x) !== canonicalJson(y)) return `${f}: ${canonicalJson(x)} there, ${canonicalJson(y)} here`;
  }
  return 'its parameters differ';
}

export async function executeCampaign(config: CampaignConfig, io: CampaignIo): Promise<CampaignOutcome> {
  const spec = campaignSpec(config);
  const run = campaignRun(spec);
  const previous = prepareResults(config, run);
  printHeader(config, run, previous.length, io);
  const fd = openResults(config, run, previous);
  const planned = campaignUnits(spec);
  const total = planned === undefined ? undefined : planned - previous.length;
  const progress = io.progress ? new ProgressLine({ total, budgetSeconds: config.budgetSeconds, tty: io.tty, write: io.err }) : undefined;
  let ran = 0;
  let findings = previous.reduce((n, r) => n + recordFindings(r), 0);
  let progressDone = false;
  const finishProgress = () => {
    if (progress === undefined || progressDone) return;
    progressDone = true;
    progress.update(ran, findings, true);
    progress.finish();
  };
  const control = new CampaignControl();
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    control.abort();
  };
  process.once('SIGINT', onSigint);
  const timer = config.budgetSeconds === undefined ? undefined : setTimeout(() => control.drain(), config.budgetSeconds * 1000);
  timer?.unref();
  let report: Report | undefined;
  let aborted: readonly UnitRecord[] | undefined;
  try {
    report = await runCampaign(spec, {
      previous,
      control,
      version: io.version,
      onRecord: (record) => {
        ran++;
        findings += recordFindings(record);
        if (fd !== undefined) {
          fs.writeSync(fd, `${canonicalJson(record)}\n`);
          fs.fdatasyncSync(fd);
        }
        progress?.update(ran, findings);
      },
      onShrink: (i, n, label) => {
        if (i === 0) finishProgress();
        io.err(`shrinking the first finding of each kind (${i + 1}/${n}: ${label})\n`);
      },
    });
  } catch (err) {
    if (!(err instanceof CampaignAborted)) throw err;
    aborted = err.records;
  } finally {
    process.removeListener('SIGINT', onSigint);
    if (timer !== undefined) clearTimeout(timer);
    if (fd !== undefined) fs.closeSync(fd);
    finishProgress();
  }
  if (interrupted || report === undefined) {
    printInterrupted(config, io, (aborted ?? previous).length, total === undefined ? undefined : total + previous.length);
    return { report: undefined, pool: 'aborted', ran };
  }
  if (config.outDir !== undefined) {
    writeFileAtomic(path.join(config.outDir, RUN_FILE), `${JSON.stringify({ schema: RUN_FILE_SCHEMA, run, finished: true } satisfies RunFile, null, 2)}\n`);
  }
  return { report, pool: control.outcome, ran };
}

/** Prepare the results directory (kept records rewritten, run.json marked unfinished) and open the results file for appending. */
function openResults(config: CampaignConfig, run: ReportRun, previous: readonly UnitRecord[]): number | undefined {
  if (config.outDir === undefined) return undefined;
  fs.mkdirSync(config.outDir, { recursive: true });
  const resultsPath = path.join(config.outDir, RESULTS_FILE);
  // rewrite the kept records (drops a cut-short last line), then append
  const text = previous.map((r) => `${canonicalJson(r)}\n`).join('');
  if (config.resume) writeFileAtomic(resultsPath, text);
  else fs.rmSync(resultsPath, { force: true });
  writeFileAtomic(path.join(config.outDir, RUN_FILE), `${JSON.stringify({ schema: RUN_FILE_SCHEMA, run, finished: false } satisfies RunFile, null, 2)}\n`);
  const fd = fs.openSync(resultsPath, 'a');
  syncDir(config.outDir);
  return fd;
}

function printHeader(config: CampaignConfig, run: ReportRun, resumed: number, io: CampaignIo): void {
  const p = config.params;
  const seeds = p.seeds.length === 1 ? `seed ${p.seeds[0]}` : `seeds ${p.seeds[0]}..${p.seeds[p.seeds.length - 1]} (${p.seeds.length})`;
  io.out(`${io.command}: ${seeds}`);
  const states = p.states.kind === 'sampled' ? `${p.states.count} sampled a point` : `bounded k=${p.states.k}, at most ${p.states.limit} a point`;
  const perSuite = Number.isFinite(p.workloadsPerSuite) ? `${p.workloadsPerSuite} workloads of each, spread` : 'every workload';
  io.out(`  suites ${config.suiteLabels.join(', ')} (${perSuite}); ${run.setups.length} setups${run.mmapSetups.length > 0 ? `, ${run.mmapSetups.length} mmap setups` : ''}; points ${p.points}; states ${states}; e2fsck ${p.e2fsck}; device ${sizeText(p.deviceBytes)}`);
  const planned = run.plannedUnits === null ? 'endless plan' : `${run.plannedUnits} units planned`;
  const shard = config.shard === null ? '' : `; shard ${config.shard.index}/${config.shard.count}`;
  const budget = config.budgetSeconds === undefined ? '' : `; budget ${config.budgetSeconds}s`;
  const resume = resumed > 0 ? `; resuming after ${resumed} finished units` : '';
  io.out(`  ${planned}${shard}; ${config.workers} worker${config.workers === 1 ? '' : 's'}${budget}${resume}${config.outDir === undefined ? '' : `; results in ${config.outDir}/${RESULTS_FILE}`}`);
  for (const s of run.skipped) io.out(`  skipped ${s.setup}: ${s.reason}`);
}

function printInterrupted(config: CampaignConfig, io: CampaignIo, finished: number, total: number | undefined): void {
  io.err(`interrupted: ${finished}${total === undefined ? '' : ` of ${total}`} units finished${config.outDir === undefined ? ' (kept in memory only: not resumable)' : ` and saved in ${config.outDir}/${RESULTS_FILE}`}\n`);
  if (config.outDir !== undefined) {
    const seedFlags = config.params.seeds.length === 1 ? ['--seed', config.params.seeds[0]] : ['--seeds', `${config.params.seeds[0]}..${config.params.seeds[config.params.seeds.length - 1]}`];
    const numeric = config.params.seeds.every((s) => /^\d+$/.test(s)) && config.params.seeds.every((s, i) => Number(s) === Number(config.params.seeds[0]) + i);
    const seedPart = config.params.seeds.length === 1 || numeric ? seedFlags : ['--seed', config.params.seeds[0], '--seeds', String(config.params.seeds.length)];
    io.err(`resume with: ${io.command} ${[...config.argvForResume, ...seedPart, '--resume', config.outDir].map(shellWord).join(' ')}\n`);
  }
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}
