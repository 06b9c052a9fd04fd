/** The file-system layer's one export list. */
export { DaxFileSystem, FS_CONSTANTS, NAME_MAX_BYTES, MAX_FILE_BYTES, components } from './filesystem';
export type { CommitHooks, FileSystemParts } from './filesystem';
export { mount, mountWithReport, recoverDevice, readSuperblock, defaultPmemApi, journalBlocks, FLUSH_POLICIES } from './mount';
export type { FlushPolicy, MountOptions, MountReport } from './mount';
export { Journal, COMMIT_INTERVAL_OPS, journalFeaturesAtMount } from './journal';
export type { JournalFeatureRequest } from './journal';
export { fsck, formatProblems } from './fsck';
export type { FsckProblem, FsckProblemKind } from './fsck';
export { recoverJournal, recoveredSuperblock } from './recovery';
export type { RecoveryResult, JournalIo } from './recovery';
export { DaxStats } from './stats';
export { asyncApi, ASYNC_FORMS, nodeFsModule, Dir } from './node-api';
export type { AsyncApi, AsyncFormName, NodeFsCore, NodeFsModule, NodeFsModuleOptions, NodeFsPromises } from './node-api';
export { FileHandle } from './node-filehandle';
export { ReadStream, WriteStream } from './node-streams';
export type { ReadStreamOptions, WriteStreamOptions, StreamFs } from './node-streams';
export { MetaStore, Transaction, InPlaceCommitter } from './meta';
export type { Committer } from './meta';
export { mkfs, mkfsIdentity } from './mkfs';
export type { MkfsOptions, MkfsResult } from './mkfs';
export { computeGeometry, groupHasSuper, journalDefaultBlocks } from './geometry';
export type { Geometry, GroupLayout } from './geometry';
export {
  BLOCK_BYTES, INODE_BYTES, SUPERBLOCK_OFFSET, ROOT_INO, JOURNAL_INO, LOST_FOUND_INO,
  decodeSuperblock, encodeSuperblock, validateSuperblock, decodeInode, encodeInode, decodeDirBlock,
  decodeExtentNode, encodeExtentNode, decodeJournalSuperblock, encodeJournalSuperblock, validateJournalSuperblock,
} from './format';
export type { Superblock, GroupDesc, Inode, ExtentLeaf, ExtentNode, DirEntry, JournalSuperblock } from './format';
