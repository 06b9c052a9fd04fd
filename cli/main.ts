/**
 * The daxcrash command. The only layer that reads argv, the environment or the clock.
 * Exit codes: 0 no finding, 1 findings (for litmus: a claim of the model failed), 2 usage
 * error, 3 internal error; `run` and `compare` exit 130 when Ctrl-C stopped them (their
 * results are kept and resumable). A bad flag or value gets one line and a hint, never a
 * stack trace, and nothing is written.
 */
import { availableParallelism } from 'node:os';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../core/errors';
import { PROFILE_NAMES, ProfileName, isProfileName } from '../device/profiles';
import { DEMO_DEFAULTS, formatDemo, runDemo } from './demo';
import { EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE } from './exit-codes';
import { formatLitmus, runLitmus } from './litmus';
import { processIo } from './command-io';
import { imageCommand } from './image';
import { mergeCommand } from './merge';
import { reproCommand } from './repro';
import { testModuleCommand } from './test-module';
import { compareCommand, runCommand } from './run';
import { packageVersion } from '../crash/campaign';
import { FEATURE_PROFILES } from '../crash/setup';
import type { FeatureProfile } from '../fs/mkfs';

export { EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE };

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

  program.command('demo')
    .description('a short campaign on armv8.2: ordered vs unordered, linux-arm64 vs rfc-2016, and one shrunk finding (what npm start runs)')
    .option('--seed <seed>', 'the engine seed', DEMO_DEFAULTS.seed)
    .addOption(new Option('--features <profile>', 'the file system mkfs makes: minimal (the ext4 subset) or default (mkfs.ext4\'s default features)')
      .choices(FEATURE_PROFILES).default(DEMO_DEFAULTS.features))
    .addHelpText('after', '\nExamples:\n  daxcrash demo\n  daxcrash demo --seed 7\n  daxcrash demo --features default\n\nA demonstration: it exits 0 even though it shows findings.')
    .action(async (opts: { seed: string; features: FeatureProfile }) => {
      const options = { ...DEMO_DEFAULTS, seed: opts.seed, features: opts.features, workers: Math.max(1, Math.min(2, availableParallelism())) };
      const started = performance.now();
      const fsText = options.features === 'default' ? 'mkfs.ext4\'s default features' : 'the ext4 subset';
      out(`daxcrash demo: bounded-1 workloads (every ${ordinal(options.stride)}) and shapes (every ${ordinal(options.shapesStride)}) on armv8.2 (1 GiB pmem0, ${fsText}), policies ordered and unordered,`);
      out(`pmem API flavours linux-arm64 (mainline) and rfc-2016 (the 2016 arm64 pmem RFC); seed ${JSON.stringify(options.seed)}.`);
      out('Each workload runs on our file system and on the reference; the power fails at every clean and barrier,');
      out('before every barrier and at every operation end that leaves data uncertain; the k=1 bound of crash states');
      out('there is explored by classes no check can tell apart (at most 256 states judged a point, the rest counted as');
      out('not covered), each judged state recovered (journal replay), checked by fsck and compared with the reference;');
      out(`${options.workers} worker thread${options.workers === 1 ? '' : 's'}.`);
      const result = await runDemo(options, out);
      out(formatDemo(result, options, (performance.now() - started) / 1000));
      setExit(EXIT_OK);
    });

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
  const io = { out, setExit, version: packageVersion() };
  program.addCommand(inherit(program, runCommand(io)));
  program.addCommand(inherit(program, compareCommand(io)));
  program.addCommand(inherit(program, mergeCommand(io)));
  // repro and image configure their own error handling and output (cli/command-io.ts).
  const commandIo = processIo(out, setExit);
  program.addCommand(reproCommand(commandIo)).addCommand(imageCommand(commandIo)).addCommand(testModuleCommand(commandIo));
  return program;
}

/** A subcommand made apart takes the program's error handling and output. */
function inherit(program: Command, cmd: Command): Command {
  return cmd.exitOverride().showHelpAfterError(`(run daxcrash ${cmd.name()} --help for usage)`).configureOutput(program.configureOutput());
}

export async function main(argv: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram((text) => process.stdout.write(`${text}\n`), (c) => { code = c; });
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
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
    if (err instanceof UsageError) {
      const command = argv.find((a) => !a.startsWith('-'));
      process.stderr.write(`daxcrash: error: ${err.message}\n${err.hint ?? `(run daxcrash ${command ?? ''} --help for usage)`.replace('  ', ' ')}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`daxcrash: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return EXIT_INTERNAL;
  }
}

/** 1st, 2nd, 3rd, 4th, 11th, 21st, 24th... */
function ordinal(n: number): string {
  const suffix = n % 100 >= 11 && n % 100 <= 13 ? 'th' : ['th', 'st', 'nd', 'rd'][n % 10] ?? 'th';
  return `${n}${suffix}`;
}

if (require.main === module || process.env.DAXCRASH_BIN === '1') {
  // A reader that stops early (`daxcrash ... | head`) closes the pipe: stop quietly, as
  // command-line tools do, instead of a stack trace for the write that could not land.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? EXIT_OK);
  });
  void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
