import { PmemDevice } from '../../device/device';
import { fsck } from '../../fs/fsck';
import { BLOCK_BYTES, INCOMPAT_RECOVER, JBD2_REVOKE_BLOCK, decodeJournalSuperblock } from '../../fs/format';
import { decodeLogHeader } from '../../fs/jbd2';
import { mkfs } from '../../fs/mkfs';
import { COMMIT_INTERVAL_OPS } from '../../fs/journal';
import { journalBlocks, mount, mountWithReport, readSuperblock } from '../../fs/mount';
import { DaxFileSystem } from '../../fs/filesystem';

const MiB = 1 << 20;

function fresh(policy: 'ordered' | 'unordered' = 'ordered', extra: { flushHint?: boolean; profile?: 'armv8.0' } = {}) {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, profile: extra.profile });
  mkfs(device, { seed: 'journal' });
  const fs = mount(device, { policy, pmemApi: 'linux-arm64', flushHint: extra.flushHint });
  return { device, fs };
}

/** What survives if power fails now and only the guaranteed state persists (no eviction). */
function crashNow(device: PmemDevice): PmemDevice {
  return new PmemDevice({ media: device.guaranteedMedia().detach(), sizeBytes: device.sizeBytes });
}

function jsbOf(device: PmemDevice) {
  const blocks = journalBlocks(device, readSuperblock(device));
  return decodeJournalSuperblock(device.load(blocks[0] * BLOCK_BYTES, BLOCK_BYTES), 0);
}

describe('the journal', () => {
  test('a mounted file system carries RECOVER and a live log; a clean unmount clears both', () => {
    const { device, fs } = fresh();
    expect(readSuperblock(device).featureIncompat & INCOMPAT_RECOVER).toBe(INCOMPAT_RECOVER);
    expect(jsbOf(device).start).not.toBe(0);
    fs.unmount();
    expect(readSuperblock(device).featureIncompat & INCOMPAT_RECOVER).toBe(0);
    expect(jsbOf(device).start).toBe(0);
    expect(fsck(device)).toEqual([]);
  });

  test('fsync makes everything before it durable (the whole running transaction)', () => {
    const { device, fs } = fresh();
    fs.mkdirSync('/d');
    fs.writeFileSync('/d/one', 'first');
    const fd = fs.openSync('/d/two', 'w');
    fs.writeSync(fd, Buffer.from('second'));
    fs.fsyncSync(fd);
    const after = mount(crashNow(device));
    expect(after.readFileSync('/d/one', 'utf8')).toBe('first');
    expect(after.readFileSync('/d/two', 'utf8')).toBe('second');
  });

  test('operations after the last commit are lost as a whole, and the image stays consistent', () => {
    const { device, fs } = fresh();
    fs.writeFileSync('/kept', 'k');
    fs.syncSync();
    fs.mkdirSync('/lost');
    fs.writeFileSync('/lost/file', 'gone');
    const crashed = crashNow(device);
    const after = mount(crashed);
    expect(after.existsSync('/kept')).toBe(true);
    expect(after.existsSync('/lost')).toBe(false);
    after.unmount();
    expect(fsck(crashed)).toEqual([]);
  });

  test(`a transaction commits by itself every ${COMMIT_INTERVAL_OPS} operations`, () => {
    const { device, fs } = fresh();
    for (let i = 0; i < COMMIT_INTERVAL_OPS + 1; i++) fs.mkdirSync(`/d${i}`);
    const after = mount(crashNow(device));
    expect(after.readdirSync('/').length).toBeGreaterThanOrEqual(COMMIT_INTERVAL_OPS / 2);
  });

  test('the log wraps around and recovery still finds the last transaction', () => {
    const { device, fs } = fresh();
    const before = jsbOf(device);
    for (let i = 0; i < 400; i++) {
      fs.writeFileSync(`/f${i % 50}`, `round ${i}`);
      fs.syncSync();
    }
    const jsb = jsbOf(device);
    expect(jsb.sequence).toBeGreaterThan(before.sequence + 399);
    expect(jsb.start).toBeLessThan(before.maxlen); // wrapped at least once: 400 commits of 5+ blocks > 1023
    const after = mount(crashNow(device));
    expect(after.readFileSync('/f49', 'utf8')).toBe('round 399');
  });

  test('a file unlinked while open is on the orphan list, and a crash leaves no leaked inode', () => {
    const { device, fs } = fresh();
    fs.writeFileSync('/tmpfile', Buffer.alloc(50000, 1));
    const fd = fs.openSync('/tmpfile', 'r');
    fs.unlinkSync('/tmpfile');
    fs.syncSync();
    expect(readSuperblock(device).lastOrphan).not.toBe(0); // committed and checkpointed
    const crashed = crashNow(device);
    const { fs: after, report } = mountWithReport(crashed);
    expect(report.orphansFinished).toBe(1);
    after.unmount();
    expect(fsck(crashed)).toEqual([]);
    expect(readSuperblock(crashed).freeInodesCount).toBe(1024 - 11);
    fs.closeSync(fd);
  });

  test('freeing a journaled metadata block writes a revoke record', () => {
    const { device, fs } = fresh();
    fs.mkdirSync('/d');
    fs.syncSync();
    fs.rmdirSync('/d');
    fs.syncSync();
    const blocks = journalBlocks(device, readSuperblock(device));
    const types = blocks.slice(1).map((b) => decodeLogHeader(device.load(b * BLOCK_BYTES, 12)).blocktype);
    expect(types).toContain(JBD2_REVOKE_BLOCK);
  });

  test('with flushHint every barrier of the commit is nvdimmFlush', () => {
    const { device, fs } = fresh('ordered', { flushHint: true, profile: 'armv8.0' });
    const start = device.trace!.length;
    fs.writeFileSync('/x', 'x');
    fs.syncSync();
    const kinds = device.trace!.slice(start).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'hint').length).toBeGreaterThanOrEqual(5);
    fs.unmount();
    expect(device.lines.size).toBe(0); // on armv8.0 only the hint makes the PoC durable
  });
});

