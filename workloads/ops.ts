/**
 * Workloads as data: JSON-serialisable operations, each one step of the reference (whatever
 * it does inside), naming files by path and open files by handle ids of their own, never by
 * descriptor numbers. `applyOp` runs one operation on any SyncFs and returns its result as
 * data, so the same workload runs on the reference and on our file system and their answers
 * can be compared (G0).
 *
 * Written data is a pattern of (tag, file offset): every byte says which write put it there
 * and at which offset, so a checker can tell which bytes came from where.
 */
import type { SyncFs } from '../core';

export type Op =
  /** open(path, 'w') and close: create, or empty an existing file (open with O_TRUNC). */
  | { readonly op: 'creat'; readonly path: string }
  /** open, write `length` bytes of pattern `tag` at `offset` ('append': at the end), close. */
  | { readonly op: 'write'; readonly path: string; readonly offset: number | 'append'; readonly length: number; readonly tag: number }
  | { readonly op: 'read'; readonly path: string; readonly offset: number; readonly length: number }
  | { readonly op: 'truncate'; readonly path: string; readonly length: number }
  /** open (read-only; a directory too), fsync or fdatasync, close. */
  | { readonly op: 'fsync' | 'fdatasync'; readonly path: string }
  | { readonly op: 'sync' }
  | { readonly op: 'mkdir' | 'rmdir' | 'unlink'; readonly path: string }
  | { readonly op: 'link' | 'rename'; readonly from: string; readonly to: string }
  | { readonly op: 'symlink'; readonly target: string; readonly path: string }
  /** Descriptor-level steps, for files kept open (unlink while open, writes through a handle). */
  | { readonly op: 'open'; readonly handle: string; readonly path: string; readonly flags: string }
  | { readonly op: 'close'; readonly handle: string }
  | { readonly op: 'pwrite'; readonly handle: string; readonly offset: number; readonly length: number; readonly tag: number }
  | { readonly op: 'hfsync'; readonly handle: string };

export type OpName = Op['op'];

/** Steps that return with the named file (or everything) durable: persistence points. */
export const PERSISTENCE_OPS: ReadonlySet<OpName> = new Set(['fsync', 'fdatasync', 'sync', 'hfsync']);

export type OpResult =
  | { readonly ok: true; readonly value?: string | number }
  | { readonly ok: false; readonly code: string };

export interface Workload {
  readonly name: string;
  readonly ops: readonly Op[];
}

/** The byte a write of `tag` puts at file offset `offset`: never 0, so it differs from a hole. */
export function patternByte(tag: number, offset: number): number {
  return ((tag * 131 + offset * 7) % 255) + 1;
}

export function patternBytes(tag: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = patternByte(tag, offset + i);
  return out;
}

/** Descriptors of the handles a run opened, by handle id. */
export type Handles = Map<string, number>;

/** Run one operation; a Node-style error becomes `{ ok: false, code }`, anything else throws. */
export function applyOp(fs: SyncFs, op: Op, handles: Handles): OpResult {
  try {
    return { ok: true, value: run(fs, op, handles) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { ok: false, code };
    throw err;
  }
}

function run(fs: SyncFs, op: Op, handles: Handles): string | number | undefined {
  switch (op.op) {
    case 'creat':
      fs.closeSync(fs.openSync(op.path, 'w'));
      return undefined;
    case 'write': {
      const fd = fs.openSync(op.path, op.offset === 'append' ? 'a' : 'r+');
      try {
        const at = op.offset === 'append' ? fs.fstatSync(fd).size : op.offset;
        return fs.writeSync(fd, patternBytes(op.tag, at, op.length), 0, op.length, at);
      } finally {
        fs.closeSync(fd);
      }
    }
    case 'read': {
      const fd = fs.openSync(op.path, 'r');
      try {
        const buf = new Uint8Array(op.length);
        const n = fs.readSync(fd, buf, 0, op.length, op.offset);
        return Buffer.from(buf.subarray(0, n)).toString('hex');
      } finally {
        fs.closeSync(fd);
      }
    }
    case 'truncate':
      fs.truncateSync(op.path, op.length);
      return undefined;
    case 'fsync':
    case 'fdatasync': {
      const fd = fs.openSync(op.path, 'r');
      try {
        if (op.op === 'fsync') fs.fsyncSync(fd);
        else fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      return undefined;
    }
    case 'sync':
      fs.syncSync();
      return undefined;
    case 'mkdir':
      fs.mkdirSync(op.path);
      return undefined;
    case 'rmdir':
      fs.rmdirSync(op.path);
      return undefined;
    case 'unlink':
      fs.unlinkSync(op.path);
      return undefined;
    case 'link':
      fs.linkSync(op.from, op.to);
      return undefined;
    case 'rename':
      fs.renameSync(op.from, op.to);
      return undefined;
    case 'symlink':
      fs.symlinkSync(op.target, op.path);
      return undefined;
    case 'open':
      handles.set(op.handle, fs.openSync(op.path, op.flags));
      return undefined;
    case 'close':
      fs.closeSync(handleOf(handles, op.handle));
      handles.delete(op.handle);
      return undefined;
    case 'pwrite':
      return fs.writeSync(handleOf(handles, op.handle), patternBytes(op.tag, op.offset, op.length), 0, op.length, op.offset);
    case 'hfsync':
      fs.fsyncSync(handleOf(handles, op.handle));
      return undefined;
  }
}

function handleOf(handles: Handles, handle: string): number {
  const fd = handles.get(handle);
  // A handle the workload never opened (or closed) behaves as a closed descriptor.
  return fd ?? -1;
}

/** The path an operation is about, for "fsync of the touched file or its parent". */
export function touchedPath(op: Op): string | undefined {
  if ('path' in op) return op.path;
  if ('to' in op) return op.to;
  return undefined;
}
