/**
 * The directory hash (fs/htree.ts), major and minor, against debugfs's `dx_hash`, e2fsprogs' own implementation
 * of the hashes the kernel uses: every hash version (legacy, half-MD4, TEA, each over signed
 * and unsigned chars), with the all-zero seed and a real one, on names that cross the 32-byte
 * and 16-byte blocks the hashes consume, and bytes above 0x7f (where signedness matters).
 * Lookups through the index are held to the kernel in test/fs/read-default.test.ts.
 */
import * as path from 'node:path';
import { dirHashes } from '../../fs/htree';
import { makeTempDir, mkfsExt4, removeTempDir, runTool, uuidBytes } from '../helpers/e2fsprogs';

const SEEDS = ['00000000-0000-0000-0000-000000000000', '11111111-2222-3333-4444-555555555555'];
const NAMES = [
  'a', 'hello', 'lost+found', 'entry-with-a-longish-name-17', 'exactly-thirty-two-bytes-long-xy',
  'héllo-wörld-with-a-name-longer-than-thirty-two-bytes', '\u00ff\u00fe\u00e9', 'x'.repeat(255), 'sixteen-bytes-ab',
];

let dir = '';
let image = '';
beforeAll(() => {
  dir = makeTempDir('htree');
  image = path.join(dir, 'any.img');
  mkfsExt4(image, 16 * 2 ** 20, { uuid: uuidBytes(SEEDS[1]), hashSeed: uuidBytes(SEEDS[1]), timeSeconds: 1_700_000_000 });
});
afterAll(() => removeTempDir(dir));

describe.each(SEEDS)('seed %s', (seed) => {
  test.each([0, 1, 2, 3, 4, 5])('hash version %i: every name hashes as debugfs dx_hash says', (version) => {
    for (const name of NAMES) {
      const r = runTool('debugfs', ['-R', `dx_hash -h ${version} -s ${seed} ${name}`, image]);
      const m = /is 0x([0-9a-f]+) \(minor 0x([0-9a-f]+)\)/.exec(r.stdout);
      if (m === null) throw new Error(`debugfs dx_hash said: ${r.stdout}${r.stderr}`);
      expect([name.slice(0, 40), dirHashes(Buffer.from(name, 'utf8'), version, uuidBytes(seed))])
        .toEqual([name.slice(0, 40), { major: parseInt(m[1], 16), minor: parseInt(m[2], 16) }]);
    }
  });
});
