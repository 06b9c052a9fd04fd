/**
 * Our journal writing the layout its superblock declares (fs/journal.ts): jbd2 checksum v3
 * and 64-bit block numbers, as the kernel runs its journal on an ext4 with metadata_csum.
 *
 * The subset's file system (minimal profile) is given the journal features by the test
 * (`setJournalFeatures`) and mounted with `journalChecksum: true`; after a journal-heavy
 * workload the media as they persisted (no unmount) hold a live log. Each log block is checked
 * on its own with the fs/jbd2.ts codecs (tag size and place, every tag checksum over its copy
 * as logged, every descriptor and revoke tail, every commit checksum, 8-byte revoke records
 * with 64BIT), the number of commits is counted by a walk of the headers alone (so a commit
 * that fails its checksum cannot shorten both sides alike), and our recovery must replay every
 * one of them with no checksum failure. Also: the mount's feature rule (the kernel's), the
 * capacity computations per layout, a damaged journal superblock refused at mount, and a
 * damaged logged copy failing a writable mount (EBADMSG) with the log left as it was.
 *
 * What e2fsck and the kernel say of these logs is test/interop/jbd2-write-csum.test.ts.
 */
import { readU32BE } from '../../core/bytes';
import { CorruptionError } from '../../core/errors';
import { StreamTree } from '../../core/streams';
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import {
  BLOCK_BYTES, INCOMPAT_RECOVER, JBD2_COMMIT_BLOCK, JBD2_DESCRIPTOR_BLOCK, JBD2_FEATURE_INCOMPAT_REVOKE, JBD2_MAGIC, JBD2_REVOKE_BLOCK,
  decodeJournalSuperblock,
} from '../../fs/format';
import {
  JBD2_FEATURE_COMPAT_CHECKSUM, JBD2_FEATURE_INCOMPAT_64BIT, JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT, JBD2_FEATURE_INCOMPAT_CSUM_V2,
  JBD2_FEATURE_INCOMPAT_CSUM_V3, LogLayout, commitChecksumOk, countDescriptorTags, decodeDescriptor, decodeLogHeader, decodeRevoke,
  logLayout, nextLogIndex, tagChecksumOk, tailChecksumOk, tidAfter,
} from '../../fs/jbd2';
import { Journal, journalFeaturesAtMount } from '../../fs/journal';
import { mkfs } from '../../fs/mkfs';
import { journalBlocks, journalLog, mount, mountReplay, mountWithReport, readSuperblock, recoverDevice } from '../../fs/mount';
import { writePolicy } from '../../fs/policy';
import {
  BIG_TRANSACTION_BLOCKS, BIG_TRANSACTION_FIRST, WRITTEN_LAYOUTS, journalHeavyWorkload, journalSuperblock, oneBigTransaction, setJournalFeatures,
} from '../helpers/journal-log';

const MiB = 1 << 20;
const REVOKE = JBD2_FEATURE_INCOMPAT_REVOKE;
const V3 = JBD2_FEATURE_INCOMPAT_CSUM_V3;
const BIT64 = JBD2_FEATURE_INCOMPAT_64BIT;

function formatted(incompat: number): PmemDevice {
  const device = new PmemDevice({ sizeBytes: 16 * MiB, trace: false });
  mkfs(device, { seed: 'journal-csum', timeSeconds: 1_700_000_000 });
  if (incompat !== 0) setJournalFeatures(device, incompat);
  return device;
}

/** The media as they persisted, the log live (no unmount). */
function crashed(device: PmemDevice): PmemDevice {
  return new PmemDevice({ media: device.guaranteedMedia().detach(), trace: false });
}

function jsbOf(device: PmemDevice) {
  const blocks = journalBlocks(device, readSuperblock(device));
  return decodeJournalSuperblock(device.load(blocks[0] * BLOCK_BYTES, BLOCK_BYTES), 0);
}

