/**
 * PageDigestMemo (device/image.ts): the crash images of a device's crash points between two
 * writes share their decided pages' digests, and the shared values are exactly those
 * computed image by image. States spread over a point's bound (and seeded draws), word and
 * line granularity, at points before and after cleans and a fence, are keyed through the
 * memo and compared with an image of the same lines that has no memo; and an overlay
 * with tokens over random memory gives the keys and digests of the plain computation while
 * the memo holds fewer pages than were asked. A decided page hashed in place that its
 * zero lines leave all zeros has no digest, as the page materialised.
 */
import { PmemDevice } from '../../device/device';
import { CrashImage } from '../../device/crash';
import { DecidedLine, OverlayImage, PageDigestMemo } from '../../device/image';
import { SparseMemory, readRange } from '../../device/media';
import { pmemApi } from '../../device/pmem-api';
import { Rng } from '../../core/rng';

const MiB = 1 << 20;
const PAGE = 4096;
const LINE = 64;

/** Unflushed stores over a few pages, cleans pending in two epochs: many states share most pages. */
function busyDevice(granularity: 'word' | 'line', seed: number): PmemDevice {
  const d = new PmemDevice({ sizeBytes: 4 * MiB, seed, granularity });
  const api = pmemApi('linux-arm64-nosync', d);
  for (let i = 0; i < 12; i++) d.store(i * 72 + (i % 5), Uint8Array.from({ length: 20 + i }, (_, j) => (i * 7 + j + seed) & 0xff));
  api.wbCachePmem(0, 1024);
  d.dmb('sy');
  for (let i = 0; i < 6; i++) d.store(3 * PAGE + i * 200, new Uint8Array(16).fill(i + 1));
  d.store(5 * PAGE, new Uint8Array(8)); // a line of zeros: its page may be all zeros
  return d;
}

/** The same image as `image` (its uncertain lines read back), built with no memo. */
function plainTwin(device: PmemDevice, image: CrashImage): OverlayImage {
  const values: Array<[number, Uint8Array]> = [];
  for (const line of device.lines.keys()) {
    const bytes = new Uint8Array(LINE);
    readRange(image, line * LINE, LINE, bytes);
    values.push([line, bytes]);
  }
  return new OverlayImage(device.coherent, values);
}

test.each(['word', 'line'] as const)('%s granularity: every state of a point keys through the memo as it keys alone', (granularity) => {
  let states = 0;
  for (const seed of [1, 2]) {
    const device = busyDevice(granularity, seed);
    for (let step = 0; step < 3; step++) {
      // later points on the same device after cleans, then a fence: no write, so one memo serves them all
      if (step === 1) pmemApi('linux-arm64-nosync', device).wbCachePmem(0, 512 * seed);
      if (step === 2) device.dsb('sy');
      const point = device.crashPoint();
      // states spread over the whole bound, so completion sets (each line's g) vary too
      const space = point.bounded({ k: 2 });
      const every = Number(space.boundSize / 60n) + 1;
      const images: CrashImage[] = [...space.states()].filter((_, i) => i % every === 0).map((s) => point.image(s));
      for (let d = 0; d < 10; d++) images.push(point.sample(`draw-${d}`));
      // all keyed first (the memo is filled and shared), then each read back and compared
      const keys = images.map((image) => image.contentKey());
      const pages = images.map((image) => image.pageIndices().map((p) => image.pageDigest(p)));
      images.forEach((image, i) => {
        const twin = plainTwin(device, image);
        expect(keys[i]).toBe(twin.contentKey());
        expect(pages[i]).toEqual(twin.pageIndices().map((p) => twin.pageDigest(p)));
        states++;
      });
    }
  }
  expect(states).toBeGreaterThan(100);
});

test('an overlay with tokens keys and hashes as without them, and the memo holds each distinct page once', () => {
  const rng = Rng.fromSeed('page-digest-memo');
  const below = new SparseMemory(16 * PAGE);
  for (let p = 0; p < 16; p += 2) below.write(p * PAGE, new Uint8Array(PAGE).map((_, i) => (i * (p + 3)) & 0xff));
  // each line has a few versions; a token names the version, so equal tokens are equal bytes
  const lines = [...new Set(Array.from({ length: 24 }, () => rng.below(16 * (PAGE / LINE))))];
  const versions = lines.map(() => Array.from({ length: 3 }, (_, v) => new Uint8Array(LINE).map(() => (v === 0 ? 0 : rng.below(256)))));
  const memo = new PageDigestMemo(below);
  let asked = 0;
  for (let round = 0; round < 300; round++) {
    const chosen = lines.map(() => rng.below(3));
    const withTokens: DecidedLine[] = lines.map((line, i) => [line, versions[i][chosen[i]], chosen[i]]);
    const plain: DecidedLine[] = lines.map((line, i) => [line, versions[i][chosen[i]]]);
    const memoised = new OverlayImage(below, withTokens, memo);
    const alone = new OverlayImage(below, plain);
    expect(memoised.contentKey()).toBe(alone.contentKey());
    for (const p of alone.pageIndices()) expect(memoised.pageDigest(p)).toBe(alone.pageDigest(p));
    expect(memoised.digest()).toBe(alone.digest());
    asked += new Set(lines.map((line) => Math.floor((line * LINE) / PAGE))).size;
  }
  expect(memo.size).toBeGreaterThan(0);
  expect(memo.size).toBeLessThan(asked);
});

test('a memo is refused for memory that moved since it was made', () => {
  const below = new SparseMemory(4 * PAGE);
  const memo = new PageDigestMemo(below);
  below.write(0, new Uint8Array([1]));
  expect(() => new OverlayImage(below, [[0, new Uint8Array(LINE), 0]], memo)).toThrow();
});

test('a decided page that zeros the only non-zero lines below it is all zeros, hashed in place as materialised', () => {
  const below = new SparseMemory(4 * PAGE);
  below.write(2 * LINE, new Uint8Array(LINE).fill(7));
  below.write(PAGE + 5 * LINE, new Uint8Array(LINE).fill(7));
  below.write(PAGE + 9 * LINE, new Uint8Array(1).fill(1)); // left non-zero on page 1
  const zero = new Uint8Array(LINE);
  const values: DecidedLine[] = [[2, zero], [64 + 5, zero], [64 + 9 + 1, zero]];
  const keyed = new OverlayImage(below, values);
  const read = new OverlayImage(below, values);
  read.readPage(0);
  expect(keyed.pageDigest(0)).toBeUndefined();
  expect(read.pageDigest(0)).toBeUndefined();
  expect(keyed.pageDigest(1)).toBeDefined();
  expect(keyed.pageDigest(1)).toBe(read.pageDigest(1));
  expect(keyed.contentKey()).toBe(read.contentKey());
});
