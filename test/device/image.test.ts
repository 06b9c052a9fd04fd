/**
 * OverlayImage: the digest of a decided page hashed in place (the page below with the
 * decided lines over it, never materialised) equals the digest of the page materialised, for
 * lines in any order, a line given twice (the last value wins, as materialising does), pages
 * never written below, and decided lines all zeros (a page that may be all zeros, also over
 * a page below that is zeros outside them: one non-zero byte in a short gap, a long one or a
 * line makes it hashed). And an image read after it was keyed holds the same bytes and key
 * as one read first.
 */
import { Rng } from '../../core/rng';
import { OverlayImage } from '../../device/image';
import { SparseMemory, plainPageDigest } from '../../device/media';

const PAGE = 4096;
const LINE = 64;

function memory(rng: Rng): SparseMemory {
  const m = new SparseMemory(64 * PAGE);
  for (let p = 0; p < 64; p++) {
    if (rng.below(3) === 0) continue; // some pages never written
    // a pattern from two draws, with a run of zeros somewhere (cheaper than a draw a byte)
    const [a, b, zeroAt] = [1 + rng.below(255), rng.below(256), rng.below(PAGE)];
    const bytes = new Uint8Array(PAGE).map((_, i) => (i >= zeroAt && i < zeroAt + 300 ? 0 : (i * a + b) & 0xff));
    m.write(p * PAGE, bytes);
  }
  return m;
}

function lineValues(rng: Rng): Array<[number, Uint8Array]> {
  const values: Array<[number, Uint8Array]> = [];
  const count = 1 + rng.below(40);
  for (let i = 0; i < count; i++) {
    const line = rng.below(64 * (PAGE / LINE));
    const zero = rng.below(4) === 0;
    values.push([line, new Uint8Array(LINE).map(() => (zero ? 0 : rng.below(256)))]);
  }
  // sometimes in line order, sometimes not; a line may appear twice
  if (rng.below(2) === 0) values.sort((a, b) => a[0] - b[0]);
  return values;
}

test('a decided page hashed in place has the digest of the page materialised', () => {
  const rng = Rng.fromSeed('overlay-digests');
  let pages = 0;
  for (let round = 0; round < 200; round++) {
    const below = memory(rng);
    const values = lineValues(rng);
    const keyed = new OverlayImage(below, values);
    const read = new OverlayImage(below, values);
    const decided = new Set(values.map(([line]) => Math.floor((line * LINE) / PAGE)));
    for (const page of decided) {
      // `read` materialises (readPage) before it is asked; `keyed` is asked first
      const bytes = read.readPage(page);
      expect(keyed.pageDigest(page)).toBe(plainPageDigest({ sizeBytes: below.sizeBytes, readPage: () => bytes, pageIndices: () => [page] }, page));
      expect(read.pageDigest(page)).toBe(keyed.pageDigest(page));
      pages++;
    }
    expect(keyed.contentKey()).toBe(read.contentKey());
    expect(keyed.digest()).toBe(read.digest());
    expect(keyed.pageIndices()).toEqual(read.pageIndices());
  }
  expect(pages).toBeGreaterThan(2000);
});

test('the last value given for a line is the one an image holds and hashes', () => {
  const below = new SparseMemory(4 * PAGE);
  const first = new Uint8Array(LINE).fill(1);
  const last = new Uint8Array(LINE).fill(2);
  const image = new OverlayImage(below, [[3, first], [1, first], [3, last]]);
  const twin = new OverlayImage(below, [[1, first], [3, last]]);
  expect(image.pageDigest(0)).toBe(twin.pageDigest(0));
  expect(image.readPage(0)?.subarray(3 * LINE, 4 * LINE)).toEqual(last);
});

test('a page below that is zeros outside the decided lines: all zeros only when nothing else is, in a short gap or a long one', () => {
  const digestOfMaterialised = (image: OverlayImage) => {
    const bytes = image.readPage(0);
    return plainPageDigest({ sizeBytes: 4 * PAGE, readPage: () => bytes, pageIndices: () => [0] }, 0);
  };
  const decidedLines = [2, 4, 40];
  const zeroLine = new Uint8Array(LINE);
  // below: non-zero only under the decided lines, and at `probe` (a byte no decided line covers)
  const belowWith = (probe: number | undefined) => {
    const below = new SparseMemory(4 * PAGE);
    for (const line of decidedLines) below.write(line * LINE, new Uint8Array(LINE).fill(7));
    if (probe !== undefined) below.write(probe, new Uint8Array([9]));
    return below;
  };
  const zeros = belowWith(undefined);
  expect(new OverlayImage(zeros, decidedLines.map((l) => [l, zeroLine] as [number, Uint8Array])).pageDigest(0)).toBeUndefined();
  // before the first line, in the short gap between lines 2 and 4, in the long one up to 40, after the last, the last byte
  for (const probe of [0, 3 * LINE + 17, 5 * LINE, 39 * LINE + 63, 41 * LINE, PAGE - 1]) {
    const values = decidedLines.map((l) => [l, zeroLine] as [number, Uint8Array]);
    const keyed = new OverlayImage(belowWith(probe), values);
    const digest = keyed.pageDigest(0);
    expect({ probe, digest: digest === undefined ? 'all zeros' : 'hashed' }).toEqual({ probe, digest: 'hashed' });
    expect(digest).toBe(digestOfMaterialised(new OverlayImage(belowWith(probe), values)));
  }
  // a decided line with one non-zero byte, its last
  const lastByte = new Uint8Array(LINE);
  lastByte[LINE - 1] = 1;
  const one = new OverlayImage(zeros, [[2, zeroLine], [4, lastByte], [40, zeroLine]]);
  expect(one.pageDigest(0)).toBeDefined();
  expect(one.pageDigest(0)).toBe(digestOfMaterialised(new OverlayImage(zeros, [[2, zeroLine], [4, lastByte], [40, zeroLine]])));
});
