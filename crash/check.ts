/**
 * Checking one crash image against the oracle window (spec/crash-checking.md): recover it,
 * then hold it to the promises G1 to G8. A finding is a typed value, never an exception.
 *
 * - G1 mountable: mount with journal recovery succeeds.
 * - G2 consistent: our recovery (replay, orphan cleanup) and a clean unmount leave an image
 *   our fsck finds nothing in (the orphan list empty, no in-use inode without links), with
 *   needs_recovery clear and the log empty; the real `e2fsck -fn` on that recovered image
 *   is the engine's to run (it is handed the image and decides).
 * - G3 prefix / G4 durable / G7 atomic rename: the recovered namespace (paths, types, sizes,
 *   symlink targets, hard-link groups) equals S_k for some p <= k <= i. Equal only to a
 *   state before p is G4 (a returned fsync lost); a missing target of a replacing rename in
 *   the window is G7; anything else G3.
 * - G4 / G5 / G6 on file data: data-judge.ts, word by word (fsynced data lost is G4).
 * - G8 usable: the recovered file system, remounted after its clean unmount, takes new work
 *   (a file in every directory, written, fsynced, deleted), unmounts, remounts, and fsck is
 *   still clean; ENOSPC is an answer, not a violation.
 *
 * Not checked here: crashes during recovery (G9), times, modes, owners, inode numbers, and
 * data of files that no longer exist.
 *
 * What an image yields (mount, fsck, recovered state, G8) depends on its bytes only, so it
 * is computed once per image digest (and what follows the snapshot once per recovered
 * metadata, `JudgementCache`); the window comparison is done for every crash point.
 * With `trace`, recovery also says which lines of the image it read (device/read-trace.ts):
 * structurally (anything that can steer mount, fsck, the namespace or G8) or only as the
 * bytes of a file's data blocks (`reads.content`, with where in which file each line went):
 * the evidence the engine's reduction rests on.
 */
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';
import { PmemDevice } from '../device/device';
import { type MediaSource, pagesDigest } from '../device/media';
import { OverlayImage } from '../device/image';
import { type LineRanges, ReadTrace } from '../device/read-trace';
import { loadFileMap } from '../fs/extents';
import type { DaxFileSystem } from '../fs/filesystem';
import { BLOCK_BYTES, INCOMPAT_RECOVER, decodeJournalSuperblock } from '../fs/format';
import { FsckProblem, fsck } from '../fs/fsck';
import { journalBlocks, readSuperblock } from '../fs/mount';
import { DataJudge } from './data-judge';
import { Entry, OracleRun, Snapshot, SnapshotSource, namespaceKey, snapshot } from './oracle';
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

/** Where a line of a file's data block went: our inode, and the file offset of the line's first byte. */
export interface ContentPlace {
  readonly ino: number;
  readonly offset: number;
}

/** What the judgement of an image read of it (device/read-trace.ts). */
export interface ImageReads {
  /** Lines read structurally, as ranges (a Set of every line would be large on a 1 GiB device). */
  readonly structural: LineRanges;
  readonly content: ContentReads;
}

/**
 * The lines a judgement read only as file data, and where each went: asked of nearly every
 * uncertain line whether it is one (`has`), and of few where it went (`get`, worked out from
 * the page's owners when first asked). Holds the finished trace's set and the snapshot's
 * owners, which nothing changes after the judgement.
 */
export class ContentReads {
  private readonly places = new Map<number, readonly ContentPlace[]>();

  constructor(private readonly lines: ReadonlySet<number>, private readonly owners: ReadonlyMap<number, readonly ContentPlace[]>) {}

  get size(): number {
    return this.lines.size;
  }

  has(line: number): boolean {
    return this.lines.has(line);
  }

  /** Where a content line went (each file offset of each file the page holds data of). */
  get(line: number): readonly ContentPlace[] | undefined {
    if (!this.lines.has(line)) return undefined;
    let places = this.places.get(line);
    if (places === undefined) {
      const page = Math.floor((line * LINE_BYTES) / PAGE_BYTES);
      const within = (line * LINE_BYTES) % PAGE_BYTES;
      places = (this.owners.get(page) ?? []).map((p) => ({ ino: p.ino, offset: p.offset + within }));
      this.places.set(line, places);
    }
    return places;
  }
}

