/**
 * The operation mix of `bench:fs`, one place for the benchmark and for the test that pins
 * what the file system writes while running it (test/fs/trace-fingerprint.test.ts).
 *
 * Per round over a directory of `window` files: create a file and write 4 KiB to it,
 * overwrite 512 bytes in place, fsync it, close it, rename it, every eighth round readdir the
 * directory, and unlink the file `window` rounds old; at the end the files left are unlinked.
 * Every call counts as one operation. Invariants: the work is a pure function of the
 * parameters (names, bytes and order never depend on anything else), so two runs on two file
 * systems make the same calls.
 */

/** The calls the mix makes: Node's names, met by memfs and by our file system. */
export interface MixFs {
  mkdirSync(path: string, options?: { recursive?: boolean }): unknown;
  openSync(path: string, flags: string): number;
  writeSync(fd: number, buffer: Uint8Array, offset?: number, length?: number, position?: number | null): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  readdirSync(path: string): unknown[];
  unlinkSync(path: string): void;
}

export interface MixOptions {
  readonly rounds: number;
  /** Files kept in the directory before the oldest is unlinked. */
  readonly window: number;
}

export const BENCH_MIX: MixOptions = { rounds: 2000, window: 64 };

const BLOCK = new Uint8Array(4096).fill(0x5a);
const SMALL = new Uint8Array(512).fill(0xa5);

/** One repetition of the mix in directory `dir` (names carry `rep`); returns the operations it performed. */
export function runMix(fs: MixFs, dir: string, rep: number, o: MixOptions = BENCH_MIX): number {
  let ops = 0;
  const name = (i: number, moved: boolean) => `${dir}/${moved ? 'm' : 'f'}${rep}-${i}`;
  for (let i = 0; i < o.rounds; i++) {
    const fd = fs.openSync(name(i, false), 'w');
    fs.writeSync(fd, BLOCK, 0, BLOCK.length, 0);
    fs.writeSync(fd, SMALL, 0, SMALL.length, 1024);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(name(i, false), name(i, true));
    ops += 6; // open, write, write, fsync, close, rename
    if (i % 8 === 0) {
      fs.readdirSync(dir);
      ops++;
    }
    if (i >= o.window) {
      fs.unlinkSync(name(i - o.window, true));
      ops++;
    }
  }
  for (let i = Math.max(0, o.rounds - o.window); i < o.rounds; i++) {
    fs.unlinkSync(name(i, true));
    ops++;
  }
  return ops;
}