/** A log our journal wrote with these features, on a crash image. */
function writtenLog(incompat: number): PmemDevice {
  const device = formatted(incompat);
  const f = mount(device, { journalChecksum: (incompat & V3) !== 0 });
  journalHeavyWorkload(f, 4);
  return crashed(device);
}

interface Checked {
  readonly commits: number;
  readonly tags: number;
  readonly revokeRecords: number;
}

/**
 * Every block of the live log checked on its own with the codecs, walking headers only:
 * from s_start expecting s_sequence, a descriptor's copies skipped by count_tags.
 */
function checkLog(device: PmemDevice, layout: LogLayout): Checked {
  const jsb = jsbOf(device);
  const blocks = journalBlocks(device, readSuperblock(device));
  const read = (index: number) => device.load(blocks[index] * BLOCK_BYTES, BLOCK_BYTES);
  const tagBytes = layout.csumV3 ? 16 : layout.bit64 ? 12 : 8;
  let commits = 0;
  let tags = 0;
  let revokeRecords = 0;
  expect(jsb.start).not.toBe(0);
  for (let index = jsb.start, tid = jsb.sequence, steps = 0; steps < jsb.maxlen; steps++) {
    const block = read(index);
    const header = decodeLogHeader(block);
    if (header.magic !== JBD2_MAGIC || header.sequence !== tid) break;
    const where = `journal block ${index} (tid ${tid})`;
    index = nextLogIndex(index, jsb.first, jsb.maxlen);
    if (header.blocktype === JBD2_DESCRIPTOR_BLOCK) {
      expect({ where, tail: tailChecksumOk(block, layout) }).toEqual({ where, tail: true });
      const decoded = decodeDescriptor(block, where, layout);
      expect(countDescriptorTags(block, layout)).toBe(decoded.length);
      // the tags sit where the layout puts them: the first at 12, a UUID after it, then every tagBytes
      decoded.forEach((tag, i) => expect(readU32BE(block, 12 + i * tagBytes + (i > 0 ? 16 : 0))).toBe(tag.block % 2 ** 32));
      for (const tag of decoded) {
        const copy = read(index);
        expect({ where, home: tag.block, ok: tagChecksumOk(tag, tid, copy, layout) }).toEqual({ where, home: tag.block, ok: true });
        index = nextLogIndex(index, jsb.first, jsb.maxlen);
        tags++;
      }
    } else if (header.blocktype === JBD2_REVOKE_BLOCK) {
      expect({ where, tail: tailChecksumOk(block, layout) }).toEqual({ where, tail: true });
      const records = decodeRevoke(block, where, layout);
      expect(readU32BE(block, 12)).toBe(16 + records.length * (layout.bit64 ? 8 : 4));
      revokeRecords += records.length;
    } else if (header.blocktype === JBD2_COMMIT_BLOCK) {
      expect({ where, commit: commitChecksumOk(block, layout) }).toEqual({ where, commit: true });
      commits++;
      tid = tidAfter(tid);
    } else {
      break;
    }
  }
  return { commits, tags, revokeRecords };
}