/** What an image yields, whatever the window: computed once per digest. */
export interface Recovered {
  readonly mountError?: string;
  readonly fsckProblems: readonly FsckProblem[];
  readonly state?: Snapshot;
  readonly g8?: string;
  /** Our recovery's clean unmount left needs_recovery set or the log not empty. */
  readonly notClean?: string;
  /** The real e2fsck's verdict on the recovered image, when the engine ran it. */
  readonly e2fsck?: string;
  /** Transactions the journal recovery replayed (a crash during recovery matters then). */
  readonly replayed?: number;
  /** With `trace`: the lines the judgement read. */
  readonly reads?: ImageReads;
}

export interface RecoverOptions {
  /** Record which lines of the image the judgement reads. */
  readonly trace?: boolean;
  /**
   * Called with the image as our recovery leaves it (replay, orphans, a clean unmount;
   * before G8 changes anything) and a digest of its metadata (every page but file data):
   * returns the real e2fsck's complaint, or undefined (clean, or not run).
   */
  readonly onRecovered?: (recovered: MediaSource, metadataDigest: string) => string | undefined;
  /** The unit's cache of the checks after the snapshot (`JudgementCache`); without one,
   * every image runs them. */
  readonly cache?: JudgementCache;
}

/** What the checks after the snapshot yield: fsck after the clean unmount, then, when it is
 * clean, the log's state and G8. */
interface AfterSnapshot {
  readonly fsckProblems: readonly FsckProblem[];
  readonly notClean?: string;
  readonly g8?: string;
}

/**
 * The checks that follow the snapshot (fsck of the cleanly unmounted image, whether the log
 * was left dirty, G8) for images already judged, by what those checks can depend on.
 *
 * Why an answer carries over: those checks are a deterministic run over the recovered
 * device (fixed setup, streams and clock; no device draw), and the only bytes they read
 * untraced are log lines compared before a store that makes the line the run's own bytes
 * whatever it held (`writeChangedLines`, declared overwritten). So two recovered images that
 * agree on every page the run loads from give the same run: the same problems, the same
 * verdicts, and the same lines read relative to the run's own stores. The key is a digest of
 * every page of the recovered image except file data (the pages of the files the snapshot
 * read, their list in the key) and the journal's log blocks; each run is traced on its own
 * (`ReadTrace.tee`) and kept only when it loaded nothing from an excluded page, so the key
 * covers every byte it read. A hit replays those reads into the image's trace
 * (`addStructural`, which drops lines this judgement stored before, as the run would have):
 * the reduction sees the same evidence as without the cache. test/crash/judgement-cache.test.ts
 * holds every image of a sample to the uncached judgement.
 */
export class JudgementCache {
  hits = 0;
  misses = 0;
  /** Runs not kept because they loaded from a page outside the key. */
  unkept = 0;
  private readonly entries = new Map<string, { readonly checks: AfterSnapshot; readonly reads: LineRanges }>();

  constructor(private readonly capacity = 4096) {}

  get(key: string): { readonly checks: AfterSnapshot; readonly reads: LineRanges } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) this.misses++;
    else this.hits++;
    return entry;
  }

  /**
   * Keep a run's answer unless it read a page the key leaves out: `excludedRuns`, those pages
   * as ascending, disjoint [start, end) runs (flat), walked alongside the ascending read
   * ranges (a 16 MiB inode-table read is 4096 pages: asking a predicate of each was most of a
   * miss's cost here).
   */
  put(key: string, checks: AfterSnapshot, reads: LineRanges, excludedRuns: Int32Array): void {
    if (readsExcluded(reads, excludedRuns)) {
      this.unkept++;
      return;
    }
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { checks, reads });
  }
}

/** Whether `reads` hold a line of a page in `runs` (ascending, disjoint [start, end) page runs, flat). */
export function readsExcluded(reads: LineRanges, runs: Int32Array): boolean {
  const linesPerPage = PAGE_BYTES / LINE_BYTES;
  let at = 0;
  return !reads.everyRange((start, end) => {
    const first = Math.floor(start / linesPerPage);
    const last = Math.floor((end - 1) / linesPerPage);
    // the ranges ascend, so no run ending at or before this range's first page meets a later one
    while (at < runs.length && (runs[at + 1] as number) <= first) at += 2;
    return at >= runs.length || (runs[at] as number) > last;
  });
}

