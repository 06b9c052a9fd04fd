/**
 * The real e2fsck as an oracle of G2 (spec/crash-checking.md): nobody on this team wrote it.
 *
 * - `e2fsckRecovered(image)`: `e2fsck -fn` on the image as our recovery left it (replay,
 *   orphans, a clean unmount). The engine runs it by default on the recovered images whose
 *   metadata differs from every image already checked in the unit, at most a fixed number
 *   a unit (engine.ts); our own check of that image already makes sure needs_recovery is
 *   clear and the log empty, since `-fn` exits 0 on an image that still needs recovery.
 * - `e2fsckRaw(image)`: the raw crash image, on a copy: the journal is replayed by
 *   `debugfs -w -R jr` (a replay that stops after the replay, unlike `e2fsck -E journal_only
 *   -y`, which may repair what it finds), then `e2fsck -fn`. Orphans still on the list are
 *   live (the kernel and our mount finish them), so complaints about the orphan list alone
 *   are not damage.
 *
 * The tools' clock is fixed (FIXED_TIME) so their output repeats. Files live in a temporary
 * directory removed after each check. Where e2fsprogs is missing, `e2fsckAvailable()` says
 * so and the engine goes on without it (the run reports that once).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { MediaSource } from '../device/media';
import { writeSparseFile } from '../device/media';

const TOOL_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
/**
 * The tools' clock: e2fsck's (E2FSCK_TIME) and the library's (E2FSPROGS_FAKE_TIME, which
 * debugfs uses when it writes the superblock). With only the first fixed, a superblock that
 * debugfs rewrote carries today's time and e2fsck, living in 2023, calls it "in the future".
 */
const FIXED_TIME = '1700000000';

function toolPath(name: string): string | undefined {
  for (const dir of TOOL_DIRS) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function e2fsckPath(): string {
  const found = toolPath('e2fsck');
  if (found === undefined) throw new Error('e2fsck not found: install e2fsprogs (apt-get install e2fsprogs)');
  return found;
}

/** Whether e2fsck (and debugfs, for raw images) can be run here. */
export function e2fsckAvailable(): boolean {
  return toolPath('e2fsck') !== undefined && toolPath('debugfs') !== undefined;
}

/** undefined when `e2fsck -fn` calls the recovered image clean; otherwise what it said. */
export function e2fsckRecovered(image: MediaSource): string | undefined {
  return withImage(image, (file, env) => {
    const check = spawnSync(e2fsckPath(), ['-fn', file], { encoding: 'utf8', env });
    return check.status === 0 ? undefined : `e2fsck -fn on the recovered image exited ${check.status}: ${firstLines(check.stdout)}`;
  });
}

/** undefined when the raw crash image, replayed by debugfs, is clean to `e2fsck -fn` (live orphans aside). */
export function e2fsckRaw(image: MediaSource): string | undefined {
  return withImage(image, (file, env) => {
    const debugfs = toolPath('debugfs') as string;
    const replay = spawnSync(debugfs, ['-w', '-R', 'jr', file], { encoding: 'utf8', env });
    if (replay.status !== 0) return `debugfs -w -R jr exited ${replay.status}: ${firstLines(replay.stdout + replay.stderr)}`;
    const check = spawnSync(e2fsckPath(), ['-fn', file], { encoding: 'utf8', env });
    if (check.status === 0) return undefined;
    const problems = problemLines(check.stdout);
    if (problems.length > 0 && problems.every((l) => /orphan/i.test(l))) return undefined;
    return `e2fsck -fn after a journal replay exited ${check.status}: ${firstLines(check.stdout)}`;
  });
}

function withImage(image: MediaSource, run: (file: string, env: NodeJS.ProcessEnv) => string | undefined): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-e2fsck-'));
  try {
    const file = path.join(dir, 'crash.img');
    writeSparseFile(image, file);
    return run(file, { ...process.env, E2FSCK_TIME: FIXED_TIME, E2FSPROGS_FAKE_TIME: FIXED_TIME });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** What e2fsck complained about: its output without pass headers, the banner and the summary. */
function problemLines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l && !/^Pass \d|^e2fsck \d|^\S+: \d+\/\d+ files|^\*+|WARNING: Filesystem still has errors|^$/.test(l));
}

function firstLines(text: string): string {
  return problemLines(text).slice(0, 3).join(' | ');
}
