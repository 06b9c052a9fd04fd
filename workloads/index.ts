// The export list of workloads/: the only module other layers import from this folder.
//
// Invariants: every name is listed explicitly (no `export *`); types are re-exported with
// `export type` because the test transform compiles one file at a time.

export { OPEN_FLAGS, openFlagsToNumber } from '../core/node-layer';
export type { MkdirOptions, StatLike, SyncFs } from '../core';
export { ReferenceFs, createReference, nodeFsAdapter } from './reference';
export { nodeMkdirRecursive, nodeRealpath } from '../core/node-layer';
export type { MkdirCalls, RealpathCalls } from '../core/node-layer';
export { applyOp, patternByte, patternBytes, touchedPath, PERSISTENCE_OPS } from './ops';
export type { Op, OpName, OpResult, Workload, Handles } from './ops';
export { workloadSpace, workloadSummary, SUITE_NAMES } from './generators';
export type { SuiteName, GeneratorParams, WorkloadSpace } from './generators';