/** The judgement cache's key of a recovered device, and whether it leaves a page out
 * (undefined: the journal cannot be listed, so nothing is cached). */
function judgementKey(recovered: OverlayImage, setup: MountSetup, owners: ReadonlyMap<number, readonly ContentPlace[]>): { key: string; excludedRuns: () => Int32Array } | undefined {
  let log: Int32Array;
  try {
    // an untraced view: listing the journal is not a read of the judgement
    const view = new PmemDevice({ media: recovered, profile: setup.profile, trace: false });
    log = logRunsOf(journalBlocks(view, readSuperblock(view)));
  } catch {
    return undefined;
  }
  const excluded = (page: number) => owners.has(page) || inRuns(log, page);
  const dataPages = [...owners.keys()].sort((a, b) => a - b);
  const prefix = `${recovered.sizeBytes} ${setup.profile} ${setup.pmemApi} ${setup.policy} ${setup.flushHint};data ${dataPages.join(',')};`;
  return { key: pagesDigest(recovered, prefix, excluded), excludedRuns: () => unionRuns(log, dataPages) };
}

/** The runs of the journal's log blocks (all but its first), [start, end) flat in journal
 * order, kept per list (journalBlocks shares one per layout). */
const logRuns = new WeakMap<readonly number[], Int32Array>();
function logRunsOf(journal: readonly number[]): Int32Array {
  let runs = logRuns.get(journal);
  if (runs === undefined) {
    const flat: number[] = [];
    for (let i = 1; i < journal.length; i++) {
      if (flat.length > 0 && flat[flat.length - 1] === journal[i]) flat[flat.length - 1]++;
      else flat.push(journal[i], journal[i] + 1);
    }
    runs = Int32Array.from(flat);
    logRuns.set(journal, runs);
  }
  return runs;
}

/** Whether a page lies in one of `runs` ([start, end) flat, any order). */
function inRuns(runs: Int32Array, page: number): boolean {
  for (let i = 0; i < runs.length; i += 2) if (page >= (runs[i] as number) && page < (runs[i + 1] as number)) return true;
  return false;
}

/** The pages of `runs` ([start, end) flat, any order) and of `pages` (ascending), as ascending disjoint runs, flat. */
export function unionRuns(runs: Int32Array, pages: readonly number[]): Int32Array {
  const all: Array<readonly [number, number]> = pages.map((p) => [p, p + 1] as const);
  for (let i = 0; i < runs.length; i += 2) all.push([runs[i] as number, runs[i + 1] as number]);
  all.sort((a, b) => a[0] - b[0]);
  const flat: number[] = [];
  for (const [start, end] of all) {
    if (flat.length > 0 && start <= (flat[flat.length - 1] as number)) flat[flat.length - 1] = Math.max(flat[flat.length - 1] as number, end);
    else flat.push(start, end);
  }
  return Int32Array.from(flat);
}

export function recoverImage(image: MediaSource, setup: MountSetup, options: RecoverOptions = {}): Recovered {
  // the cache needs the reads of every run it keeps, asked for or not
  const traced = options.trace || options.cache !== undefined ? new ReadTrace(image.sizeBytes) : undefined;
  try {
    return recoverTraced(image, setup, options, traced);
  } finally {
    traced?.release(); // its reads are in the result (or dropped), and its device is gone
  }
}

