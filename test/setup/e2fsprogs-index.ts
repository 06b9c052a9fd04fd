/**
 * Writes the index of the e2fsprogs test images test/setup/e2fsprogs-tests.sh staged (its one
 * argument: the staged cache directory), through test/helpers/e2fsprogs-images.ts, and says
 * how many images of each block size it holds.
 */
import { writeImageIndex } from '../helpers/e2fsprogs-images';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: e2fsprogs-index.ts <staged cache directory>');
const index = writeImageIndex(dir);
const bySize = new Map<string, number>();
for (const e of index.images) {
  const key = e.blockBytes === null ? 'no ext4 superblock' : `${e.blockBytes}-byte blocks`;
  bySize.set(key, (bySize.get(key) ?? 0) + 1);
}
console.log(`${index.images.length} images from ${index.source}: ${[...bySize].map(([k, n]) => `${n} x ${k}`).join(', ')}`);
