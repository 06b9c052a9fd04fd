// The apps suite: fixed instances of four application patterns (APP_INSTANCES): atomic
// replace, append-only log, maildir delivery, overwrites inside a 1 MiB file.
//
// Owns: `appsSpace`, APP_INSTANCES and the op list of each pattern.
//
// Invariants: instance i is always the same workload (no seed, no stream); each pattern
// first makes its starting state durable (fsync or sync) and then persists every step the
// way a careful application would; write tags are distinct within an instance (at most
// MAX_TAG writes, asserted per workload); big-file overwrites hit distinct blocks.
//
// Does not: model any real application's file format; only the order of its file system
// calls.

import { assert, unreachable } from '../core';
import type { Op, Workload } from './ops';
import { BLOCK_BYTES, checkIndex, MAX_TAG, type WorkloadSpace } from './space';

type AppInstance =
  | { readonly pattern: 'atomic-replace'; readonly rounds: number; readonly bytes: number }
  | { readonly pattern: 'append-log'; readonly records: number; readonly recordBytes: number }
  | { readonly pattern: 'maildir'; readonly dirs: number; readonly files: number; readonly bytes: number }
  | { readonly pattern: 'big-file'; readonly overwrites: number; readonly aligned: boolean };

const APP_INSTANCES: readonly AppInstance[] = [
  { pattern: 'atomic-replace', rounds: 1, bytes: 100 },
  { pattern: 'atomic-replace', rounds: 3, bytes: 4096 },
  { pattern: 'atomic-replace', rounds: 8, bytes: 10_000 },
  { pattern: 'append-log', records: 8, recordBytes: 64 },
  { pattern: 'append-log', records: 16, recordBytes: 4096 },
  { pattern: 'append-log', records: 32, recordBytes: 700 },
  { pattern: 'maildir', dirs: 1, files: 4, bytes: 300 },
  { pattern: 'maildir', dirs: 2, files: 8, bytes: 1000 },
  { pattern: 'maildir', dirs: 4, files: 4, bytes: 5000 },
  { pattern: 'big-file', overwrites: 4, aligned: true },
  { pattern: 'big-file', overwrites: 16, aligned: true },
  { pattern: 'big-file', overwrites: 64, aligned: true },
  { pattern: 'big-file', overwrites: 16, aligned: false },
];

const BIG_FILE_BYTES = 1024 * 1024;
const BIG_FILE_BLOCKS = BIG_FILE_BYTES / BLOCK_BYTES;
const OVERWRITE_BYTES = 4096;
// Prime, so coprime with 256 and 255 blocks: the overwrites of an instance hit distinct blocks.
const OVERWRITE_STRIDE_BLOCKS = 97;
const UNALIGNED_SHIFT_BYTES = 2048; // an unaligned overwrite straddles two blocks
assert(BIG_FILE_BYTES % BLOCK_BYTES === 0 && OVERWRITE_BYTES <= BLOCK_BYTES, 'big-file geometry');
assert(APP_INSTANCES.every((app) => app.pattern !== 'big-file' || app.overwrites < BIG_FILE_BLOCKS - 1),
  'more overwrites than blocks would repeat blocks');

export function appsSpace(): WorkloadSpace {
  return {
    suite: 'apps',
    size: APP_INSTANCES.length,
    workload(index: number): Workload {
      checkIndex(index, APP_INSTANCES.length, 'apps');
      const instance = APP_INSTANCES[index] as AppInstance;
      const ops = appOps(instance);
      const tags = ops.filter((op) => op.op === 'write').length;
      assert(tags <= MAX_TAG, 'app instance has too many writes for distinct tags');
      const { pattern, ...args } = instance;
      const label = Object.entries(args).map(([key, value]) => `${key}=${value}`).join(' ');
      return { name: `apps#${index} ${pattern} ${label}`, ops };
    },
  };
}

