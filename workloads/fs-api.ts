// The file-system API that workloads speak, as workloads/ has always exported it.
//
// Owns nothing: `SyncFs`, `StatLike` and `MkdirOptions` are defined in core/sync-fs.ts (below
// fs/, so that our file system can declare that it implements them), and the open flags in
// core/node-layer.ts. This module re-exports both, so that imports from here keep compiling;
// new code takes them from core/.

export { OPEN_FLAGS, openFlagsToNumber } from '../core/node-layer';
export type { MkdirOptions, StatLike, SyncFs } from '../core/sync-fs';
