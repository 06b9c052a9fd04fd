/**
 * A seeded random workload over nested directories, for tests that need a file system to
 * have done varied work (interop, crash smoke tests). The full workload generators, as data,
 * come with the crash engine; this one drives the API directly.
 */
import { Rng } from '../../core/rng';
import type { DaxFileSystem } from '../../fs/filesystem';

export interface WorkloadOptions {
  /** Call fsync after a write with this probability (0 by default). */
  readonly fsyncProbability?: number;
  readonly maxFileBytes?: number;
}

/** Run `operations` operations; ENOSPC is an answer, any other error propagates. */
export function randomWorkload(f: DaxFileSystem, rng: Rng, operations: number, options: WorkloadOptions = {}): number {
  const dirs = ['/'];
  const files: string[] = [];
  const maxBytes = options.maxFileBytes ?? 20000;
  const join = (d: string, n: string) => (d === '/' ? `/${n}` : `${d}/${n}`);
  let serial = 0;
  for (let done = 0; done < operations; done++) {
    const roll = rng.below(100);
    try {
      if (roll < 12 && dirs.length < 40) {
        const d = join(rng.pick(dirs), `d${serial++}`);
        f.mkdirSync(d);
        dirs.push(d);
      } else if (roll < 40 || files.length === 0) {
        const p = join(rng.pick(dirs), `f${serial++}`);
        f.writeFileSync(p, Buffer.alloc(rng.below(maxBytes), rng.below(256)));
        files.push(p);
      } else if (roll < 60) {
        const fd = f.openSync(rng.pick(files), 'r+');
        f.writeSync(fd, Buffer.alloc(1 + rng.below(9000), 1 + rng.below(255)), 0, undefined, rng.below(5 * maxBytes));
        if (rng.float() < (options.fsyncProbability ?? 0)) f.fsyncSync(fd);
        f.closeSync(fd);
      } else if (roll < 68) {
        f.truncateSync(rng.pick(files), rng.below(30000));
      } else if (roll < 76) {
        const i = rng.below(files.length);
        f.unlinkSync(files[i]);
        files.splice(i, 1);
      } else if (roll < 86) {
        const i = rng.below(files.length);
        const to = join(rng.pick(dirs), `r${serial++}`);
        f.renameSync(files[i], to);
        files[i] = to;
      } else if (roll < 92) {
        const to = join(rng.pick(dirs), `l${serial++}`);
        f.linkSync(rng.pick(files), to);
        files.push(to);
      } else if (roll < 97) {
        const target = rng.bool() ? rng.pick(files) : 'x'.repeat(70 + rng.below(100));
        f.symlinkSync(target, join(rng.pick(dirs), `s${serial++}`));
      } else if (dirs.length > 1) {
        const d = dirs[1 + rng.below(dirs.length - 1)];
        if (f.readdirSync(d).length === 0) {
          f.rmdirSync(d);
          dirs.splice(dirs.indexOf(d), 1);
        } else {
          f.syncSync();
        }
      }
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOSPC') throw err;
    }
  }
  return operations;
}
