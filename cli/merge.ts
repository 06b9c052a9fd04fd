/**
 * `daxcrash merge`: joins the results of the shards of one run into one report. Inputs are
 * results directories (`--out` of each shard), their results.jsonl files, or their `--json`
 * reports. They must be shards of the same run (the same `run` object but for the shard);
 * records of one unit found twice must be equal. When every shard is there, the merged report
 * is the report of the unsharded run, digest included.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { UsageError } from '../core/errors';
import { REPORT_SCHEMA, Report, ReportRun, buildReport, hasFindings } from '../crash/report';
import { UnitRecord, canonicalJson } from '../crash/results';
import { EXIT_FINDINGS, EXIT_OK } from './exit-codes';
import { RESULTS_FILE, RUN_FILE, RUN_FILE_SCHEMA, RunFile, readResults } from './execute';
import { writeReports } from './reports';
import { findingsText, footer, summaryTable } from './summary';
import type { CommandIo } from './run';

const MERGE_EXAMPLES = `
Examples:
  daxcrash merge shard-0 shard-1 shard-2 --json report.json
  daxcrash merge results/*/results.jsonl --json report.json --junit junit.xml
  daxcrash merge shard-*.json --json report.json

Each input is a results directory, its results.jsonl, or a --json report of one shard.`;

interface Input {
  readonly file: string;
  readonly run: ReportRun;
  readonly records: readonly UnitRecord[];
}

export function mergeCommand(io: CommandIo): Command {
  return new Command('merge')
    .description('join the results of the shards of one run into one report')
    .argument('<files...>', 'results directories, results.jsonl files or --json reports of the shards')
    .option('--json <file>', 'write the merged report as JSON, atomically')
    .option('--junit <file>', 'write a JUnit XML report, atomically')
    .option('--html <file>', 'write a self-contained HTML report, atomically')
    .addHelpText('after', MERGE_EXAMPLES)
    .action((files: string[], opts: { json?: string; junit?: string; html?: string }) => {
      const inputs = files.map(readInput);
      const run = mergedRun(inputs);
      const records = mergedRecords(inputs);
      process.stderr.write(`merging ${inputs.length} input${inputs.length === 1 ? '' : 's'}: ${records.length} units\n`);
      const report: Report = buildReport(run, records, {
        version: io.version,
        onShrink: (i, n, label) => process.stderr.write(`shrinking the first finding of each kind (${i + 1}/${n}: ${label})\n`),
      });
      io.out(summaryTable(report));
      io.out('');
      io.out(findingsText(report));
      io.out('');
      io.out(footer(report, undefined));
      for (const w of writeReports(report, { json: opts.json, junit: opts.junit, html: opts.html })) io.out(w);
      io.setExit(hasFindings(report) ? EXIT_FINDINGS : EXIT_OK);
    });
}

function readInput(file: string): Input {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new UsageError(`merge: ${file} does not exist`);
  }
  if (stat.isDirectory()) return fromResults(path.join(file, RESULTS_FILE), path.join(file, RUN_FILE), file);
  if (file.endsWith('.jsonl')) return fromResults(file, path.join(path.dirname(file), RUN_FILE), file);
  let data: Report;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as Report;
  } catch (err) {
    throw new UsageError(`merge: ${file} is not JSON (${(err as Error).message})`, 'give results directories, results.jsonl files or --json reports');
  }
  if (data?.schema !== REPORT_SCHEMA || !Array.isArray(data.units)) throw new UsageError(`merge: ${file} is not a ${REPORT_SCHEMA} report`);
  return { file, run: data.run, records: data.units };
}

function fromResults(resultsPath: string, runPath: string, file: string): Input {
  let runFile: RunFile;
  try {
    runFile = JSON.parse(fs.readFileSync(runPath, 'utf8')) as RunFile;
  } catch {
    throw new UsageError(`merge: ${file} has no readable ${RUN_FILE} next to its results`);
  }
  if (runFile?.schema !== RUN_FILE_SCHEMA) throw new UsageError(`merge: ${runPath} is not a ${RUN_FILE_SCHEMA} run file`);
  if (!fs.existsSync(resultsPath)) throw new UsageError(`merge: ${file} holds no ${RESULTS_FILE}`);
  return { file, run: runFile.run, records: readResults(resultsPath, runFile.run) };
}

/** The run all inputs share, with the shard dropped when every shard is there. */
function mergedRun(inputs: readonly Input[]): ReportRun {
  const bare = (r: ReportRun) => canonicalJson({ ...r, shard: null });
  const first = inputs[0];
  for (const i of inputs.slice(1)) {
    if (bare(i.run) !== bare(first.run)) throw new UsageError(`merge: ${i.file} is from another run than ${first.file}`, 'merge only the shards of one run (same flags, same seed)');
  }
  const shards = inputs.map((i) => i.run.shard);
  if (shards.some((s) => s === null)) return { ...first.run, shard: null };
  const count = shards[0]?.count ?? 1;
  if (shards.some((s) => s?.count !== count)) throw new UsageError('merge: the inputs split the run into different numbers of shards');
  const have = new Set(shards.map((s) => s?.index));
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !have.has(i));
  if (missing.length > 0) process.stderr.write(`merge: shards ${missing.join(', ')} of ${count} are missing: the report is incomplete\n`);
  return { ...first.run, shard: null };
}

function mergedRecords(inputs: readonly Input[]): UnitRecord[] {
  const byIndex = new Map<number, { record: UnitRecord; text: string; file: string }>();
  for (const input of inputs) {
    for (const r of input.records) {
      const text = canonicalJson(r);
      const known = byIndex.get(r.index);
      if (known === undefined) byIndex.set(r.index, { record: r, text, file: input.file });
      else if (known.text !== text) throw new UsageError(`merge: unit ${r.id} differs between ${known.file} and ${input.file}`, 'the inputs were computed by different daxcrash versions or runs');
    }
  }
  return [...byIndex.values()].map((v) => v.record).sort((a, b) => a.index - b.index);
}
