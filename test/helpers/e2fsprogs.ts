/**
 * Running the real e2fsprogs (mkfs.ext4, e2fsck, dumpe2fs, debugfs) from tests, the oracle
 * nobody on this team wrote.
 *
 * A missing tool throws (the test fails with the install hint), never skips: a suite that
 * silently stops comparing against the oracle would pass for the wrong reason.
 * mkfs.ext4 always runs with a profile's pinned command (MKFS_EXT4_ARGS in fs/mkfs.ts: the
 * spec's for 'minimal'), with E2FSPROGS_FAKE_TIME, -U and hash_seed fixing its clock and
 * randomness, so its image is a function of (profile, size, uuid, hash seed, time).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FeatureProfile, MKFS_EXT4_ARGS } from '../../fs/mkfs';

export const E2FSPROGS_DIR = '/usr/sbin';
const TOOL_TIMEOUT_MS = 60_000;

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** The tool's absolute path; throws with an install hint when e2fsprogs is missing. */
export function toolPath(name: string): string {
  const dirs = [E2FSPROGS_DIR, ...(process.env.PATH ?? '').split(path.delimiter).filter((d) => d.length > 0)];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this directory; try the next
    }
  }
  throw new Error(
    `e2fsprogs tool '${name}' was not found in ${E2FSPROGS_DIR} or on PATH. These tests compare our ` +
      'file system with the real e2fsprogs and cannot run without it: install the Debian package e2fsprogs (1.47).',
  );
}

export function runTool(name: string, args: readonly string[], env: Record<string, string> = {}): ToolResult {
  const result = spawnSync(toolPath(name), args, {
    encoding: 'utf8',
    timeout: TOOL_TIMEOUT_MS,
    env: { ...process.env, ...env, PATH: `${E2FSPROGS_DIR}${path.delimiter}${process.env.PATH ?? ''}` },
  });
  if (result.error) throw new Error(`${name} ${args.join(' ')} failed to run: ${result.error.message}`);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function uuidString(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidBytes(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/-/g, ''), 'hex'));
}

export interface ReferenceParams {
  uuid: Uint8Array;
  hashSeed: Uint8Array;
  timeSeconds: number;
}

/**
 * A profile's pinned mkfs.ext4 command (MKFS_EXT4_ARGS, the spec's for 'minimal') on a fresh
 * sparse file of `sizeBytes` bytes at `imagePath`. mke2fs keeps only its last -E, so the
 * hash seed joins the profile's extended options.
 */
export function mkfsExt4(imagePath: string, sizeBytes: number, params: ReferenceParams, profile: FeatureProfile = 'minimal'): void {
  fs.rmSync(imagePath, { force: true });
  fs.writeFileSync(imagePath, '');
  fs.truncateSync(imagePath, sizeBytes);
  const pinned = [...MKFS_EXT4_ARGS[profile]];
  const extended = pinned.indexOf('-E') + 1;
  if (extended === 0) throw new Error(`MKFS_EXT4_ARGS.${profile} has no -E`);
  pinned[extended] = `${pinned[extended] as string},hash_seed=${uuidString(params.hashSeed)}`;
  const args = [...pinned, '-U', uuidString(params.uuid), imagePath];
  const result = runTool('mkfs.ext4', args, { E2FSPROGS_FAKE_TIME: String(params.timeSeconds) });
  if (result.status !== 0) {
    throw new Error(`mkfs.ext4 ${args.join(' ')} exited ${result.status}:\n${result.stdout}${result.stderr}`);
  }
}

/** `e2fsck -fn`: checks without changing anything. */
export function e2fsckCheck(imagePath: string): ToolResult {
  return runTool('e2fsck', ['-fn', imagePath]);
}

/**
 * The lines of `e2fsck -fn` output that are not its five pass headers, its summary line or
 * its version banner: on a clean image, none.
 */
export function e2fsckComplaints(result: ToolResult): string[] {
  const routine = [/^Pass [1-5]: /, /^\S+: \d+\/\d+ files \([\d.]+% non-contiguous\), \d+\/\d+ blocks$/, /^e2fsck \d/];
  return `${result.stdout}\n${result.stderr}`
    .split('\n')
    .filter((line) => line.trim().length > 0 && !routine.some((re) => re.test(line)));
}

export interface DumpedGroup {
  group: number;
  firstBlock: number;
  lastBlock: number;
  /** Superblock (primary or backup) location, if any. */
  superblock: number | undefined;
  gdt: [number, number] | undefined;
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: [number, number];
  freeBlocks: number;
  freeInodes: number;
  directories: number;
}

export interface Dumped {
  header: Map<string, string>;
  groups: DumpedGroup[];
}

