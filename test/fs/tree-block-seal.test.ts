/**
 * With metadata_csum every extent-tree block gets its tail checksum for the inode whose tree
 * it is (fs/inode-table.ts treeAlloc(ino), told the inode's number by each caller). A
 * default-profile mount makes a file whose map needs a tree block (more than the root's four
 * extents: its blocks interleaved with other files' in a growing directory), truncates it
 * (the tree stored again as blocks are freed) and writes it again, and a fresh mount, which
 * checks a tree block's checksum when it loads a map (EBADMSG otherwise), reads back every
 * name and byte. A tree block sealed for another inode, or not at all, fails here.
 */
import { PmemDevice } from '../../device/device';
import { mkfs } from '../../fs/mkfs';
import { mount } from '../../fs/mount';
import { MetadataChecksums } from '../../fs/read-profile';

const MiB = 1 << 20;

describe('an extent-tree block sealed for its own inode', () => {
  test('a fragmented file, written, truncated and grown again, reads back on a fresh mount that checks its tree block', () => {
    const device = new PmemDevice({ sizeBytes: 64 * MiB, trace: false });
    mkfs(device, { features: 'default', seed: 'tree-block-seal' });
    const f = mount(device, { policy: 'ordered', checkpoint: 'lazy' });
    f.mkdirSync('/d');
    const stamped = jest.spyOn(MetadataChecksums.prototype, 'stampExtentBlock');
    const fd = f.openSync('/big', 'w');
    const block = (i: number) => new Uint8Array(4096).fill(i + 1);
    const names: string[] = [];
    // every other block of /big, a file in /d between them (its block, and the directory's growth, land in the holes)
    for (let i = 0; i < 24; i++) {
      f.writeSync(fd, block(i), 0, 4096, i * 2 * 4096);
      const name = `${'n'.repeat(200)}${i}`;
      names.push(name);
      f.writeFileSync(`/d/${name}`, block(100 + i));
    }
    f.ftruncateSync(fd, 9 * 4096);
    for (let i = 24; i < 30; i++) f.writeSync(fd, block(i), 0, 4096, i * 2 * 4096);
    f.closeSync(fd);
    f.unmount();
    const owners = new Set(stamped.mock.calls.map(([ino]) => ino));
    stamped.mockRestore();
    // the file's tree blocks were stamped for the file
    expect(owners.size).toBeGreaterThan(0);
    const again = mount(device);
    expect(owners.has(Number(again.statSync('/big').ino))).toBe(true);
    const big = again.readFileSync('/big');
    expect(big.length).toBe(59 * 4096);
    for (let i = 0; i < 30; i++) {
      const at = i * 2 * 4096;
      const expected = i < 24 ? (at < 9 * 4096 ? i + 1 : 0) : i + 1;
      expect([i, big[at], big[at + 4095]]).toEqual([i, expected, expected]);
    }
    expect(again.readdirSync('/d').sort()).toEqual([...names].sort());
    for (let i = 0; i < 24; i++) expect(again.readFileSync(`/d/${names[i]}`)[0]).toBe(101 + i);
    again.unmount();
  });
});