function recoverTraced(image: MediaSource, setup: MountSetup, options: RecoverOptions, traced: ReadTrace | undefined): Recovered {
  const trace = options.trace ? traced : undefined;
  let booted: ReturnType<typeof boot>;
  try {
    booted = boot(setup, image, { trace: false, ...(traced ? { readTrace: traced } : {}) });
  } catch (err) {
    return withReads({ mountError: (err as Error).message, fsckProblems: [] }, trace, new Map());
  }
  const { device, fs } = booted;
  const replayed = booted.report.recovery?.transactionsReplayed ?? 0;
  const owners = new Map<number, ContentPlace[]>();
  let state: Snapshot;
  try {
    state = snapshot(contentReader(fs, traced, owners));
  } catch (err) {
    return withReads({ mountError: `reading the recovered file system: ${(err as Error).message}`, fsckProblems: fsck(device) }, trace, owners);
  }
  try {
    fs.unmount();
  } catch (err) {
    return withReads({ fsckProblems: [], state, replayed, notClean: `the clean unmount after recovery failed: ${(err as Error).message}` }, trace, owners);
  }
  // the image as our recovery leaves it: orphans finished, the log empty, counts exact
  const recovered = new OverlayImage(device.coherent, []);
  const realFsck = () => options.onRecovered?.(recovered, metadataDigest(recovered, owners));
  const cached = options.cache === undefined ? undefined : judgementKey(recovered, setup, owners);
  const known = cached === undefined ? undefined : options.cache?.get(cached.key);
  let checks: AfterSnapshot;
  let e2fsck: string | undefined;
  if (known !== undefined) {
    traced?.addStructural(known.reads);
    checks = known.checks;
    if (checks.fsckProblems.length === 0) e2fsck = realFsck();
  } else {
    const own = cached === undefined || traced === undefined ? undefined : new ReadTrace(image.sizeBytes);
    if (traced !== undefined) traced.tee = own;
    try {
      checks = afterSnapshot(device, setup, () => {
        e2fsck = realFsck();
      });
    } finally {
      if (traced !== undefined) traced.tee = undefined;
    }
    if (cached !== undefined && own !== undefined) options.cache?.put(cached.key, checks, own.structural(), cached.excludedRuns());
    own?.release();
  }
  const { fsckProblems, notClean, g8 } = checks;
  if (fsckProblems.length > 0) return withReads({ fsckProblems, state, replayed }, trace, owners);
  return withReads({
    fsckProblems, state, replayed,
    ...(notClean === undefined ? {} : { notClean }), ...(e2fsck === undefined ? {} : { e2fsck }), ...(g8 === undefined ? {} : { g8 }),
  }, trace, owners);
}

/** fsck of the recovered, cleanly unmounted image; when clean, the log's state, then
 * `beforeG8` (the real e2fsck sees the image G8 has not touched), then G8. */
function afterSnapshot(device: PmemDevice, setup: MountSetup, beforeG8: () => void): AfterSnapshot {
  const fsckProblems = fsck(device, { afterRecovery: true });
  if (fsckProblems.length > 0) return { fsckProblems };
  const notClean = journalLeftDirty(device);
  beforeG8();
  const g8 = usable(device, setup);
  return { fsckProblems, ...(notClean === undefined ? {} : { notClean }), ...(g8 === undefined ? {} : { g8 }) };
}

/** Why a cleanly unmounted image still needs recovery, or undefined. */
function journalLeftDirty(device: PmemDevice): string | undefined {
  const sb = readSuperblock(device);
  if ((sb.featureIncompat & INCOMPAT_RECOVER) !== 0) return 'after recovery and a clean unmount the superblock still has needs_recovery set';
  const jsb = decodeJournalSuperblock(device.load(journalBlocks(device, sb)[0] * BLOCK_BYTES, BLOCK_BYTES), 0);
  if (jsb.start !== 0) return `after recovery and a clean unmount the journal log is not empty (s_start ${jsb.start})`;
  return undefined;
}

/** A digest of every page of `image` except those holding file data. */
function metadataDigest(image: OverlayImage, owners: ReadonlyMap<number, readonly ContentPlace[]>): string {
  return pagesDigest(image, '', (page) => owners.has(page));
}


/**
 * The file system as the snapshot reads it; with a trace, each file's data blocks are named
 * to the trace while the file is read, so those loads count as content, and `owners` learns
 * which file offset each data page holds.
 */
function contentReader(fs: DaxFileSystem, trace: ReadTrace | undefined, owners: Map<number, ContentPlace[]>): SnapshotSource {
  return {
    readdirSync: (path) => fs.readdirSync(path),
    lstatSync: (path) => fs.lstatSync(path) as ReturnType<SnapshotSource['lstatSync']>,
    readlinkSync: (path) => fs.readlinkSync(path),
    readFileSync: (path) => {
      const ino = fs.lstatSync(path)?.ino as number;
      const pages = new Set<number>();
      for (const leaf of loadFileMap(fs.meta, ino, fs.inode(ino)).leaves) {
        if (leaf.unwritten) continue;
        for (let b = 0; b < leaf.len; b++) {
          pages.add(leaf.start + b);
          const list = owners.get(leaf.start + b) ?? [];
          list.push({ ino, offset: (leaf.block + b) * BLOCK_BYTES });
          owners.set(leaf.start + b, list);
        }
      }
      if (trace !== undefined) trace.contentPages = pages;
      try {
        return fs.readFileSync(path) as Uint8Array;
      } finally {
        if (trace !== undefined) trace.contentPages = undefined;
      }
    },
  };
}

