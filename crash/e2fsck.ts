/**
 * e2fsck as an option of the engine (G2 by the real tool): the crash image is written to a
 * sparse file, a copy is replayed with `e2fsck -E journal_only -y`, then `e2fsck -fn` must
 * exit 0. The tool's clock is fixed (E2FSCK_TIME) so its output repeats. The files live in a
 * temporary directory removed after each check.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MediaSource } from '../device/media';
import { writeSparseFile } from '../device/media';

const TOOL_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

export function e2fsckPath(): string {
  for (const dir of TOOL_DIRS) {
    const candidate = path.join(dir, 'e2fsck');
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('e2fsck not found: install e2fsprogs (apt-get install e2fsprogs)');
}

/** undefined when e2fsck calls the replayed image clean; otherwise what it said. */
export function e2fsckVerdict(image: MediaSource): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-e2fsck-'));
  try {
    const file = path.join(dir, 'crash.img');
    writeSparseFile(image, file);
    const env = { ...process.env, E2FSCK_TIME: '1700000000' };
    const tool = e2fsckPath();
    const replay = spawnSync(tool, ['-E', 'journal_only', '-y', file], { encoding: 'utf8', env });
    if ((replay.status ?? 8) > 1) return `e2fsck -E journal_only -y exited ${replay.status}: ${firstLines(replay.stdout + replay.stderr)}`;
    const check = spawnSync(tool, ['-fn', file], { encoding: 'utf8', env });
    return check.status === 0 ? undefined : `e2fsck -fn exited ${check.status}: ${firstLines(check.stdout)}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function firstLines(text: string): string {
  return text.split('\n').filter((l) => l.trim() && !/^Pass \d|^e2fsck \d/.test(l)).slice(0, 3).join(' | ');
}