/** `dumpe2fs IMAGE`, parsed: the header fields by name, and each group's layout and counts. */
export function dumpe2fs(imagePath: string): Dumped {
  const result = runTool('dumpe2fs', [imagePath]);
  if (result.status !== 0) throw new Error(`dumpe2fs ${imagePath} exited ${result.status}: ${result.stderr}`);
  const header = new Map<string, string>();
  const groups: DumpedGroup[] = [];
  let current: Partial<DumpedGroup> | undefined;
  const num = (s: string | undefined): number => {
    const n = Number(s);
    if (!Number.isInteger(n)) throw new Error(`dumpe2fs: '${s}' is not a number`);
    return n;
  };
  for (const line of result.stdout.split('\n')) {
    let m = /^Group (\d+): \(Blocks (\d+)-(\d+)\)/.exec(line);
    if (m) {
      current = { group: num(m[1]), firstBlock: num(m[2]), lastBlock: num(m[3]), superblock: undefined, gdt: undefined };
      groups.push(current as DumpedGroup);
      continue;
    }
    if (current === undefined) {
      const h = /^([^:]+):\s+(.*)$/.exec(line);
      if (h) header.set(h[1] as string, (h[2] as string).trim());
      continue;
    }
    if ((m = /(?:Primary|Backup) superblock at (\d+), Group descriptors at (\d+)-(\d+)/.exec(line))) {
      current.superblock = num(m[1]);
      current.gdt = [num(m[2]), num(m[3])];
    } else if ((m = /Block bitmap at (\d+)/.exec(line))) {
      current.blockBitmap = num(m[1]);
    } else if ((m = /Inode bitmap at (\d+)/.exec(line))) {
      current.inodeBitmap = num(m[1]);
    } else if ((m = /Inode table at (\d+)-(\d+)/.exec(line))) {
      current.inodeTable = [num(m[1]), num(m[2])];
    } else if ((m = /^\s+(\d+) free blocks, (\d+) free inodes, (\d+) directories/.exec(line))) {
      current.freeBlocks = num(m[1]);
      current.freeInodes = num(m[2]);
      current.directories = num(m[3]);
    }
  }
  return { header, groups };
}

export interface DumpedExtent {
  logical: number;
  logicalEnd: number;
  start: number;
  end: number;
}

/** The extents of inode `ino` as debugfs prints them ("(0-4095):409-4504", or "(0):68" for one block). */
export function debugfsExtents(imagePath: string, ino: number): DumpedExtent[] {
  const result = runTool('debugfs', ['-R', `stat <${ino}>`, imagePath]);
  if (result.status !== 0) throw new Error(`debugfs stat <${ino}> exited ${result.status}: ${result.stderr}`);
  const section = result.stdout.split('EXTENTS:')[1] ?? '';
  return [...section.matchAll(/\((\d+)(?:-(\d+))?\):(\d+)(?:-(\d+))?/g)].map((m) => ({
    logical: Number(m[1]), logicalEnd: Number(m[2] ?? m[1]), start: Number(m[3]), end: Number(m[4] ?? m[3]),
  }));
}

/** A fresh temporary directory; remove it with removeTempDir. */
export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `daxcrash-${prefix}-`));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Reads `count` blocks of 4096 bytes from an image file, without reading the whole file. */
export function readImageBlocks(imagePath: string, firstBlock: number, count: number): Uint8Array {
  const out = new Uint8Array(count * 4096);
  const fd = fs.openSync(imagePath, 'r');
  try {
    let done = 0;
    while (done < out.length) {
      const n = fs.readSync(fd, out, done, out.length - done, firstBlock * 4096 + done);
      if (n === 0) break;
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return out;
}

export interface ImageDifference {
  block: number;
  byteInBlock: number;
  ours: number;
  theirs: number;
}

/**
 * Every byte where two images of the same size differ, compared in chunks so a sparse
 * 1 GiB image never sits in memory whole; stops after `limit` differences.
 */
export function diffImages(oursPath: string, theirsPath: string, limit = 64): ImageDifference[] {
  const size = fs.statSync(theirsPath).size;
  const oursSize = fs.statSync(oursPath).size;
  if (oursSize !== size) throw new Error(`images differ in size: ours ${oursSize}, mkfs.ext4's ${size}`);
  const chunk = 4 * 2 ** 20;
  const a = new Uint8Array(chunk);
  const b = new Uint8Array(chunk);
  const fa = fs.openSync(oursPath, 'r');
  const fb = fs.openSync(theirsPath, 'r');
  const out: ImageDifference[] = [];
  try {
    for (let at = 0; at < size && out.length < limit; at += chunk) {
      const n = Math.min(chunk, size - at);
      fs.readSync(fa, a, 0, n, at);
      fs.readSync(fb, b, 0, n, at);
      if (Buffer.compare(Buffer.from(a.buffer, 0, n), Buffer.from(b.buffer, 0, n)) === 0) continue;
      for (let i = 0; i < n && out.length < limit; i++) {
        if (a[i] !== b[i]) {
          const byte = at + i;
          out.push({ block: Math.floor(byte / 4096), byteInBlock: byte % 4096, ours: a[i] as number, theirs: b[i] as number });
        }
      }
    }
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
  return out;
}

/** The device blocks of an image's journal (inode 8), in journal order, as `debugfs stat <8>` lists its extents. */
export function journalBlocksOf(image: string): number[] {
  const stat = runTool('debugfs', ['-R', 'stat <8>', image]).stdout;
  const runs = [...stat.matchAll(/\((\d+)(?:-(\d+))?\):(\d+)(?:-(\d+))?/g)].map((m) => ({ start: Number(m[3]), end: Number(m[4] ?? m[3]) }));
  if (runs.length === 0) throw new Error(`debugfs listed no extents for the journal inode of ${image}:\n${stat}`);
  return runs.flatMap((r) => Array.from({ length: r.end - r.start + 1 }, (_, k) => r.start + k));
}
