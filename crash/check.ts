/**
 * Checking one crash image against the oracle window (spec/crash-checking.md): recover it,
 * then hold it to the promises G1 to G8. A finding is a typed value, never an exception.
 *
 * - G1 mountable: mount with journal recovery succeeds.
 * - G2 consistent: our fsck finds nothing after recovery (e2fsck is an option of the engine).
 * - G3 prefix / G4 durable / G7 atomic rename: the recovered namespace (paths, types, sizes,
 *   symlink targets, hard-link groups) equals S_k for some p <= k <= i. Equal only to a
 *   state before p is G4 (a returned fsync lost); a missing target of a replacing rename in
 *   the window is G7; anything else G3.
 * - G5 no stale data / G6 committed appends carry data: with k fixed, every word below a
 *   file's size holds what that file held at that offset in some S_j, d_f <= j <= i (a hole
 *   reads as zeros there), or zeros past the end of some S_j with j > k (a later shrink
 *   zeroes the rest of its last block in place, before its size commits; the spec's window
 *   allows zeros past the end). A zero word where no such state allows zeros is G6: the
 *   file's size(k) survived, so the size increase committed without its data. Any other
 *   foreign word is G5.
 * - G8 usable: the recovered file system takes new work (a file in every directory,
 *   written, fsynced, deleted), unmounts, remounts, and fsck is still clean; ENOSPC is an
 *   answer, not a violation.
 *
 * Not checked here: crashes during recovery (G9), e2fsck on the image (the engine's option),
 * times, modes, owners, inode numbers, and data of files that no longer exist.
 *
 * What an image yields (mount, fsck, recovered state, G8) depends on its bytes only, so it
 * is computed once per image digest; the window comparison is done for every crash point.
 */
import type { PmemDevice } from '../device/device';
import type { MediaSource } from '../device/media';
import { FsckProblem, fsck } from '../fs/fsck';
import type { DaxFileSystem } from '../fs/filesystem';
import { Entry, OracleRun, Snapshot, namespaceKey, snapshot } from './oracle';
import { patternByte } from '../workloads/ops';
import { MountSetup, boot, mountSetup } from './setup';

export type { MountSetup };
export type PromiseId = 'G0' | 'G1' | 'G2' | 'G3' | 'G4' | 'G5' | 'G6' | 'G7' | 'G8' | 'G9';
export const PROMISES: readonly PromiseId[] = ['G0', 'G1', 'G2', 'G3', 'G4', 'G5', 'G6', 'G7', 'G8', 'G9'];

export interface Violation {
  readonly promise: PromiseId;
  /** What the oracle allowed against what the image holds, for a person to read. */
  readonly diff: string;
}

/** Where in the workload the power failed: `done` operations completed, one maybe in flight. */
export interface CrashPosition {
  readonly done: number;
  readonly inFlight: boolean;
}

/** What an image yields, whatever the window: computed once per digest. */
export interface Recovered {
  readonly mountError?: string;
  readonly fsckProblems: readonly FsckProblem[];
  readonly state?: Snapshot;
  readonly g8?: string;
  /** The real e2fsck's verdict on the raw crash image, when the engine asked for it. */
  readonly e2fsck?: string;
  /** Transactions the journal recovery replayed (a crash during recovery matters then). */
  readonly replayed?: number;
}

const WORD_BYTES = 8;

export function recoverImage(image: MediaSource, setup: MountSetup, e2fsck?: (image: MediaSource) => string | undefined): Recovered {
  const verdict = e2fsck?.(image);
  const recovered = recoverOurs(image, setup);
  return verdict === undefined ? recovered : { ...recovered, e2fsck: verdict };
}

