/**
 * Atomic file writes for reports: the text goes to a temporary file in the same directory
 * (same file system, so the rename is atomic), is fsynced, and is renamed over the target;
 * then the directory is fsynced so the rename itself survives a power failure. A reader sees
 * the old file or the whole new one, never a part. On any error the temporary file is removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function writeFileAtomic(file: string, text: string): void {
  replaceAtomically(file, (tmp) => fs.writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 }));
}

/**
 * Make `file` by `write(temporary)` on a fresh temporary name beside it, fsync that file,
 * rename it over `file`, fsync the directory. On any error the temporary file is removed.
 */
export function replaceAtomically(file: string, write: (temporary: string) => void): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  try {
    write(tmp);
    const fd = fs.openSync(tmp, 'r+');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDir(dir);
}

/** fsync a directory where the platform allows it (not on Windows). */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // some platforms refuse to open or fsync a directory: the rename is still atomic
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