describe('cost counters per operation', () => {
  function workload(fs: DaxFileSystem): void {
    for (let i = 0; i < 20; i++) {
      const fd = fs.openSync(`/f${i}`, 'w');
      fs.writeSync(fd, Buffer.alloc(4096, i));
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(`/f${i}`, `/g${i}`);
    }
  }

  test('ordered pays more barriers than unordered on the same workload; both count cleans and bytes', () => {
    const costs: Record<string, Record<string, { calls: number; cleans: number; barriers: number; flushedBytes: number; costNanos: number }>> = {};
    for (const policy of ['ordered', 'unordered'] as const) {
      const { fs } = fresh(policy);
      workload(fs);
      costs[policy] = Object.fromEntries(fs.costReport());
    }
    const perCall = (p: string, op: string, field: 'cleans' | 'barriers' | 'flushedBytes' | 'costNanos') => costs[p][op][field] / costs[p][op].calls;
    const rows = ['open', 'write', 'fsync', 'close', 'rename'].map((op) => [op, ...['ordered', 'unordered'].map((p) =>
      `${perCall(p, op, 'cleans').toFixed(1)} cleans, ${perCall(p, op, 'barriers').toFixed(1)} barriers, ${perCall(p, op, 'flushedBytes').toFixed(0)} B, ${perCall(p, op, 'costNanos').toFixed(0)} ns`)]);
    console.log(['cost per call (linux-arm64, armv8.2): op | ordered | unordered', ...rows.map((r) => r.join(' | '))].join('\n'));
    expect(perCall('ordered', 'fsync', 'barriers')).toBeGreaterThan(perCall('unordered', 'fsync', 'barriers'));
    expect(perCall('ordered', 'write', 'cleans')).toBeGreaterThanOrEqual(64);
  });
});