function recoverOurs(image: MediaSource, setup: MountSetup): Recovered {
  let booted: ReturnType<typeof boot>;
  try {
    booted = boot(setup, image, { trace: false });
  } catch (err) {
    return { mountError: (err as Error).message, fsckProblems: [] };
  }
  const { device, fs } = booted;
  const replayed = booted.report.recovery?.transactionsReplayed ?? 0;
  let state: Snapshot;
  try {
    state = snapshot(fs);
  } catch (err) {
    return { mountError: `reading the recovered file system: ${(err as Error).message}`, fsckProblems: fsck(device) };
  }
  const fsckProblems = fsck(device);
  const g8 = fsckProblems.length === 0 ? usable(fs, device, setup) : undefined;
  return { fsckProblems, state, g8, replayed };
}

/** G8: new work on the recovered file system; undefined when all went well. */
function usable(fs: DaxFileSystem, device: PmemDevice, setup: MountSetup): string | undefined {
  const made: string[] = [];
  try {
    const dirs = ['/', ...[...snapshot(fs).entries].filter(([, e]) => e.type === 'dir').map(([p]) => p)];
    for (const dir of dirs) {
      const path = dir === '/' ? '/.g8' : `${dir}/.g8`;
      try {
        fs.writeFileSync(path, 'usable');
        const fd = fs.openSync(path, 'r');
        fs.fsyncSync(fd);
        fs.closeSync(fd);
        made.push(path);
      } catch (err) {
        if ((err as { code?: string }).code !== 'ENOSPC') throw err;
      }
    }
    for (const path of made) fs.unlinkSync(path);
    fs.unmount();
    mountSetup(device, setup).fs.unmount();
    const problems = fsck(device);
    return problems.length === 0 ? undefined : `after new work and a remount, fsck: ${problems[0].kind} ${problems[0].where}: ${problems[0].what}`;
  } catch (err) {
    return `new work failed: ${(err as Error).message}`;
  }
}

/** Hold a recovered image to the window of a crash position. */
export function judge(recovered: Recovered, oracle: OracleRun, at: CrashPosition): Violation[] {
  if (recovered.mountError !== undefined) return [{ promise: 'G1', diff: `mount failed: ${recovered.mountError}` }];
  const out: Violation[] = [];
  if (recovered.fsckProblems.length > 0) {
    const p = recovered.fsckProblems;
    out.push({ promise: 'G2', diff: `fsck: ${p.length} problem(s); first: ${p[0].kind} ${p[0].where}: ${p[0].what}` });
  } else if (recovered.e2fsck !== undefined) {
    out.push({ promise: 'G2', diff: recovered.e2fsck });
  }
  const state = recovered.state as Snapshot;
  const i = at.inFlight ? at.done + 1 : at.done;
  const p = oracle.persistedBy[at.done];
  const key = namespaceKey(state);
  const matching: number[] = [];
  for (let k = p; k <= i; k++) if (namespaceKey(oracle.states[k]) === key) matching.push(k);
  if (matching.length === 0) {
    out.push(namespaceViolation(state, oracle, p, i));
  } else {
    const data = dataViolations(state, oracle, at, matching);
    if (data) out.push(data);
  }
  if (recovered.g8 !== undefined) out.push({ promise: 'G8', diff: recovered.g8 });
  return out;
}

function namespaceViolation(state: Snapshot, oracle: OracleRun, p: number, i: number): Violation {
  const key = namespaceKey(state);
  for (let k = 0; k < p; k++) {
    if (namespaceKey(oracle.states[k]) === key) {
      return { promise: 'G4', diff: `the namespace is that of state ${k}, but operation ${p} (${describe(oracle, p)}) returned from a persistence point` };
    }
  }
  for (let k = Math.max(1, p); k <= i; k++) {
    const op = oracle.workload.ops[k - 1];
    if (op.op === 'rename' && oracle.states[k - 1].entries.has(op.to) && !state.entries.has(op.to) && !state.entries.has(op.from)) {
      return { promise: 'G7', diff: `rename ${op.from} -> ${op.to} replaced a name, and neither name survived` };
    }
  }
  return { promise: 'G3', diff: `the namespace matches no state ${p}..${i}:\n${namespaceDiff(oracle.states[i], state)}` };
}

