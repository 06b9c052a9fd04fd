/**
 * `daxcrash run` and `daxcrash compare`: a campaign from the command line. Both take the
 * same options (campaign-options.ts) and run the same way (execute.ts); `run` prints the
 * summary per setup and every kind of finding with its shrunk token and repro command,
 * `compare` prints the setups side by side (states, findings per promise, cost per operation
 * against the first setup). Exit 0: no findings; 1: findings; 130: interrupted (resumable).
 */
import { Command } from 'commander';
import { EXIT_FINDINGS, EXIT_OK } from './exit-codes';
import { CampaignDefaults, CampaignOptionValues, addCampaignOptions, resolveCampaign } from './campaign-options';
import { RESULTS_FILE, executeCampaign } from './execute';
import { writeReports } from './reports';
import { compareTable, findingsText, footer, summaryTable } from './summary';
import { hasFindings } from '../crash/report';
import type { Report } from '../crash/report';

export const EXIT_INTERRUPTED = 130;

export interface CommandIo {
  readonly out: (text: string) => void;
  readonly setExit: (code: number) => void;
  readonly version: string;
}

/** The defaults of `daxcrash run` (test/canary/recall.ts measures recall under them too). */
export const RUN_DEFAULTS: CampaignDefaults = {
  suite: 'bounded-1,shapes', profile: 'armv8.2', pmemApi: 'linux-arm64', policy: 'ordered', states: 'bounded', out: 'daxcrash-results',
};

const COMPARE_DEFAULTS: CampaignDefaults = {
  suite: 'bounded-1', profile: 'armv8.2', pmemApi: 'linux-arm64,linux-arm64-nosync,rfc-2016', policy: 'all', states: '4', out: undefined,
};

const RUN_EXAMPLES = `
Examples:
  daxcrash run --seed 1 --suite bounded-1 --workloads 20 --states 4
  daxcrash run --suite bounded-2 --policy all --pmem-api linux-arm64,rfc-2016 --workers 2 --json report.json
  daxcrash run --suite random --budget 600 --seed 7 --out results/ --junit junit.xml
  daxcrash run --suite my-workloads.json --profile all --pmem-api all
  daxcrash run --suite bounded-1 --seed 1 --shard 0/4 --out shard-0 --json shard-0.json
  daxcrash run --seed 1 --resume daxcrash-results          (after Ctrl-C, with the same flags)
  daxcrash run --suite mmap --profile armv8.2,x86-adr

Exit codes: 0 no findings, 1 findings, 2 usage error, 3 internal error, 130 interrupted.`;

const COMPARE_EXAMPLES = `
Examples:
  daxcrash compare --seed 1 --workloads 20
  daxcrash compare --seed 1 --suite bounded-2 --workloads 30 --profile armv8.2,armv8.0 --pmem-api linux-arm64
  daxcrash compare --seed 1 --suite apps --policy ordered --pmem-api all --profile all --json compare.json

The same workloads, seeds and crash points on every setup; cost is simulated device time
per workload operation, against the first setup.
Exit codes: 0 no findings, 1 findings, 2 usage error, 3 internal error, 130 interrupted.`;

export function runCommand(io: CommandIo): Command {
  const cmd = new Command('run')
    .description('run a crash campaign: workloads x setups, crash states at every crash point, checked against the promises G0 to G9');
  addCampaignOptions(cmd, RUN_DEFAULTS).addHelpText('after', RUN_EXAMPLES);
  return cmd.action(async (opts: CampaignOptionValues & { progress: boolean }, command: Command) => {
    await campaign('daxcrash run', opts, RUN_DEFAULTS, rawArgs(command), io, (report) => {
      io.out(summaryTable(report));
      io.out('');
      io.out(findingsText(report));
    });
  });
}

export function compareCommand(io: CommandIo): Command {
  const cmd = new Command('compare')
    .description('compare policies, pmem API flavours and profiles on the same workloads: states checked, findings per promise, cost per operation');
  addCampaignOptions(cmd, COMPARE_DEFAULTS).addHelpText('after', COMPARE_EXAMPLES);
  return cmd.action(async (opts: CampaignOptionValues & { progress: boolean }, command: Command) => {
    await campaign('daxcrash compare', opts, COMPARE_DEFAULTS, rawArgs(command), io, (report) => {
      io.out(compareTable(report));
      io.out('');
      io.out(report.kinds.length === 0 ? 'no findings' : `${report.kinds.length} kinds of finding; the first of each, shrunk:`);
      for (const k of report.kinds) io.out(`  ${k.promise} on ${k.setup} (${k.count}): ${k.repro ?? k.first.diff.split('\n')[0]}`);
    });
  });
}

/** The shared part: resolve, run, print the body, write reports, print the footer. */
async function campaign(name: string, opts: CampaignOptionValues & { progress: boolean }, defaults: CampaignDefaults, argv: string[], io: CommandIo,
  body: (report: Report) => void): Promise<void> {
  const config = resolveCampaign(opts, defaults, argv);
  const outcome = await executeCampaign(config, {
    out: io.out, err: (t) => process.stderr.write(t), tty: Boolean(process.stderr.isTTY) && !process.env.CI, progress: opts.progress,
    version: io.version, command: name,
  });
  const report = outcome.report;
  if (report === undefined) {
    io.setExit(EXIT_INTERRUPTED);
    return;
  }
  io.out('');
  body(report);
  const written = writeReports(report, { json: config.json, junit: config.junit, html: config.html });
  io.out('');
  io.out(footer(report, config.outDir === undefined ? undefined : `${config.outDir}/${RESULTS_FILE}`));
  for (const w of written) io.out(w);
  if (outcome.pool === 'drained') io.out('the time budget ran out; a run with --resume and the same flags continues after the last workload');
  io.setExit(hasFindings(report) ? EXIT_FINDINGS : EXIT_OK);
}

/** The arguments the user gave this subcommand (for the resume hint). */
function rawArgs(command: Command): string[] {
  const parent = command.parent as (Command & { rawArgs?: string[] }) | null;
  const raw = parent?.rawArgs ?? [];
  const at = raw.indexOf(command.name());
  return at < 0 ? [] : raw.slice(at + 1);
}
