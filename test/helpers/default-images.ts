/**
 * mkfs.ext4 default-profile images filled by `debugfs -w`, for the tests that read, check or
 * write them: nested directories, files of several sizes, one fragmented into six extents so
 * its tree has depth 1, an empty file, a hard link, fast and slow symlinks, extended
 * attributes in an inode and in a block, a directory of hundreds or thousands of entries
 * indexed by `e2fsck -fyD` (at 200 MiB its inodes reach group 1), and a linear directory of
 * several blocks made with dir_index off. Every image is `e2fsck -fn` clean when returned.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { e2fsckCheck, mkfsExt4, runTool } from './e2fsprogs';

export const MiB = 2 ** 20;
export const IDENTITY = {
  uuid: Uint8Array.from(Buffer.from('0123456789abcdef0123456789abcdef', 'hex')),
  hashSeed: Uint8Array.from(Buffer.from('11111111222233334444555555555555', 'hex')),
  timeSeconds: 1_700_000_000,
};
export const MANY = 'many';
export const LINEAR = 'lin';
export const manyName = (i: number): string => `entry-with-a-longish-name-${i}`;
export const linearName = (i: number): string => `linear-directory-entry-number-${i}`;
export const LINEAR_ENTRIES = 200;
export const LONG_NAMES = 6000;
export const longName = (i: number): string => `${i}-`.padEnd(255, 'n');
export const SLOW_TARGET = `/${'a'.repeat(80)}/${'b'.repeat(20)}`;

/** Deterministic bytes: a sha256 counter stream under `label`. */
export function bytesOf(label: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0, at = 0; at < length; i++, at += 32) createHash('sha256').update(`${label}:${i}`).digest().copy(out, at);
  return out;
}

export function debugfs(image: string, request: string): string {
  const r = runTool('debugfs', ['-R', request, image]);
  if (r.status !== 0) throw new Error(`debugfs -R '${request}' exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

export function debugfsWrite(image: string, commands: readonly string[]): void {
  const file = `${image}.commands`;
  fs.writeFileSync(file, `${commands.join('\n')}\n`);
  const r = runTool('debugfs', ['-w', '-f', file, image]);
  if (r.status !== 0) throw new Error(`debugfs -w exited ${r.status}: ${r.stderr}`);
}

/** How many entries the big directory gets: past 6400 the 200 MiB image's inodes reach group 1 (its table where flex_bg packed it, in group 0). */
export function manyEntries(image: string): number {
  const inodes = Number(/Inode count:\s+(\d+)/.exec(runTool('dumpe2fs', ['-h', image]).stdout)?.[1]);
  return Math.min(7000, inodes - 300);
}

/** The default profile's image of `sizeBytes`, filled as the module comment says, e2fsck -fn clean. */
export function filledImage(dir: string, sizeBytes: number): string {
  const image = path.join(dir, `default-${sizeBytes / MiB}.img`);
  mkfsExt4(image, sizeBytes, IDENTITY, 'default');
  const host = (name: string, length: number): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytesOf(name, length));
    return file;
  };
  const many = manyEntries(image);
  debugfsWrite(image, [
    'mkdir d', 'mkdir d/sub', 'mkdir d/sub/deeper',
    `write ${host('small', 20_000)} d/small`,
    `write ${host('one', 4096)} d/sub/one`,
    `write ${host('odd', 12_345)} d/sub/deeper/odd`,
    `write ${host('big', 300_000)} d/big`,
    'write /dev/null d/empty',
    'symlink d/fast /d/small',
    `symlink d/slow ${SLOW_TARGET}`,
    'ln d/small d/sub/small-link', 'sif d/small links_count 2',
    // extended attributes, which a read ignores: one in the inode, one in an xattr block
    'ea_set d/small user.note short', `ea_set -f ${host('xattr', 3000)} d/big user.large`,
    // five one-block holes between kept files: the next file takes them, six extents in all
    ...Array.from({ length: 12 }, (_, i) => `write ${host('block', 4096)} d/h${i}`),
    ...[1, 3, 5, 7, 9].map((i) => `rm d/h${i}`),
    `write ${host('frag', 300_000)} d/frag`,
    `mkdir ${MANY}`,
    ...Array.from({ length: many }, (_, i) => `write /dev/null ${MANY}/${manyName(i)}`),
  ]);
  const indexed = runTool('e2fsck', ['-fyD', image]);
  if (indexed.status > 1) throw new Error(`e2fsck -fyD exited ${indexed.status}: ${indexed.stdout}`);
  // debugfs indexes a directory that grows past a block while dir_index is on: made with it off, this one stays linear
  debugfsWrite(image, [
    'feature -dir_index', `mkdir ${LINEAR}`, ...Array.from({ length: LINEAR_ENTRIES }, (_, i) => `write /dev/null ${LINEAR}/${linearName(i)}`),
    'feature dir_index',
  ]);
  const check = e2fsckCheck(image);
  if (check.status !== 0) throw new Error(`e2fsck -fn on the filled image exited ${check.status}: ${check.stdout}`);
  return image;
}
