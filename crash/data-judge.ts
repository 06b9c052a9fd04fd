/**
 * The data part of a judgement (G4, G5, G6 on file contents), word by word, with the words
 * of a recovered state patchable: the crash engine's reduction (explore.ts) judges the data
 * of many crash states that differ from a judged one only in file-data lines by patching
 * those words here instead of recovering each image again.
 *
 * The rule (spec/crash-checking.md, "The window, precisely"): with the namespace matched at
 * some k (p <= k <= i; every such k is tried, in order), every word below a file's size must
 * hold what that file held at that offset in some reference state S_j, d_f <= j <= i (d_f:
 * the file's last durable point), or zeros where S_j had a hole, zeros or (for j > k) its
 * end. A word that fails is:
 * - G4 when it equals what the file held there, inside its size, in a state before d_f
 *   (fsynced data lost: an older value came back);
 * - G6 when it is zeros (a size increase that committed without its data);
 * - G5 otherwise (bytes no state held there).
 * The state's data verdict is clean when some matching k has no failing word; otherwise it
 * is the first failing word (files in the reference's path order, words ascending) of the
 * last matching k: the verdict the judgement before this module gave, kept for counts.
 *
 * Invariants: `verdict()` of no patches equals the judgement of the state itself; a patch
 * replaces the bytes of one of our files at an offset (past the file's size it is ignored);
 * nothing here reads our file system.
 */
import type { CrashPosition, Violation } from './check';
import type { Entry, OracleRun, Snapshot } from './oracle';
import { patternByte } from '../workloads/ops';

const WORD_BYTES = 8;

/** What one word, or a state's data, comes to. */
export type DataCode = 'ok' | 'G4' | 'G5' | 'G6';

/** Replacement bytes for some words of our files: our inode -> word offset -> the word's bytes. */
export type DataPatches = ReadonlyMap<number, ReadonlyMap<number, Uint8Array>>;

/** One file of S_k checked against its window. */
interface FileCheck {
  readonly path: string;
  /** Our inode (hard links share it) and its contents. */
  readonly ours: number;
  readonly content: Uint8Array;
  /** Contents of the file in S_j, d <= j <= i, and whether j > k (zeros past the end allowed). */
  readonly windows: readonly Uint8Array[];
  readonly afterK: readonly boolean[];
  /** Contents in the states before d (an older value coming back is G4). */
  readonly before: readonly Uint8Array[];
  readonly d: number;
  readonly i: number;
}

/** A failing word: its file (index in the k's list) and offset, and what it is. */
interface BadWord {
  readonly file: number;
  readonly offset: number;
  readonly code: Exclude<DataCode, 'ok'>;
}

export class DataJudge {
  /** Per matching k (ascending): its files, and its failing words in order. */
  private readonly checks: Array<{ readonly k: number; readonly files: readonly FileCheck[]; readonly bad: readonly BadWord[] }>;
  /** Our inode -> (k index, file index) pairs that read it. */
  private readonly readers = new Map<number, Array<[number, number]>>();

  constructor(state: Snapshot, oracle: OracleRun, at: CrashPosition, matching: readonly number[]) {
    const i = at.inFlight ? at.done + 1 : at.done;
    this.checks = matching.map((k, kIndex) => {
      const files = fileChecks(state, oracle, at.done, k, i);
      files.forEach((f, fileIndex) => {
        const list = this.readers.get(f.ours);
        if (list) list.push([kIndex, fileIndex]);
        else this.readers.set(f.ours, [[kIndex, fileIndex]]);
      });
      return { k, files, bad: badWords(files) };
    });
  }

  /** Our inodes whose words the verdict reads. */
  get inodes(): ReadonlySet<number> {
    return new Set(this.readers.keys());
  }

  /** The data verdict of the state with `patches` applied. */
  verdict(patches?: DataPatches): DataCode {
    let last: DataCode = 'ok';
    for (let kIndex = 0; kIndex < this.checks.length; kIndex++) {
      const first = this.firstBad(kIndex, patches);
      if (first === undefined) return 'ok';
      last = first.code;
    }
    return last;
  }

  /**
   * Whether every word `patched` sets has, under every matching k, the verdict it has under
   * `base` (or in the state itself where `base` leaves it): then the difference between the
   * two changes no state's data verdict, alone or with changes to other words.
   */
  neutralOver(base: DataPatches, patched: DataPatches): boolean {
    for (const [ino, words] of patched) {
      for (const [kIndex, fileIndex] of this.readers.get(ino) ?? []) {
        const file = this.checks[kIndex].files[fileIndex];
        for (const [offset, bytes] of words) {
          if (offset >= file.content.length) continue;
          const before = wordOf(file, offset, base);
          if (wordCode(file, offset, patchedWord(file, offset, bytes)) !== wordCode(file, offset, before)) return false;
        }
      }
    }
    return true;
  }

  /** The violation of the state with `patches`, with the diff a person reads (undefined when clean). */
  violation(patches?: DataPatches): Violation | undefined {
    let last: Violation | undefined;
    for (let kIndex = 0; kIndex < this.checks.length; kIndex++) {
      const first = this.firstBad(kIndex, patches);
      if (first === undefined) return undefined;
      const file = this.checks[kIndex].files[first.file];
      last = { promise: first.code, diff: describeWord(file, first.offset, wordOf(file, first.offset, patches)) };
    }
    return last;
  }

