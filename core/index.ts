// The export list of core/: the only module other layers import from this folder.
//
// Invariants: every name is listed explicitly (no `export *`), so a new export is a deliberate
// change to the layer's interface; types are re-exported with `export type` because the test
// transform compiles one file at a time and cannot tell a type from a value.

export { AssertionFailure, assert, assertInteger, unreachable } from './assert';
export {
  CorruptionError,
  ERRNO,
  NodeStyleError,
  UsageError,
  fsError,
  isErrnoCode,
} from './errors';
export type { CorruptionErrorOptions, ErrnoCode, ErrnoInfo, NodeStyleErrorOptions } from './errors';
export { Rng } from './rng';
export { StreamTree, STREAM_NAMES } from './streams';
export type { RngState } from './rng';
export {
  bytesEqual,
  hexDump,
  isAllZero,
  readU16BE,
  readU16LE,
  readU32BE,
  readU32LE,
  readU48LE,
  readU64BE,
  readU64LE,
  readU8,
  readUint64LEAsNumber,
  sha256Hex,
  sha256HexOf,
  writeU16BE,
  writeU16LE,
  writeU32BE,
  writeU32LE,
  writeU48LE,
  writeU64BE,
  writeU64LE,
  writeU8,
} from './bytes';
export {
  DEFAULT_DEVICE_BYTES,
  LINE_BYTES,
  MAX_DEVICE_BYTES,
  PAGE_BYTES,
  WORD_BYTES,
} from './limits';
export {
  OPEN_FLAGS,
  openFlagsToNumber,
  nodeMkdirRecursive,
  nodeRealpath,
  failer,
  byteLength,
  isExplicitPosition,
  checkSpan,
  outOfRange,
  codeOf,
  errorCodeOf,
} from './node-layer';
export type { Fail, MkdirCalls, RealpathCalls } from './node-layer';
export type { MkdirOptions, StatLike, SyncFs } from './sync-fs';
export {
  ACCESS_MODES, COPYFILE_FLAGS, Dirent, mkdtempSuffix, nodeCopyFile, nodeMkdtemp, nodeRm, rmIsDirectory, rootAccess, validMode,
} from './node-compound';
export type { CopyCalls, MkdtempCalls, RmCalls, RmOptions } from './node-compound';
