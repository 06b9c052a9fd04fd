/**
 * The oracle: the reference's state after every operation of a workload, and the window of
 * states a crash at a given point allows (spec/crash-checking.md, "The window, precisely").
 *
 * S_0 is the state before the first operation, S_k after operation k. A state holds what is
 * compared with our file system: paths and types, sizes, symlink targets, which paths are
 * hard links of one another (by the reference's inode numbers) and file contents; never
 * inode numbers, times, modes or owners.
 *
 * Invariant: snapshots are taken from the reference only; nothing here reads our file
 * system. The walk is bounded by the reference's own size.
 */
import { applyOp, Handles, Op, OpResult, PERSISTENCE_OPS, Workload } from '../workloads/ops';
import type { SyncFs } from '../core/sync-fs';

export type EntryType = 'file' | 'dir' | 'symlink';

export interface Entry {
  readonly type: EntryType;
  readonly size: number;
  /**
   * Files: which file it is (hard links share it); others: 0. In an oracle's states a file's
   * identity is never reused by a later file (the reference reuses inode numbers); in a
   * snapshot of our file system it is our inode number.
   */
  readonly ino: number;
  readonly target?: string;
}

export interface Snapshot {
  /** Path → entry, root excluded. */
  readonly entries: ReadonlyMap<string, Entry>;
  /** File contents by file identity (`Entry.ino`). */
  readonly contents: ReadonlyMap<number, Uint8Array>;
}

export interface OracleRun {
  readonly workload: Workload;
  /** states[k]: after k operations (states[0] is before the first). */
  readonly states: readonly Snapshot[];
  readonly results: readonly OpResult[];
  /** persistedBy[k]: the operation index (1-based) of the last persistence point among ops 1..k, 0 if none. */
  readonly persistedBy: readonly number[];
  /** For each file inode, the 1-based indices of the operations that made it durable
   * (its creation, its own fsync/fdatasync, or a sync). */
  readonly durableAt: ReadonlyMap<number, readonly number[]>;
}

/** Run `workload` on the reference and keep the state after each operation. */
export function runOracle(reference: SyncFs, workload: Workload): OracleRun {
  const handles: Handles = new Map();
  const handlePaths = new Map<string, string>();
  const identities = new FileIdentities();
  const states: Snapshot[] = [identities.of(snapshot(reference))];
  const results: OpResult[] = [];
  const persistedBy: number[] = [0];
  const durableAt = new Map<number, number[]>();
  const note = (ino: number, k: number) => {
    const list = durableAt.get(ino);
    if (list) list.push(k);
    else durableAt.set(ino, [k]);
  };
  workload.ops.forEach((op, index) => {
    const k = index + 1;
    const result = applyOp(reference, op, handles);
    results.push(result);
    if (op.op === 'open' && result.ok) handlePaths.set(op.handle, op.path);
    const state = identities.of(snapshot(reference));
    states.push(state);
    const persists = result.ok && PERSISTENCE_OPS.has(op.op);
    persistedBy.push(persists ? k : persistedBy[k - 1]);
    // a file is durable from its creation (empty) and at every persistence point naming it
    for (const [path, entry] of state.entries) {
      if (entry.type !== 'file') continue;
      if (!durableAt.has(entry.ino)) note(entry.ino, k);
      if (persists && (op.op === 'sync' || persistedPath(op, handlePaths) === path)) note(entry.ino, k);
    }
  });
  return { workload, states, results, persistedBy, durableAt };
}

/**
 * Renumbers the reference's inode numbers into file identities that are never reused: memfs
 * hands a freed inode number to the next new file, and a file created after another was
 * deleted must not inherit its durable points or its older contents (data-judge.ts G4).
 * A number present in the previous state keeps its identity; any other is a new file.
 */
class FileIdentities {
  private live = new Map<number, number>();
  private next = 1;

  of(s: Snapshot): Snapshot {
    const now = new Map<number, number>();
    const entries = new Map<string, Entry>();
    for (const [path, e] of s.entries) {
      if (e.type !== 'file') {
        entries.set(path, e);
        continue;
      }
      let id = now.get(e.ino) ?? this.live.get(e.ino);
      if (id === undefined) id = this.next++;
      now.set(e.ino, id);
      entries.set(path, { ...e, ino: id });
    }
    const contents = new Map<number, Uint8Array>();
    for (const [ino, data] of s.contents) contents.set(now.get(ino) as number, data);
    this.live = now;
    return { entries, contents };
  }
}

function persistedPath(op: Op, handlePaths: ReadonlyMap<string, string>): string | undefined {
  if (op.op === 'hfsync') return handlePaths.get(op.handle);
  return 'path' in op ? op.path : undefined;
}

/** The calls a snapshot is taken with: the reference and our file system both offer them. */
export interface SnapshotSource {
  readdirSync(path: string): readonly string[];
  lstatSync(path: string): { readonly size: number; readonly ino: number; isDirectory(): boolean; isSymbolicLink(): boolean };
  readlinkSync(path: string): string;
  readFileSync(path: string): Uint8Array | string;
}

/** Walk a file system from the root. */
export function snapshot(fs: SnapshotSource): Snapshot {
  const entries = new Map<string, Entry>();
  const contents = new Map<number, Uint8Array>();
  const visit = (dir: string) => {
    for (const name of [...fs.readdirSync(dir)].sort()) {
      const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const st = fs.lstatSync(path);
      if (st.isDirectory()) {
        entries.set(path, { type: 'dir', size: 0, ino: 0 });
        visit(path);
      } else if (st.isSymbolicLink()) {
        entries.set(path, { type: 'symlink', size: st.size, ino: 0, target: fs.readlinkSync(path) });
      } else {
        entries.set(path, { type: 'file', size: st.size, ino: st.ino });
        if (!contents.has(st.ino)) {
          const data = fs.readFileSync(path);
          contents.set(st.ino, typeof data === 'string' ? Buffer.from(data) : data);
        }
      }
    }
  };
  visit('/');
  return { entries, contents };
}

/**
 * The namespace of a snapshot as one comparable string: paths, types, sizes, targets, and
 * hard-link groups (named by their first path, so inode numbers never matter).
 */
export function namespaceKey(s: Snapshot): string {
  // a snapshot is never changed once taken, and the oracle's are asked again at every state judged
  let key = namespaceKeys.get(s);
  if (key === undefined) {
    key = computeNamespaceKey(s);
    namespaceKeys.set(s, key);
  }
  return key;
}

const namespaceKeys = new WeakMap<Snapshot, string>();

function computeNamespaceKey(s: Snapshot): string {
  const groups = new Map<number, string>();
  for (const [path, e] of s.entries) if (e.type === 'file' && !groups.has(e.ino)) groups.set(e.ino, path);
  const lines: string[] = [];
  for (const [path, e] of [...s.entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (e.type === 'dir') lines.push(`${path} dir`);
    else if (e.type === 'symlink') lines.push(`${path} -> ${e.target}`);
    else lines.push(`${path} file ${e.size} link:${groups.get(e.ino)}`);
  }
  return lines.join('\n');
}