  /** The first failing word under the k at `kIndex`, with `patches` applied. */
  private firstBad(kIndex: number, patches: DataPatches | undefined): BadWord | undefined {
    const { files, bad } = this.checks[kIndex];
    if (patches === undefined || patches.size === 0) return bad[0];
    let best: BadWord | undefined;
    for (const b of bad) {
      if (patchOf(patches, files[b.file].ours, b.offset) !== undefined) continue;
      best = b;
      break;
    }
    for (const [ino, words] of patches) {
      for (const [kI, fileIndex] of this.readers.get(ino) ?? []) {
        if (kI !== kIndex) continue;
        const file = files[fileIndex];
        for (const [offset, bytes] of words) {
          if (offset >= file.content.length) continue;
          if (best !== undefined && (fileIndex > best.file || (fileIndex === best.file && offset > best.offset))) continue;
          const code = wordCode(file, offset, patchedWord(file, offset, bytes));
          if (code !== 'ok') best = { file: fileIndex, offset, code };
        }
      }
    }
    return best;
  }
}

/** The files of S_k, each with its window of states and the states before its durable point. */
function fileChecks(state: Snapshot, oracle: OracleRun, done: number, k: number, i: number): FileCheck[] {
  const out: FileCheck[] = [];
  for (const [path, e] of oracle.states[k].entries) {
    if (e.type !== 'file') continue;
    const ours = (state.entries.get(path) as Entry).ino;
    const content = state.contents.get(ours) ?? new Uint8Array(0);
    const d = lastDurable(oracle, e.ino, done);
    const windows: Uint8Array[] = [];
    const afterK: boolean[] = [];
    for (let j = d; j <= i; j++) {
      const c = oracle.states[j].contents.get(e.ino);
      if (c === undefined) continue;
      windows.push(c);
      afterK.push(j > k);
    }
    const before: Uint8Array[] = [];
    for (let j = 0; j < d; j++) {
      const c = oracle.states[j].contents.get(e.ino);
      if (c !== undefined) before.push(c);
    }
    out.push({ path, ours, content, windows, afterK, before, d, i });
  }
  return out;
}

function badWords(files: readonly FileCheck[]): BadWord[] {
  const bad: BadWord[] = [];
  files.forEach((file, index) => {
    const { content } = file;
    // the common case, a file holding one state of its window whole: no word fails
    if (file.windows.some((c) => c.length === content.length && Buffer.compare(c, content) === 0)) return;
    for (let offset = 0; offset < content.length; offset += WORD_BYTES) {
      const code = codeAt(file, offset, content, offset, Math.min(content.length, offset + WORD_BYTES) - offset);
      if (code !== 'ok') bad.push({ file: index, offset, code });
    }
  });
  return bad;
}

/** The verdict of one word of a file. */
function wordCode(file: FileCheck, offset: number, word: Uint8Array): DataCode {
  return codeAt(file, offset, word, 0, word.length);
}

/** The verdict of the word at `offset` of a file whose bytes are src[at .. at + length) (no copy, no view). */
function codeAt(file: FileCheck, offset: number, src: Uint8Array, at: number, length: number): DataCode {
  // Zeros count where some state held zeros inside the file (a hole, or written zeros), and
  // past the end of a state after k: a shrink there zeroes the rest of its last block in
  // place before its size commits. Past the end of a state up to k they would be a
  // committed size increase without its data, which G6 forbids.
  for (let n = 0; n < file.windows.length; n++) if (wordFits(file.windows[n], offset, length, src, at, file.afterK[n])) return 'ok';
  for (const c of file.before) if (wordFits(c, offset, length, src, at, false)) return 'G4';
  for (let b = at; b < at + length; b++) if (src[b] !== 0) return 'G5';
  return 'G6';
}

function wordAt(content: Uint8Array, offset: number): Uint8Array {
  return content.subarray(offset, Math.min(content.length, offset + WORD_BYTES));
}

/** The word at `offset` with a patch's bytes over it (cut at the file's end). */
function patchedWord(file: FileCheck, offset: number, bytes: Uint8Array): Uint8Array {
  return bytes.subarray(0, Math.min(WORD_BYTES, file.content.length - offset));
}

function patchOf(patches: DataPatches, ino: number, offset: number): Uint8Array | undefined {
  return patches.get(ino)?.get(offset);
}

function wordOf(file: FileCheck, offset: number, patches: DataPatches | undefined): Uint8Array {
  const patch = patches === undefined ? undefined : patchOf(patches, file.ours, offset);
  return patch === undefined ? wordAt(file.content, offset) : patchedWord(file, offset, patch);
}

function describeWord(file: FileCheck, offset: number, word: Uint8Array): string {
  const end = offset + word.length;
  const allowed = [...new Set(file.windows.filter((c) => c.length >= end).map((c) => hex(c.subarray(offset, end)) + origin(c.subarray(offset, end), offset)))];
  return `${file.path} bytes ${offset}..${end - 1}: holds ${hex(word)}${origin(word, offset)}; states ${file.d}..${file.i} allow `
    + `${allowed.join(' or ') || 'nothing (past the end in every state)'}`;
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

/** Whether `c` holds src[at .. at + length) at `from`; bytes past c's end fit as zeros if `zerosPastEnd`. */
function wordFits(c: Uint8Array, from: number, length: number, src: Uint8Array, at: number, zerosPastEnd: boolean): boolean {
  if (c.length < from + length && !zerosPastEnd) return false;
  for (let b = 0; b < length; b++) {
    const want = from + b < c.length ? c[from + b] : 0;
    if (src[at + b] !== want) return false;
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
