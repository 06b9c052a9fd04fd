/**
 * Short names over `e2fsprogs.ts` for tests that run e2fsck and debugfs on images our code
 * wrote. A missing tool is a failure with a clear message, never a skip.
 */
import { ToolResult, makeTempDir, runTool } from './e2fsprogs';

export type RunResult = ToolResult;

/** Run an e2fsprogs tool; E2FSCK_TIME is fixed so output is repeatable. */
export function run(name: string, args: string[], env: Record<string, string> = {}): RunResult {
  return runTool(name, args, { E2FSCK_TIME: '1700000000', ...env });
}

/** `e2fsck -fn IMAGE`: exit 0 means clean. */
export function e2fsckClean(image: string): RunResult {
  return run('e2fsck', ['-fn', image]);
}

export function debugfs(image: string, request: string, write = false): RunResult {
  return run('debugfs', [...(write ? ['-w'] : []), '-R', request, image]);
}

export function tmpDir(prefix: string): string {
  return makeTempDir(prefix);
}
