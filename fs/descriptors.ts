/**
 * Open file descriptions and the descriptor numbers that name them, as a process's file
 * table holds them.
 *
 * Owns: descriptor numbers (Linux's rule: the lowest free one, from 3, since 0 to 2 are the
 * standard streams), what each was opened for and its offset, and how many descriptors hold
 * each inode open.
 *
 * Invariants: a count exists exactly for the inodes some descriptor holds, and equals the
 * number of those descriptors; `fds()` lists descriptors in the order they were opened.
 *
 * Does not: touch the device or any inode: releasing an unlinked inode at its last close is
 * the caller's (filesystem.ts), told by `close` that the descriptor was the last.
 */
import { fsError } from '../core/errors';

/** Linux gives a new descriptor the lowest free number; 0 to 2 are the standard streams. */
const FIRST_FD = 3;

export interface OpenFile {
  readonly ino: number;
  readonly readable: boolean;
  readonly writable: boolean;
  readonly append: boolean;
  readonly isDir: boolean;
  position: number;
}

export class DescriptorTable {
  private readonly files = new Map<number, OpenFile>();
  private readonly openCounts = new Map<number, number>();

  /** A new descriptor for `file`: the lowest free number. */
  open(file: OpenFile): number {
    let fd = FIRST_FD;
    while (this.files.has(fd)) fd++;
    this.files.set(fd, file);
    this.openCounts.set(file.ino, (this.openCounts.get(file.ino) ?? 0) + 1);
    return fd;
  }

  /** The open file behind `fd`, or EBADF for `syscall`. */
  get(fd: number, syscall: string): OpenFile {
    const file = typeof fd === 'number' ? this.files.get(fd) : undefined;
    if (file === undefined) throw fsError('EBADF', syscall);
    return file;
  }

  /** Close `fd` (EBADF for `syscall` if it is not open); `last`: no descriptor holds the inode now. */
  close(fd: number, syscall: string): { ino: number; last: boolean } {
    const file = this.get(fd, syscall);
    this.files.delete(fd);
    const left = (this.openCounts.get(file.ino) ?? 1) - 1;
    if (left > 0) {
      this.openCounts.set(file.ino, left);
      return { ino: file.ino, last: false };
    }
    this.openCounts.delete(file.ino);
    return { ino: file.ino, last: true };
  }

  isOpen(ino: number): boolean {
    return this.openCounts.has(ino);
  }

  /** Inodes some descriptor holds open. */
  openInodes(): number[] {
    return [...this.openCounts.keys()];
  }

  /** Every open descriptor, in the order they were opened. */
  fds(): number[] {
    return [...this.files.keys()];
  }
}
