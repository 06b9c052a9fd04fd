/**
 * DAX mmap workloads: a program maps a file's blocks (`daxMapSync`), stores records into
 * them directly and persists them from user space, the way a libpmem-style library does,
 * with one of four drains:
 *
 * - `cvap-dsb`: DC CVAP per line, then DSB SY (correct on ARMv8.2);
 * - `pmdk-arm64-2020`: DC CVAC per line, then DMB ISHST;
 * - `pmdk-arm64-2021`: DC CVAP per line, then DMB ISHST;
 * - `clwb-sfence`: CLWB per line, then SFENCE (x86).
 *
 * Each record is written and persisted, then its valid flag is set and persisted. memfs has
 * no mmap, so the check is an invariant instead of the oracle: in every crash state, at every
 * crash point, a record whose flag is set is complete.
 *
 * Not checked: records without a flag (they may be partial), the file's metadata beyond its
 * mount (the file is made and synced before the mapping).
 */
import { PmemDevice } from '../device/device';
import type { ProfileName } from '../device/profiles';
import { LINE_BYTES } from '../core/limits';
import { mkfs } from '../fs/mkfs';
import { mount } from '../fs/mount';
import { forEachLine } from '../device/pmem-api';

export type MmapDrain = 'cvap-dsb' | 'pmdk-arm64-2020' | 'pmdk-arm64-2021' | 'clwb-sfence';
export const MMAP_DRAINS: readonly MmapDrain[] = ['cvap-dsb', 'pmdk-arm64-2020', 'pmdk-arm64-2021', 'clwb-sfence'];

/** A record slot: 192 bytes of payload (three lines) and an 8-byte flag in the next line. */
const RECORD_BYTES = 3 * LINE_BYTES;
const SLOT_BYTES = RECORD_BYTES + LINE_BYTES;
const FLAG = 0x4c494156; // "VALI"

export interface MmapResult {
  readonly drain: MmapDrain;
  readonly profile: ProfileName;
  readonly statesChecked: number;
  /** Crash states in which a set flag came with a missing or partial record. */
  readonly lostRecords: number;
  readonly firstLoss?: string;
}

function persist(device: PmemDevice, drain: MmapDrain, addr: number, length: number): void {
  forEachLine(addr, length, (line) => {
    if (drain === 'cvap-dsb' || drain === 'pmdk-arm64-2021') device.dcCvap(line);
    else if (drain === 'pmdk-arm64-2020') device.dcCvac(line);
    else device.clwb(line);
  });
  if (drain === 'cvap-dsb') device.dsb('sy');
  else if (drain === 'clwb-sfence') device.sfence();
  else device.dmb('ishst');
}

function recordBytes(index: number): Uint8Array {
  return Uint8Array.from({ length: RECORD_BYTES }, (_, i) => ((index * 37 + i) % 255) + 1);
}

/**
 * Run `records` record-then-flag writes through a mapping and check every crash state
 * (sampled, `statesPerPoint` a point) at every instruction of the mapped phase.
 */
export function runMmapWorkload(drain: MmapDrain, profile: ProfileName, records: number, statesPerPoint = 4): MmapResult {
  const device = new PmemDevice({ sizeBytes: 16 << 20, profile, trace: false });
  mkfs(device, { seed: 'mmap' });
  const fs = mount(device, { policy: 'ordered' });
  fs.writeFileSync('/records', new Uint8Array(records * SLOT_BYTES));
  fs.syncSync();
  const fd = fs.openSync('/records', 'r+');
  const ranges = fs.daxMapSync(fd, 0, records * SLOT_BYTES);
  // the mapping of a freshly written, synced file: physically contiguous pieces in file order
  const addrOf = (offset: number): number => {
    let at = offset;
    for (const r of ranges) {
      if (at < r.length) return r.addr + at;
      at -= r.length;
    }
    throw new RangeError(`offset ${offset} is outside the mapping`);
  };
  let statesChecked = 0;
  let lostRecords = 0;
  let firstLoss: string | undefined;
  const check = (point: number) => {
    const crash = device.crashPoint();
    for (let s = 0; s < statesPerPoint; s++) {
      const image = crash.sample(`mmap/${drain}/${point}/${s}`);
      statesChecked++;
      const after = new PmemDevice({ media: image, profile, trace: false });
      for (let r = 0; r < records; r++) {
        const flag = after.load(addrOf(r * SLOT_BYTES + RECORD_BYTES), 4);
        if ((flag[0] | (flag[1] << 8) | (flag[2] << 16) | (flag[3] << 24)) >>> 0 !== FLAG) continue;
        const got = after.load(addrOf(r * SLOT_BYTES), RECORD_BYTES);
        const want = recordBytes(r);
        if (got.some((b, i) => b !== want[i])) {
          lostRecords++;
          firstLoss ??= `record ${r}: flag set but the record is ${got.every((b) => b === 0) ? 'missing' : 'partial'} (crash before instruction ${point})`;
          break;
        }
      }
    }
  };
  const flagBytes = Uint8Array.of(FLAG & 0xff, (FLAG >> 8) & 0xff, (FLAG >> 16) & 0xff, FLAG >>> 24, 0, 0, 0, 0);
  for (let r = 0; r < records; r++) {
    const record = addrOf(r * SLOT_BYTES);
    const flag = addrOf(r * SLOT_BYTES + RECORD_BYTES);
    const steps: Array<() => void> = [
      () => device.store(record, recordBytes(r)),
      () => persist(device, drain, record, RECORD_BYTES),
      () => device.store(flag, flagBytes),
      () => persist(device, drain, flag, 8),
    ];
    for (const step of steps) {
      step();
      check(device.instructionCount);
    }
  }
  return { drain, profile, statesChecked, lostRecords, firstLoss };
}
