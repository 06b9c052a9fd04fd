/**
 * The daxcrash command run inside the test's process: cli/main.ts `main` with the arguments,
 * from a working directory, its standard output and error captured. For the checks that a
 * process proves nothing more about than the call does (a usage error: the exit code, the two
 * lines on standard error, nothing written), so a test file need not start Node for each
 * (about 0.55 s of CPU a start). Each file that uses it keeps real spawns of the same paths
 * (bin/daxcrash.js, the exit code set on the process) beside it.
 *
 * Invariants: one call at a time (the working directory and the two streams are the
 * process's); the working directory and the streams are restored whatever the call does.
 */
import { main } from '../../cli/main';

export interface InProcessRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

let busy = false;

export async function runInProcess(args: readonly string[], cwd: string): Promise<InProcessRun> {
  if (busy) throw new Error('runInProcess: one call at a time (the working directory and the streams are shared)');
  busy = true;
  const before = process.cwd();
  let stdout = '';
  let stderr = '';
  const text = (chunk: string | Uint8Array) => (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    stdout += text(chunk);
    return true;
  }) as typeof process.stdout.write);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    stderr += text(chunk);
    return true;
  }) as typeof process.stderr.write);
  try {
    process.chdir(cwd);
    const status = await main(args);
    return { status, stdout, stderr };
  } finally {
    process.chdir(before);
    out.mockRestore();
    err.mockRestore();
    busy = false;
  }
}
