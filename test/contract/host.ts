// The host side of the contract: sandboxes on the real file system, and what the host's file
// system can be asked.
//
// Owns: `makeSandboxes` (fresh directories under one temporary base, removed at the end,
// `removeTree` also where paths exceed PATH_MAX) and
// `probeDirectoryLinks`, which measures whether the host counts subdirectories in a
// directory's link count. ext4, xfs and tmpfs do (2 + subdirectories); overlayfs can report 1
// and btrfs always does. Where the host does not, directory link counts cannot be compared
// with Linux, and the caller must say so in the test output (never silently).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// statfs(2) f_type values (include/uapi/linux/magic.h).
const FS_TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext2/3/4'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x9123683e, 'btrfs'],
  [0x58465342, 'xfs'],
  [0x2fc12fc1, 'zfs'],
  [0x6969, 'nfs'],
]);

export interface DirectoryLinkProbe {
  /** true when a directory's link count is 2 + its subdirectories on this host. */
  readonly counted: boolean;
  /** The host file system's name (or its statfs magic in hex). */
  readonly fsType: string;
  /** What was measured, for the test output. */
  readonly detail: string;
}

export function probeDirectoryLinks(base: string): DirectoryLinkProbe {
  const probe = fs.mkdtempSync(path.join(base, 'nlink-probe-'));
  try {
    const before = fs.statSync(probe).nlink;
    fs.mkdirSync(path.join(probe, 'sub'));
    const after = fs.statSync(probe).nlink;
    const fsType = fsTypeName(base);
    const counted = before === 2 && after === 3;
    const detail = `${fsType} at ${base}: an empty directory has ${before} links, ${after} with one subdirectory`;
    return { counted, fsType, detail };
  } finally {
    removeTree(probe);
  }
}

function fsTypeName(at: string): string {
  const type = fs.statfsSync(at).type;
  return FS_TYPE_NAMES.get(type) ?? `statfs type 0x${type.toString(16)}`;
}

export interface Sandboxes {
  readonly base: string;
  /** A fresh empty directory under `base`. */
  make(): string;
  /** Removes `base` and everything made under it. */
  removeAll(): void;
}

export function makeSandboxes(prefix: string): Sandboxes {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    base,
    make: () => fs.mkdtempSync(path.join(base, 's-')),
    removeAll: () => removeTree(base),
  };
}

/**
 * Removes a directory tree whose paths may exceed PATH_MAX (a contract scenario builds one):
 * it moves into each directory and removes by name, which rmSync does not.
 */
export function removeTree(dir: string): void {
  const cwd = process.cwd();
  try {
    process.chdir(dir);
    removeEntriesHere();
  } finally {
    process.chdir(cwd);
  }
  fs.rmdirSync(dir);
}

function removeEntriesHere(): void {
  for (const name of fs.readdirSync('.')) {
    if (!fs.lstatSync(name).isDirectory()) {
      fs.unlinkSync(name);
      continue;
    }
    fs.chmodSync(name, 0o700);
    process.chdir(name);
    try {
      removeEntriesHere();
    } finally {
      process.chdir('..');
    }
    fs.rmdirSync(name);
  }
}