describe('the journal writes jbd2 checksum v3 and 64-bit tags when its superblock declares them', () => {
  test.each(WRITTEN_LAYOUTS)('%s: every tag, tail and commit checks, and our recovery replays every commit', (_name, incompat) => {
    const device = writtenLog(incompat);
    const jsb = jsbOf(device);
    expect(jsb.featureIncompat).toBe(incompat);
    if ((incompat & V3) !== 0) expect(jsb.checksumType).toBe(4);
    const layout = logLayout(jsb.featureIncompat, jsb.uuid);
    const checked = checkLog(device, layout);
    expect(checked.commits).toBeGreaterThanOrEqual(8);
    expect(checked.tags).toBeGreaterThan(checked.commits);
    expect(checked.revokeRecords).toBeGreaterThan(0);
    // the journal's own listing, which reads with the same codec, agrees
    const listed = journalLog(device).transactions;
    expect(listed.every((t) => t.committed)).toBe(true);
    expect(listed.length).toBe(checked.commits);
    const result = recoverDevice(device);
    expect(result?.tagChecksumFailures).toEqual([]);
    expect(result?.transactionsReplayed).toBe(checked.commits);
    expect(result?.blocksReplayed).toBeGreaterThan(0);
    // the emptied journal superblock recovery wrote carries its checksum (journalLog checks it)
    expect(journalLog(device).transactions).toEqual([]);
  });

  test('the wipe of a v3 log left without RECOVER writes a journal superblock whose checksum holds', () => {
    const device = writtenLog(REVOKE | V3 | BIT64);
    const sb = device.load(0, BLOCK_BYTES);
    sb[1024 + 0x60] &= ~INCOMPAT_RECOVER;
    device.store(0, sb);
    mountReplay(device); // the mount's writes before it can refuse: here the wipe alone
    const jsb = jsbOf(device);
    expect(jsb.start).toBe(0);
    expect(journalLog(device).transactions).toEqual([]);
    expect(mountWithReport(device, { journalChecksum: true }).report.journalWiped).toBe(false);
  });

  test('the writable mount sets the features as the kernel does; the minimal profile keeps its plain journal', () => {
    // without metadata_csum and without journalChecksum the kernel clears v3 (64BIT stays)
    const cleared = formatted(REVOKE | V3 | BIT64);
    mount(cleared);
    expect(jsbOf(cleared).featureIncompat).toBe(REVOKE | BIT64);
    // journalChecksum turns it on: v3 and crc32c, durable before the first transaction
    const plain = formatted(0);
    const before = jsbOf(plain);
    expect(before.featureIncompat).toBe(0);
    const f = mount(plain, { journalChecksum: true });
    const live = jsbOf(crashed(plain));
    expect({ incompat: live.featureIncompat, type: live.checksumType }).toEqual({ incompat: REVOKE | V3, type: 4 });
    f.unmount();
    expect(jsbOf(plain).featureIncompat).toBe(REVOKE | V3);
    // and off again at the next mount without it
    mount(plain).unmount();
    expect(jsbOf(plain).featureIncompat).toBe(REVOKE);
  });

  test('journalFeaturesAtMount: the kernel\'s set_journal_csum_feature_set and 64-bit rule', () => {
    const base = journalSuperblock({ featureCompat: JBD2_FEATURE_COMPAT_CHECKSUM, featureIncompat: REVOKE | JBD2_FEATURE_INCOMPAT_CSUM_V2 | JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT });
    const on = journalFeaturesAtMount(base, { checksum: true, bit64: true });
    expect({ compat: on.featureCompat, incompat: on.featureIncompat, type: on.checksumType }).toEqual({ compat: 0, incompat: REVOKE | V3 | BIT64, type: 4 });
    const off = journalFeaturesAtMount(journalSuperblock({ featureIncompat: REVOKE | V3 | BIT64, checksumType: 4 }), { checksum: false, bit64: false });
    expect({ incompat: off.featureIncompat, type: off.checksumType }).toEqual({ incompat: REVOKE | BIT64, type: 4 });
    const none = journalSuperblock({ featureIncompat: 0 });
    expect(journalFeaturesAtMount(none, { checksum: false, bit64: false })).toEqual(none);
    expect(base.featureIncompat).toBe(REVOKE | JBD2_FEATURE_INCOMPAT_CSUM_V2 | JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT); // a copy
  });

  test('tags per descriptor and records per revoke block follow the layout in logBlocks', () => {
    const device = formatted(0);
    const jblocks = journalBlocks(device, readSuperblock(device));
    const api = pmemApi('linux-arm64', device);
    const journal = (incompat: number) => new Journal({
      device, api, policy: writePolicy('ordered', { device, api, flushHint: false, rng: StreamTree.of(0).policy() }),
      jsb: { ...jsbOf(device), featureIncompat: incompat }, journalBlocks: jblocks, now: () => 0,
    });
    const plain = journal(REVOKE);
    expect([plain.logBlocks(508, 1020), plain.logBlocks(509, 1021)]).toEqual([1 + 508 + 1 + 1, 2 + 509 + 2 + 1]);
    const wide = journal(REVOKE | BIT64); // 12-byte tags, 8-byte records
    expect([wide.logBlocks(339, 510), wide.logBlocks(340, 511)]).toEqual([1 + 339 + 1 + 1, 2 + 340 + 2 + 1]);
    const v3 = journal(REVOKE | V3); // 16-byte tags, tails
    expect([v3.logBlocks(254, 1019), v3.logBlocks(255, 1020)]).toEqual([1 + 254 + 1 + 1, 2 + 255 + 2 + 1]);
    const v3wide = journal(REVOKE | V3 | BIT64);
    expect([v3wide.logBlocks(254, 509), v3wide.logBlocks(255, 510)]).toEqual([1 + 254 + 1 + 1, 2 + 255 + 2 + 1]);
    expect(v3wide.maxTransactionBlocks).toBe(plain.maxTransactionBlocks); // a quarter of the journal either way
  });

  test.each([
    ['the plain log', 1, REVOKE],
    ['checksum v3 and 64BIT', 2, REVOKE | V3 | BIT64],
  ])('a transaction of 300 blocks in %s takes %i descriptor block(s), each checked, and replays whole', (_name, descriptors, incompat) => {
    const image = oneBigTransaction(incompat, BIG_TRANSACTION_BLOCKS);
    const [t] = journalLog(image).transactions;
    const homes = Array.from({ length: BIG_TRANSACTION_BLOCKS }, (_, i) => BIG_TRANSACTION_FIRST + i);
    expect({ committed: t.committed, homes: t.homeBlocks, logBlocks: t.logBlocks.length }).toEqual({ committed: true, homes, logBlocks: descriptors + homes.length + 1 });
    expect(checkLog(image, logLayout(incompat, jsbOf(image).uuid)).tags).toBe(homes.length);
    const result = recoverDevice(image);
    expect({ replayed: result?.blocksReplayed, failures: result?.tagChecksumFailures }).toEqual({ replayed: homes.length, failures: [] });
    expect(image.load((homes.length - 1 + BIG_TRANSACTION_FIRST) * BLOCK_BYTES, 1)[0]).toBe((homes.length - 1 + BIG_TRANSACTION_FIRST) & 0xff);
  });

  test('a journal superblock whose checksum fails is refused by every mount, as jbd2 refuses to load it', () => {
    const device = formatted(REVOKE | V3);
    const at = journalBlocks(device, readSuperblock(device))[0] * BLOCK_BYTES;
    device.store(at + 0x44, Uint8Array.of(1)); // s_dynsuper: a field nothing else reads
    expect(() => mount(device, { journalChecksum: true })).toThrow(CorruptionError);
    expect(() => mount(device, { readOnly: true })).toThrow(expect.objectContaining({ code: 'EBADMSG', message: expect.stringMatching(/checksum mismatch/) }));
  });

  test('a logged copy failing its tag checksum fails a writable mount (EBADMSG, as the kernel) and leaves the log; recoverDevice empties it', () => {
    const device = writtenLog(REVOKE | V3 | BIT64);
    const log = journalLog(device);
    // the first logged copy of the first transaction: journal block after its descriptor
    const copyIndex = log.transactions[0].logBlocks[1];
    const addr = log.journalBlocks[copyIndex] * BLOCK_BYTES + 300;
    device.store(addr, Uint8Array.of(device.load(addr, 1)[0] ^ 1));
    const before = jsbOf(device);
    expect(() => mount(device, { journalChecksum: true })).toThrow(expect.objectContaining({ code: 'EBADMSG' }));
    expect(jsbOf(device).start).toBe(before.start);
    expect(readSuperblock(device).featureIncompat & INCOMPAT_RECOVER).toBe(INCOMPAT_RECOVER);
    const result = recoverDevice(device);
    expect(result?.tagChecksumFailures).toEqual([log.transactions[0].homeBlocks[0]]);
    expect(jsbOf(device).start).toBe(0);
  });
});