function dataViolations(state: Snapshot, oracle: OracleRun, at: CrashPosition, matching: readonly number[]): Violation | undefined {
  const i = at.inFlight ? at.done + 1 : at.done;
  let last: Violation | undefined;
  for (const k of matching) {
    last = dataAgainst(state, oracle, at, k, i);
    if (last === undefined) return undefined;
  }
  return last;
}

function dataAgainst(state: Snapshot, oracle: OracleRun, at: CrashPosition, k: number, i: number): Violation | undefined {
  const ref = oracle.states[k];
  for (const [path, e] of ref.entries) {
    if (e.type !== 'file') continue;
    const ours = state.contents.get((state.entries.get(path) as Entry).ino) ?? new Uint8Array(0);
    const d = lastDurable(oracle, e.ino, at.done);
    const windows: Uint8Array[] = [];
    /** Per window state, whether it comes after k (a shrink there may have zeroed past its end). */
    const afterK: boolean[] = [];
    for (let j = d; j <= i; j++) {
      const c = oracle.states[j].contents.get(e.ino);
      if (c !== undefined) {
        windows.push(c);
        afterK.push(j > k);
      }
    }
    for (let w = 0; w < ours.length; w += WORD_BYTES) {
      const end = Math.min(ours.length, w + WORD_BYTES);
      const word = ours.subarray(w, end);
      // Zeros count where some state held zeros inside the file (a hole, or written zeros),
      // and past the end of a state after k: a shrink there zeroes the rest of its last
      // block in place before its size commits. Past the end of a state up to k they would
      // be a committed size increase without its data, which G6 forbids.
      const fits = windows.some((c, n) => wordFits(c, w, end, word, afterK[n]));
      if (fits) continue;
      return {
        promise: isZero(word) ? 'G6' : 'G5',
        diff: `${path} bytes ${w}..${end - 1}: holds ${hex(word)}${origin(word, w)}; states ${d}..${i} allow `
          + `${[...new Set(windows.filter((c) => c.length >= end).map((c) => hex(c.subarray(w, end)) + origin(c.subarray(w, end), w)))].join(' or ') || 'nothing (past the end in every state)'}`,
      };
    }
  }
  return undefined;
}

/** Which write's pattern a word carries (every byte says its tag and offset), if any. */
function origin(word: Uint8Array, offset: number): string {
  if (isZero(word)) return ' (zeros)';
  for (let tag = 0; tag < 255; tag++) {
    let all = true;
    for (let b = 0; b < word.length && all; b++) all = word[b] === patternByte(tag, offset + b);
    if (all) return ` (write tag ${tag})`;
  }
  return ' (no write of this workload)';
}

function lastDurable(oracle: OracleRun, ino: number, done: number): number {
  let d = 0;
  for (const k of oracle.durableAt.get(ino) ?? []) if (k <= done && k > d) d = k;
  return d;
}

/** Whether `word` (bytes from..to-1) is what `c` holds there; bytes past c's end fit as zeros if `zerosPastEnd`. */
function wordFits(c: Uint8Array, from: number, to: number, word: Uint8Array, zerosPastEnd: boolean): boolean {
  if (c.length < to && !zerosPastEnd) return false;
  for (let b = from; b < to; b++) {
    if (b < c.length ? c[b] !== word[b - from] : word[b - from] !== 0) return false;
  }
  return true;
}

function isZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex') || '(nothing)';
}

function describe(oracle: OracleRun, k: number): string {
  return k === 0 ? 'none' : JSON.stringify(oracle.workload.ops[k - 1]);
}

/** Lines only in one of the two namespaces. */
export function namespaceDiff(expected: Snapshot, actual: Snapshot): string {
  const a = new Set(namespaceKey(expected).split('\n'));
  const b = new Set(namespaceKey(actual).split('\n'));
  const lines: string[] = [];
  for (const l of a) if (!b.has(l) && l) lines.push(`  - ${l}`);
  for (const l of b) if (!a.has(l) && l) lines.push(`  + ${l}`);
  return lines.join('\n') || '  (same lines, different hard-link groups)';
}
