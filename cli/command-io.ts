/**
 * What a subcommand needs from the process, passed in so a command can be built and run in a
 * test without touching process.stdout: text out, text to stderr, raw bytes out (`image
 * cat`), and the exit code. Also the one way subcommands report bad input: a UsageError (a
 * TokenError is one) becomes one line and a hint on stderr and exit 2, never a stack trace.
 *
 * The exit codes come from cli/exit-codes.ts, so a subcommand file need not import the
 * program that imports it.
 */
import * as nodeFs from 'node:fs';
import * as nodePath from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../core/errors';
import { replaceAtomically } from './atomic';
import { EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE } from './exit-codes';

export { EXIT_FINDINGS, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE };

export interface CommandIo {
  /** One piece of text for stdout; a newline follows it. */
  out(text: string): void;
  /** One piece of text for stderr; a newline follows it. */
  err(text: string): void;
  /** Bytes for stdout, exactly as given. */
  raw(bytes: Uint8Array): void;
  setExit(code: number): void;
}

/** The io of the running process, with `out` and `setExit` as the program was given them. */
export function processIo(out: (text: string) => void, setExit: (code: number) => void): CommandIo {
  return {
    out,
    err: (text) => process.stderr.write(`${text}\n`),
    raw: (bytes) => process.stdout.write(bytes),
    setExit,
  };
}

/** Exit overrides and output routing for a subcommand and every command made under it. */
export function configureCommand(command: Command, io: CommandIo): Command {
  return command
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) });
}

/**
 * Run `body`; a UsageError becomes `daxcrash <what>: <message>` and a hint line, exit 2.
 * Anything else propagates (main reports it as an internal error, exit 3).
 */
export function guardUsage(io: CommandIo, what: string, body: () => void): void {
  try {
    body();
  } catch (err) {
    reportUsage(io, what, err);
  }
}

/** guardUsage for an asynchronous body. */
export async function guardUsageAsync(io: CommandIo, what: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    reportUsage(io, what, err);
  }
}

function reportUsage(io: CommandIo, what: string, err: unknown): void {
  if (!(err instanceof UsageError)) throw err;
  io.err(`daxcrash ${what}: ${err.message}`);
  io.err(`hint: ${err.hint ?? `run 'daxcrash ${what} --help' for usage`}`);
  io.setExit(EXIT_USAGE);
}

/** A non-negative integer option value (commander argParser). */
export function parseCount(max: number): (value: string) => number {
  return (value: string) => {
    if (!/^\d+$/.test(value) || Number(value) > max) {
      throw new InvalidArgumentError(`expected a whole number from 0 to ${max}`);
    }
    return Number(value);
  };
}

/** Write `file` through a temporary name beside it (cli/atomic.ts): never half an image; bad targets are usage errors. */
export function writeAtomically(file: string, write: (temporary: string) => void): void {
  const dir = nodePath.dirname(nodePath.resolve(file));
  if (!nodeFs.existsSync(dir)) throw new UsageError(`cannot write ${file}: no directory ${dir}`);
  if (nodeFs.existsSync(file) && nodeFs.statSync(file).isDirectory()) throw new UsageError(`cannot write ${file}: it is a directory`);
  try {
    replaceAtomically(file, write);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EACCES' || code === 'EROFS' || code === 'ENOSPC' || code === 'EPERM') throw new UsageError(`cannot write ${file}: ${(err as Error).message}`);
    throw err;
  }
}

export function sizeText(bytes: number): string {
  if (bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes % 2 ** 20 === 0) return `${bytes / 2 ** 20} MiB`;
  return `${bytes} bytes`;
}