function withReads(recovered: Recovered, trace: ReadTrace | undefined, owners: ReadonlyMap<number, readonly ContentPlace[]>): Recovered {
  if (trace === undefined) return recovered;
  return { ...recovered, reads: { structural: trace.structural(), content: new ContentReads(trace.content, owners) } };
}

/** G8: new work on the recovered file system, remounted after its clean unmount; undefined when all went well. */
function usable(device: PmemDevice, setup: MountSetup): string | undefined {
  const made: string[] = [];
  try {
    const fs = mountSetup(device, setup).fs;
    const dirs = directories(fs);
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
    const problems = fsck(device, { afterRecovery: true });
    return problems.length === 0 ? undefined : `after new work and a remount, fsck: ${problems[0].kind} ${problems[0].where}: ${problems[0].what}`;
  } catch (err) {
    return `new work failed: ${(err as Error).message}`;
  }
}

/** Every directory of the file system, the root first (contents unread). */
function directories(fs: DaxFileSystem): string[] {
  const out = ['/'];
  for (let at = 0; at < out.length; at++) {
    const dir = out[at];
    for (const name of [...fs.readdirSync(dir)].sort()) {
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      if (fs.lstatSync(path)?.isDirectory()) out.push(path);
    }
  }
  return out;
}

/**
 * A recovered image's judgement at a crash position, in parts: the violations that do not
 * depend on file data (G1; G2; the namespace's G3, G4 or G7; G8) and, when the namespace
 * matched, the data judge (G4, G5, G6 on contents), which the reduction can patch.
 */
export interface JudgedParts {
  readonly g1?: Violation;
  readonly g2?: Violation;
  readonly namespace?: Violation;
  readonly data?: DataJudge;
  readonly g8?: Violation;
}

export function judgeParts(recovered: Recovered, oracle: OracleRun, at: CrashPosition): JudgedParts {
  if (recovered.mountError !== undefined) return { g1: { promise: 'G1', diff: `mount failed: ${recovered.mountError}` } };
  const g2 = g2Of(recovered);
  const g8: Violation | undefined = recovered.g8 === undefined ? undefined : { promise: 'G8', diff: recovered.g8 };
  const state = recovered.state as Snapshot;
  const i = at.inFlight ? at.done + 1 : at.done;
  const p = oracle.persistedBy[at.done];
  const key = namespaceKey(state);
  const matching: number[] = [];
  for (let k = p; k <= i; k++) if (namespaceKey(oracle.states[k]) === key) matching.push(k);
  const parts = matching.length === 0 ? { namespace: namespaceViolation(state, oracle, p, i) } : { data: new DataJudge(state, oracle, at, matching) };
  return { ...(g2 === undefined ? {} : { g2 }), ...parts, ...(g8 === undefined ? {} : { g8 }) };
}

function g2Of(recovered: Recovered): Violation | undefined {
  const p = recovered.fsckProblems;
  if (p.length > 0) return { promise: 'G2', diff: `fsck: ${p.length} problem(s); first: ${p[0].kind} ${p[0].where}: ${p[0].what}` };
  if (recovered.notClean !== undefined) return { promise: 'G2', diff: recovered.notClean };
  if (recovered.e2fsck !== undefined) return { promise: 'G2', diff: recovered.e2fsck };
  return undefined;
}

/** Hold a recovered image to the window of a crash position. */
export function judge(recovered: Recovered, oracle: OracleRun, at: CrashPosition): Violation[] {
  return partsViolations(judgeParts(recovered, oracle, at));
}

/** The violations of judged parts, in the order G1, G2, namespace or data, G8. */
export function partsViolations(parts: JudgedParts): Violation[] {
  const data = parts.data?.violation();
  return [parts.g1, parts.g2, parts.namespace, data, parts.g8].filter((v): v is Violation => v !== undefined);
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

export type { Entry };
