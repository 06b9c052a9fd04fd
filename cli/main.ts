/**
 * The daxcrash command. The only layer that reads argv, the environment or the clock.
 * Exit codes: 0 no finding, 1 findings (for litmus: a claim of the model failed), 2 usage
 * error, 3 internal error. A bad flag or value gets one line and a hint, never a stack trace.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { PROFILE_NAMES, ProfileName, isProfileName } from '../device/profiles';
import { formatLitmus, runLitmus } from './litmus';
import { processIo } from './command-io';
import { imageCommand } from './image';
import { reproCommand } from './repro';

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 3;

function parseProfile(value: string): ProfileName {
  if (!isProfileName(value)) throw new InvalidArgumentError(`expected one of: ${PROFILE_NAMES.join(', ')}`);
  return value;
}

export function buildProgram(out: (text: string) => void, setExit: (code: number) => void): Command {
  const program = new Command('daxcrash')
    .description('fault-injecting file-system testbed: a simulated pmem0 device with ARMv8.2 persistence rules')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => out(s.replace(/\n$/, '')), writeErr: (s) => process.stderr.write(s) });

  program.command('litmus')
    .description('run the persistence-model litmus tests exhaustively and print expected versus reached outcomes')
    .addOption(new Option('--profile <profile>', 'only the claims about this profile').argParser(parseProfile))
    .option('--json', 'print the results as JSON')
    .addHelpText('after', '\nExamples:\n  daxcrash litmus\n  daxcrash litmus --profile armv8.2\n  daxcrash litmus --json > litmus.json')
    .action((opts: { profile?: ProfileName; json?: boolean }) => {
      const report = runLitmus(opts.profile);
      if (opts.json) {
        out(JSON.stringify({
          claims: report.results.length,
          failed: report.failed,
          results: report.results.map((r) => ({
            test: r.test.id, program: r.test.program, profile: r.profile, options: r.claim.options ?? {},
            reachable: r.claim.reachable ?? [], forbidden: r.claim.forbidden ?? [], only: r.claim.only ?? null,
            throws: Boolean(r.claim.throws), reached: r.reached, threw: r.threw, ok: r.ok,
          })),
        }, null, 2));
      } else {
        out(formatLitmus(report, opts.profile));
      }
      setExit(report.failed === 0 ? EXIT_OK : EXIT_FINDINGS);
    });
  const io = processIo(out, setExit);
  program.addCommand(reproCommand(io)).addCommand(imageCommand(io));
  return program;
}

function packageVersion(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../package.json') as { version: string }).version;
}

export function main(argv: readonly string[]): number {
  let code = EXIT_OK;
  const program = buildProgram((text) => process.stdout.write(`${text}\n`), (c) => { code = c; });
  try {
    program.parse(argv as string[], { from: 'user' });
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT_USAGE;
    }
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    process.stderr.write(`daxcrash: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return EXIT_INTERNAL;
  }
}

if (require.main === module || process.env.DAXCRASH_BIN === '1') {
  process.exitCode = main(process.argv.slice(2));
}