function appOps(instance: AppInstance): Op[] {
  switch (instance.pattern) {
    case 'atomic-replace':
      return atomicReplace(instance.rounds, instance.bytes);
    case 'append-log':
      return appendLog(instance.records, instance.recordBytes);
    case 'maildir':
      return maildir(instance.dirs, instance.files, instance.bytes);
    case 'big-file':
      return bigFile(instance.overwrites, instance.aligned);
    default:
      return unreachable(instance);
  }
}

/** A durable /data, then each round writes a temp file, fsyncs it, renames it over, fsyncs /. */
function atomicReplace(rounds: number, bytes: number): Op[] {
  const ops: Op[] = [
    { op: 'creat', path: '/data' },
    { op: 'write', path: '/data', offset: 0, length: bytes, tag: 1 },
    { op: 'fsync', path: '/data' },
    { op: 'fsync', path: '/' },
  ];
  for (let round = 1; round <= rounds; round++) {
    const temp = `/tmp.${round}`;
    ops.push(
      { op: 'creat', path: temp },
      { op: 'write', path: temp, offset: 0, length: bytes, tag: round + 1 },
      { op: 'fsync', path: temp },
      { op: 'rename', from: temp, to: '/data' },
      { op: 'fsync', path: '/' },
    );
  }
  return ops;
}

/** A durable empty /log, then one append and one fsync per record. */
function appendLog(records: number, recordBytes: number): Op[] {
  const ops: Op[] = [
    { op: 'creat', path: '/log' },
    { op: 'fsync', path: '/log' },
    { op: 'fsync', path: '/' },
  ];
  for (let record = 1; record <= records; record++) {
    ops.push(
      { op: 'write', path: '/log', offset: 'append', length: recordBytes, tag: record },
      { op: 'fsync', path: '/log' },
    );
  }
  return ops;
}

/** Each mailbox has tmp/, new/, cur/; a delivery writes into tmp/, fsyncs, moves to new/. */
function maildir(dirs: number, files: number, bytes: number): Op[] {
  const ops: Op[] = [];
  const box = (d: number) => `/mail${d}`;
  for (let d = 0; d < dirs; d++) {
    ops.push({ op: 'mkdir', path: box(d) });
    for (const sub of ['tmp', 'new', 'cur']) ops.push({ op: 'mkdir', path: `${box(d)}/${sub}` });
  }
  ops.push({ op: 'sync' });
  let tag = 1;
  // Deliveries go round the mailboxes, as a mail server's would.
  for (let f = 0; f < files; f++) {
    for (let d = 0; d < dirs; d++) {
      const temp = `${box(d)}/tmp/m${f}`;
      const delivered = `${box(d)}/new/m${f}`;
      ops.push(
        { op: 'creat', path: temp },
        { op: 'write', path: temp, offset: 0, length: bytes, tag: tag++ },
        { op: 'fsync', path: temp },
        { op: 'rename', from: temp, to: delivered },
        { op: 'fsync', path: `${box(d)}/new` },
        { op: 'fsync', path: `${box(d)}/tmp` },
      );
    }
  }
  return ops;
}

/** A durable 1 MiB file, then 4 KiB overwrites inside it, each followed by fdatasync. */
function bigFile(overwrites: number, aligned: boolean): Op[] {
  const ops: Op[] = [
    { op: 'creat', path: '/big' },
    { op: 'write', path: '/big', offset: 0, length: BIG_FILE_BYTES, tag: 1 },
    { op: 'fsync', path: '/big' },
    { op: 'fsync', path: '/' },
  ];
  // An unaligned overwrite may not start in the last block, or it would extend the file.
  const blocks = aligned ? BIG_FILE_BLOCKS : BIG_FILE_BLOCKS - 1;
  const shift = aligned ? 0 : UNALIGNED_SHIFT_BYTES;
  for (let k = 0; k < overwrites; k++) {
    const offset = ((k * OVERWRITE_STRIDE_BLOCKS) % blocks) * BLOCK_BYTES + shift;
    ops.push(
      { op: 'write', path: '/big', offset, length: OVERWRITE_BYTES, tag: k + 2 },
      { op: 'fdatasync', path: '/big' },
    );
  }
  return ops;
}
