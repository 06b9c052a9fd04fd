import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PmemDevice } from '../../device/device';
import { CONTENT_SUM_LANES, SparseMemory, mediaDigest, pagePart } from '../../device/media';
import { createHash } from 'node:crypto';
import { pmemApi } from '../../device/pmem-api';

const MiB = 1 << 20;
const GiB = 1 << 30;

describe('sparse media', () => {
  test('a 1 GiB device that touched a few MiB holds about that much', () => {
    if (global.gc) global.gc();
    const before = process.memoryUsage();
    const d = new PmemDevice({ sizeBytes: GiB, trace: false });
    const api = pmemApi('linux-arm64', d);
    const block = new Uint8Array(4096).fill(0x5a);
    const blocks = 1024; // 4 MiB spread over the whole range
    for (let i = 0; i < blocks; i++) api.memcpyFlushcache(Math.floor((i * (GiB - 4096)) / blocks / 4096) * 4096, block);
    const after = process.memoryUsage();
    const grownBytes = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    expect(d.residentBytes()).toBe(blocks * 4096);
    expect(grownBytes).toBeLessThan(64 * MiB);
    expect(d.load(GiB - 4096 * 2, 1)[0]).toBe(0);
  });

  test('a copy-on-write layer leaves its base untouched', () => {
    const base = new SparseMemory(MiB);
    base.write(10, Uint8Array.from([1, 2, 3]));
    const top = new SparseMemory(MiB, base);
    top.write(11, Uint8Array.from([9]));
    expect([...base.read(10, 3)]).toEqual([1, 2, 3]);
    expect([...top.read(10, 3)]).toEqual([1, 9, 3]);
    expect(top.residentBytes()).toBe(4096);
  });

  test('the digest depends on bytes only: an all-zero page counts as absent', () => {
    const a = new SparseMemory(MiB);
    const b = new SparseMemory(MiB);
    a.write(5000, new Uint8Array(8)); // materialises a zero page
    expect(mediaDigest(a)).toBe(mediaDigest(b));
    b.write(5000, Uint8Array.from([1]));
    expect(mediaDigest(a)).not.toBe(mediaDigest(b));
  });
});

describe('image files', () => {
  let dir: string;
  beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-media-')); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writeImage writes the persisted media as a sparse file that fromImageFile reads back', () => {
    const d = new PmemDevice({ sizeBytes: 64 * MiB });
    const api = pmemApi('linux-arm64', d);
    api.memcpyFlushcache(40 * MiB, new Uint8Array(8192).fill(3));
    d.store(0, Uint8Array.from([7])); // never persisted: the image holds 0 there
    const file = path.join(dir, 'pmem0.img');
    d.writeImage(file);
    const stat = fs.statSync(file);
    expect(stat.size).toBe(64 * MiB);
    expect(stat.blocks * 512).toBeLessThan(1 * MiB);
    const back = PmemDevice.fromImageFile(file);
    expect(back.sizeBytes).toBe(64 * MiB);
    expect(back.load(40 * MiB, 2)).toEqual(Uint8Array.from([3, 3]));
    expect(back.load(0, 1)[0]).toBe(0);
    expect(mediaDigest(back.coherent)).toBe(d.guaranteedMedia().digest());
  });

  test('a crash image written to a file reads back identical', () => {
    const d = new PmemDevice({ sizeBytes: 16 * MiB });
    for (let i = 0; i < 50; i++) d.store(i * 4100, Uint8Array.from([i + 1, i + 2, i + 3]));
    const image = d.drawCrashImage(12);
    const file = path.join(dir, 'crash.img');
    image.writeImage(file);
    expect(mediaDigest(PmemDevice.fromImageFile(file).coherent)).toBe(image.digest());
  });

  test('an image larger than the device is refused', () => {
    const file = path.join(dir, 'big.img');
    fs.writeFileSync(file, new Uint8Array(2 * MiB));
    expect(() => PmemDevice.fromImageFile(file, { sizeBytes: MiB })).toThrow(/more than the device/);
  });
});

describe('content keys', () => {
  test('a page\'s part is sha256 of its index and digest, read as little-endian 32-bit lanes', () => {
    for (const [index, digest] of [[0, 'a'.repeat(64)], [262143, sha('x')], [7, sha('')]] as const) {
      const bytes = createHash('sha256').update(`${index}:${digest}`).digest();
      const lanes = Array.from({ length: CONTENT_SUM_LANES }, (_, i) => bytes.readUInt32LE(4 * i));
      expect([...(pagePart(index, digest) as Uint32Array)]).toEqual(lanes);
    }
    expect(pagePart(3, undefined)).toBeUndefined();
  });

  /** A device with durable stores and uncertain ones over a few pages, some of zeros. */
  function busyDevice(seed: number): PmemDevice {
    const device = new PmemDevice({ sizeBytes: 1 << 22, profile: 'armv8.2', trace: false });
    const api = pmemApi('linux-arm64', device);
    let x = seed;
    const next = () => (x = (x * 1103515245 + 12345) >>> 0);
    for (let i = 0; i < 40; i++) {
      const addr = (next() % 64) * 64 + (next() % 6) * 4096;
      const bytes = new Uint8Array(64).fill(next() % 3 === 0 ? 0 : (next() % 255) + 1);
      if (i < 15) api.memcpyFlushcache(addr, bytes); // durable (its barrier completes every clean before it)
      else device.store(addr, bytes); // not cleaned: the crash may or may not keep it
    }
    return device;
  }

  test('two crash images get equal keys exactly when their bytes are equal (their digests are)', () => {
    for (const seed of [1, 2, 3]) {
      const device = busyDevice(seed);
      const point = device.crashPoint();
      const images = [...point.bounded({ k: 2 }).states()].slice(0, 200).map((state) => point.image(state));
      const keys = images.map((image) => image.contentKey());
      const digests = images.map((image) => image.digest());
      // every pair, one expectation on the pairs that disagree (an expect a pair was 4 s of the test)
      const disagree: string[] = [];
      for (let i = 0; i < images.length; i++) {
        for (let j = i + 1; j < images.length; j++) if ((keys[i] === keys[j]) !== (digests[i] === digests[j])) disagree.push(`seed ${seed}: images ${i} and ${j}`);
      }
      expect(disagree).toEqual([]);
      expect(new Set(digests).size).toBeGreaterThan(1);
    }
  });

  test('the sum brought up to date after writes equals one computed afresh', () => {
    const memory = new SparseMemory(1 << 20);
    memory.write(0, new Uint8Array([1, 2, 3]));
    memory.write(8192, new Uint8Array([4]));
    const first = memory.contentSum().slice();
    memory.write(8192, new Uint8Array([0])); // the page back to all zeros: its part leaves the sum
    memory.write(4096 * 9, new Uint8Array([5]));
    const fresh = new SparseMemory(1 << 20);
    fresh.write(0, new Uint8Array([1, 2, 3]));
    fresh.write(4096 * 9, new Uint8Array([5]));
    expect([...memory.contentSum()]).toEqual([...fresh.contentSum()]);
    expect([...memory.contentSum()]).not.toEqual([...first]);
    // the same bytes at another page index are other content
    const moved = new SparseMemory(1 << 20);
    moved.write(4096, new Uint8Array([1, 2, 3]));
    moved.write(4096 * 9, new Uint8Array([5]));
    expect([...moved.contentSum()]).not.toEqual([...fresh.contentSum()]);
  });
});

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
