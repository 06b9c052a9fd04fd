/**
 * e2fsprogs' own test images (tests/<name>/image.gz of the 1.47.0 source, many deliberately
 * damaged), as test/setup/e2fsprogs-tests.sh caches them in .cache/e2fsprogs-tests/: the
 * index it writes (one entry an image: block size, feature bits, revision and inode size from
 * the superblock as fs/format.ts decodes it, and the exit status e2fsck's expected output
 * ends with), reading it back, and an image's bytes.
 *
 * The cache is absent when the fetch could not run (offline, no apt-get): `loadImageIndex`
 * then says why (the fetch step's recorded reason), so a test prints that it skipped instead
 * of passing; under CI=true an absent cache is an error, since CI must not skip the oracle.
 * The index is data about upstream's images, not a judgement: whether an image is clean is
 * for e2fsck and the kernel to say when the test runs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { EXT4_MAGIC, SUPERBLOCK_BYTES, SUPERBLOCK_OFFSET, decodeSuperblock } from '../../fs/format';

export const IMAGE_CACHE = path.join(__dirname, '..', '..', '.cache', 'e2fsprogs-tests');
const INDEX_FILE = 'index.json';

export interface ImageEntry {
  /** The test's directory name upstream, e.g. "f_htree_leaf_csum". */
  readonly test: string;
  /** The test's one-line description (its `name` file), or ''. */
  readonly description: string;
  /** The gzip file, relative to the cache. */
  readonly image: string;
  readonly imageBytes: number;
  /** 1024 << s_log_block_size; null when the superblock's magic is not ext4's. */
  readonly blockBytes: number | null;
  readonly revLevel: number;
  readonly inodeBytes: number;
  readonly featureCompat: number;
  readonly featureIncompat: number;
  readonly featureRoCompat: number;
  /** The exit status expect.1 (e2fsck's first run upstream, with the test's own options) ends with; null without one. */
  readonly expectExit: number | null;
}

export interface ImageIndex {
  /** The tarball the images came from, e.g. "e2fsprogs_1.47.0.orig.tar.gz". */
  readonly source: string;
  readonly images: readonly ImageEntry[];
}

/** Highest s_log_block_size taken as a block size (64 KiB); past it the field is garbage. */
const MAX_LOG_BLOCK_SIZE = 6;

/**
 * Compressed bytes unpacked for an index entry: at least the superblock's 2 KiB unpack from
 * them, since deflate never grows data by more than a few bytes a block (and zeros, which most
 * of an image is, unpack a thousandfold: more would cost time for nothing).
 */
const HEAD_COMPRESSED_BYTES = 8 * 1024;

/**
 * The first bytes of a gzip file unpacked (at least its first 2 KiB unless the file is
 * shorter) and its unpacked size (gzip's trailer: the size modulo 2^32; upstream's images are
 * far below 4 GiB), without unpacking the rest: some images are over 100 MiB.
 */
function gzipHead(file: string): { head: Buffer; imageBytes: number } {
  const packed = fs.readFileSync(file);
  const head = gunzipSync(packed.subarray(0, HEAD_COMPRESSED_BYTES), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  const imageBytes = packed.readUInt32LE(packed.length - 4);
  const needed = Math.min(imageBytes, SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES);
  if (head.length < needed) throw new Error(`${file}: ${HEAD_COMPRESSED_BYTES} compressed bytes unpacked to ${head.length}, short of the superblock`);
  return { head, imageBytes };
}

/** The index entry of test `test`'s image in `cacheDir`, from its first bytes (`head`) and its size. */
export function describeImage(cacheDir: string, test: string, head: Uint8Array, imageBytes: number): ImageEntry {
  const read = (file: string): string | undefined => {
    const at = path.join(cacheDir, test, file);
    return fs.existsSync(at) ? fs.readFileSync(at, 'utf8') : undefined;
  };
  const expect = /^Exit status is (\d+)\s*$/m.exec(read('expect.1') ?? '');
  const base = {
    test, description: (read('name') ?? '').trim(), image: `${test}/image.gz`, imageBytes,
    expectExit: expect === null ? null : Number(expect[1]),
  };
  if (head.length < SUPERBLOCK_OFFSET + SUPERBLOCK_BYTES) {
    return { ...base, blockBytes: null, revLevel: 0, inodeBytes: 0, featureCompat: 0, featureIncompat: 0, featureRoCompat: 0 };
  }
  const sb = decodeSuperblock(head, SUPERBLOCK_OFFSET);
  const ext4 = sb.magic === EXT4_MAGIC && sb.logBlockSize <= MAX_LOG_BLOCK_SIZE;
  return {
    ...base,
    blockBytes: ext4 ? 1024 << sb.logBlockSize : null,
    revLevel: sb.revLevel,
    inodeBytes: sb.revLevel === 0 ? 128 : sb.inodeSize,
    featureCompat: sb.featureCompat,
    featureIncompat: sb.featureIncompat,
    featureRoCompat: sb.featureRoCompat,
  };
}

/** Writes `cacheDir`/index.json from every <test>/image.gz under it. */
export function writeImageIndex(cacheDir: string): ImageIndex {
  const source = fs.readFileSync(path.join(cacheDir, 'SOURCE'), 'utf8').trim();
  const tests = fs.readdirSync(cacheDir).filter((t) => fs.existsSync(path.join(cacheDir, t, 'image.gz'))).sort();
  const images = tests.map((t) => {
    const { head, imageBytes } = gzipHead(path.join(cacheDir, t, 'image.gz'));
    return describeImage(cacheDir, t, head, imageBytes);
  });
  const index: ImageIndex = { source, images };
  fs.writeFileSync(path.join(cacheDir, INDEX_FILE), `${JSON.stringify(index, null, 1)}\n`);
  return index;
}

/** The cached index, or why there is none (under CI=true, throws instead). */
export function loadImageIndex(cacheDir = IMAGE_CACHE): { index: ImageIndex } | { missing: string } {
  const file = path.join(cacheDir, INDEX_FILE);
  if (fs.existsSync(file)) return { index: JSON.parse(fs.readFileSync(file, 'utf8')) as ImageIndex };
  const failed = `${cacheDir}.failed`;
  const why = fs.existsSync(failed)
    ? `the fetch step failed: ${fs.readFileSync(failed, 'utf8').trim()}`
    : 'the fetch step has not run (npm test runs it; or bash test/setup/e2fsprogs-tests.sh)';
  const missing = `no e2fsprogs test images in ${path.relative(process.cwd(), cacheDir) || cacheDir}: ${why}`;
  if (process.env.CI === 'true') throw new Error(`${missing}; CI=true: the interop test must not skip`);
  return { missing };
}

/** The image's bytes, unpacked. */
export function imageBytes(entry: ImageEntry, cacheDir = IMAGE_CACHE): Buffer {
  return gunzipSync(fs.readFileSync(path.join(cacheDir, entry.image)));
}

/** Unpacks the image to `dir`/<test>.img and returns that path. */
export function unpackImage(entry: ImageEntry, dir: string, cacheDir = IMAGE_CACHE): string {
  const to = path.join(dir, `${entry.test}.img`);
  fs.writeFileSync(to, imageBytes(entry, cacheDir));
  return to;
}
