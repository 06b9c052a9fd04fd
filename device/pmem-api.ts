/**
 * The kernel pmem API flavours (spec/persistence-model.md section 5): named sets of
 * functions built from the device's instructions, as Linux file systems reach pmem.c.
 * A file system never issues an instruction itself; it calls one of these.
 *
 * Each flavour is the sequence its source used, including its mistakes: the 2016 RFC's
 * clean to the PoU, PMDK's store-only drains. `hasWmbPmem()` is not a table lookup: it runs
 * the flavour's flush-then-barrier sequence as a litmus program on the device's own profile
 * and options and reports whether a later store can ever persist without the flushed one.
 * `claimsWmbPmem()` is what the flavour's own code says.
 *
 * Invariant: every by-address loop covers each line that overlaps its range, the start
 * rounded down to a line (spec litmus 10); a flavour on a profile of the other ISA throws
 * UndefinedInstruction at its first instruction.
 */
import { LINE_BYTES, WORD_BYTES } from '../core/limits';
import { CleanOp, PmemDevice, UndefinedInstruction } from './device';
import { reachableOutcomes } from './litmus';
// The canary switch (test-only bugs, core/canary.ts).
import { canaryActive } from '../core/canary';

export type PmemApiName =
  | 'linux-arm64' | 'linux-arm64-nosync' | 'rfc-2016' | 'rfc-2016-poc'
  | 'pmdk-arm64-2020' | 'pmdk-arm64-2021' | 'linux-x86';

export const PMEM_API_NAMES: readonly PmemApiName[] = [
  'linux-arm64', 'linux-arm64-nosync', 'rfc-2016', 'rfc-2016-poc', 'pmdk-arm64-2020', 'pmdk-arm64-2021', 'linux-x86',
];

export interface PmemApi {
  readonly name: PmemApiName;
  readonly device: PmemDevice;
  /** Whether its flushes complete before they return (mainline arm64) or at pmemWmb (x86). */
  readonly synchronous: boolean;
  memcpyFlushcache(dst: number, src: Uint8Array): void;
  wbCachePmem(addr: number, length: number): void;
  pmemWmb(): void;
  clearPmem(addr: number, length: number): void;
  invalidatePmem(addr: number, length: number): void;
  nvdimmFlush(): void;
  hasWmbPmem(): boolean;
  claimsWmbPmem(): boolean;
}

interface FlavourDef {
  readonly synchronous: boolean;
  readonly claimsWmbPmem: boolean;
  readonly summary: string;
  /** The clean this flavour's loop issues per line on the device's profile. */
  readonly cleanOp: (d: PmemDevice) => CleanOp;
  readonly memcpyFlushcache: (d: PmemDevice, dst: number, src: Uint8Array, clean: (addr: number, length: number) => void) => void;
  readonly wbCachePmem: (d: PmemDevice, clean: (addr: number, length: number) => void, addr: number, length: number) => void;
  readonly pmemWmb: (d: PmemDevice) => void;
  readonly invalidatePmem: (d: PmemDevice, addr: number, length: number) => void;
  /** Where the flavour's clear (a store of zeros, then wbCachePmem) has a one-step form. */
  readonly clearPmem?: (d: PmemDevice, addr: number, length: number) => void;
}

/** Linux arm64's alternative: DC CVAP where the CPU has DCPOP, DC CVAC otherwise. */
const cvapOrCvac = (d: PmemDevice): CleanOp => (d.profile.hasDcCvap ? 'cvap' : 'cvac');

const armInvalidate = (d: PmemDevice, addr: number, length: number): void => {
  forEachLine(addr, length, (line) => d.dcCivac(line));
  d.dsb('sy');
};

const FLAVOURS: Record<PmemApiName, FlavourDef> = {
  'linux-arm64': {
    synchronous: true, claimsWmbPmem: true,
    summary: 'mainline: copy, DC CVAP per line, DSB SY; pmem_wmb is DSB ST',
    cleanOp: cvapOrCvac,
    memcpyFlushcache: (d, dst, src) => d.storeCleanDsb(dst, src, cvapOrCvac(d), loopStart(dst)),
    wbCachePmem: (d, clean, addr, length) => { d.dmb('osh'); clean(addr, length); d.dsb('sy'); },
    // the store of zeros, then wbCachePmem's DMB OSH, clean loop and DSB SY
    clearPmem: (d, addr, length) => d.storeCleanDsb(addr, new Uint8Array(length), cvapOrCvac(d), loopStart(addr), 'osh'),
    pmemWmb: (d) => d.dsb('st'),
    // Linux dcache_inval_poc: clean+invalidate partial edge lines, invalidate whole ones.
    invalidatePmem: (d, addr, length) => {
      const end = addr + length;
      forEachLine(addr, length, (line) => {
        if (line < addr || line + LINE_BYTES > end) d.dcCivac(line);
        else d.dcIvac(line);
      });
      d.dsb('sy');
    },
  },
  'linux-arm64-nosync': {
    synchronous: false, claimsWmbPmem: true,
    summary: 'not in Linux: DC CVAP loop without its DSB; pmem_wmb is DSB SY',
    cleanOp: cvapOrCvac,
    memcpyFlushcache: (d, dst, src, clean) => { d.store(dst, src); clean(dst, src.length); },
    wbCachePmem: (_d, clean, addr, length) => clean(addr, length),
    pmemWmb: (d) => d.dsb('sy'),
    invalidatePmem: armInvalidate,
  },
  'rfc-2016': {
    synchronous: true, claimsWmbPmem: true,
    summary: 'the 2016 RFC as posted: plain copy, DC CVAU loop + DSB ISH, wmb_pmem is DSB ST',
    cleanOp: () => 'cvau',
    memcpyFlushcache: (d, dst, src) => d.store(dst, src),
    wbCachePmem: (d, clean, addr, length) => { clean(addr, length); d.dsb('ish'); },
    pmemWmb: (d) => d.dsb('st'),
    invalidatePmem: armInvalidate,
  },
  'rfc-2016-poc': {
    synchronous: true, claimsWmbPmem: false,
    summary: 'its revision: DC CIVAC / DC CVAC to the PoC + DSB SY; pmem_wmb is DSB ST',
    cleanOp: () => 'cvac',
    memcpyFlushcache: (d, dst, src) => {
      d.store(dst, src);
      forEachLine(dst, src.length, (line) => d.dcCivac(line));
      d.dsb('sy');
    },
    wbCachePmem: (d, clean, addr, length) => { clean(addr, length); d.dsb('sy'); },
    pmemWmb: (d) => d.dsb('st'),
    invalidatePmem: armInvalidate,
  },
  'pmdk-arm64-2020': {
    synchronous: false, claimsWmbPmem: true,
    summary: 'PMDK before 2021: DC CVAC per line, drain is DMB ISHST',
    cleanOp: () => 'cvac',
    memcpyFlushcache: (d, dst, src, clean) => { d.store(dst, src); clean(dst, src.length); },
    wbCachePmem: (_d, clean, addr, length) => clean(addr, length),
    pmemWmb: (d) => d.dmb('ishst'),
    invalidatePmem: armInvalidate,
  },
  'pmdk-arm64-2021': {
    synchronous: false, claimsWmbPmem: true,
    summary: 'PMDK after PR 5257: DC CVAP per line (DC CVAC without DCPOP), drain still DMB ISHST',
    cleanOp: cvapOrCvac,
    memcpyFlushcache: (d, dst, src, clean) => { d.store(dst, src); clean(dst, src.length); },
    wbCachePmem: (_d, clean, addr, length) => clean(addr, length),
    pmemWmb: (d) => d.dmb('ishst'),
    invalidatePmem: armInvalidate,
  },
  'linux-x86': {
    synchronous: false, claimsWmbPmem: true,
    summary: 'non-temporal copy, CLWB of unaligned edges; CLWB loop; pmem_wmb is SFENCE',
    cleanOp: () => 'clwb',
    memcpyFlushcache: (d, dst, src, clean) => {
      // Linux __memcpy_flushcache: cached stores + CLWB for the unaligned head and tail,
      // MOVNTI for the 8-byte-aligned body.
      const end = dst + src.length;
      const bodyStart = Math.min(end, Math.ceil(dst / WORD_BYTES) * WORD_BYTES);
      const bodyEnd = Math.max(bodyStart, Math.floor(end / WORD_BYTES) * WORD_BYTES);
      if (bodyStart > dst) { d.store(dst, src.subarray(0, bodyStart - dst)); clean(dst, bodyStart - dst); }
      if (bodyEnd > bodyStart) d.movnti(bodyStart, src.subarray(bodyStart - dst, bodyEnd - dst));
      if (end > bodyEnd) { d.store(bodyEnd, src.subarray(bodyEnd - dst)); clean(bodyEnd, end - bodyEnd); }
    },
    wbCachePmem: (_d, clean, addr, length) => clean(addr, length),
    // canary: smp_wmb() is only a compiler barrier on x86; wmb() is the SFENCE
    pmemWmb: (d) => { if (!canaryActive('x86-pmem-wmb-compiler-only')) d.sfence(); },
    invalidatePmem: (d, addr, length) => {
      d.mfence();
      forEachLine(addr, length, (line) => d.clflushopt(line));
      d.mfence();
    },
  },
};

export function isPmemApiName(name: string): name is PmemApiName {
  return (PMEM_API_NAMES as readonly string[]).includes(name);
}

export function pmemApiSummary(name: PmemApiName): string {
  return FLAVOURS[name].summary;
}

/** The flavour `name` bound to `device`. */
export function pmemApi(name: string, device: PmemDevice): PmemApi {
  if (!isPmemApiName(name)) {
    throw new RangeError(`unknown pmem API flavour '${name}' (expected one of: ${PMEM_API_NAMES.join(', ')})`);
  }
  const def = FLAVOURS[name];
  const clean = (addr: number, length: number): void => {
    if (length > 0) device.cleanEach(def.cleanOp(device), loopStart(addr), addr + length);
  };
  const api: PmemApi = {
    name,
    device,
    synchronous: def.synchronous,
    memcpyFlushcache: (dst, src) => def.memcpyFlushcache(device, dst, src, clean),
    wbCachePmem: (addr, length) => def.wbCachePmem(device, clean, addr, length),
    pmemWmb: () => def.pmemWmb(device),
    clearPmem: (addr, length) => {
      if (def.clearPmem !== undefined) return def.clearPmem(device, addr, length);
      device.store(addr, new Uint8Array(length));
      def.wbCachePmem(device, clean, addr, length);
    },
    invalidatePmem: (addr, length) => def.invalidatePmem(device, addr, length),
    nvdimmFlush: () => {
      def.pmemWmb(device);
      device.flushHint();
      if (device.profile.isa === 'arm') device.dsb('sy');
      else device.sfence();
    },
    hasWmbPmem: () => hasWmbPmem(name, device),
    claimsWmbPmem: () => def.claimsWmbPmem,
  };
  return api;
}

/** Each line that overlaps [addr, addr + length), the start rounded down to a line (the
 * flavours' `clean` walks the same addresses through `PmemDevice.cleanEach`). */
export function forEachLine(addr: number, length: number, visit: (lineAddr: number) => void): void {
  if (length <= 0) return;
  for (let at = loopStart(addr); at < addr + length; at += LINE_BYTES) visit(at);
}

/** Where a by-address loop over a range starting at `addr` begins: the start rounded down
 * to a line (canary: not rounded, so the last partial line can be missed). */
function loopStart(addr: number): number {
  return canaryActive('naive-flush-loop') ? addr : Math.floor(addr / LINE_BYTES) * LINE_BYTES;
}

const truthCache = new Map<string, boolean>();

/**
 * The truth, from the model: after a store flushed by `wbCachePmem` (or written by
 * `memcpyFlushcache`) and a `pmemWmb`, can a later store persist while the first is lost?
 */
function hasWmbPmem(name: PmemApiName, device: PmemDevice): boolean {
  const key = `${name}|${device.profile.name}|${device.granularity}|${device.eviction}|${device.strictDsb}`;
  const known = truthCache.get(key);
  if (known !== undefined) return known;
  const A = 0;
  const B = 4 * LINE_BYTES;
  const one = new Uint8Array(WORD_BYTES);
  one[0] = 1;
  const options = { granularity: device.granularity, eviction: device.eviction, strictDsb: device.strictDsb };
  const programs: Array<(cpu: PmemDevice) => void> = [
    (cpu) => { const p = pmemApi(name, cpu); cpu.store(A, one); p.wbCachePmem(A, WORD_BYTES); p.pmemWmb(); cpu.store(B, one); },
    (cpu) => { const p = pmemApi(name, cpu); p.memcpyFlushcache(A, one); p.pmemWmb(); cpu.store(B, one); },
  ];
  let truth = true;
  try {
    for (const program of programs) {
      if (reachableOutcomes(device.profile.name, program, [A, B], options).has('0,1')) truth = false;
    }
  } catch (err) {
    if (!(err instanceof UndefinedInstruction)) throw err;
    truth = false;
  }
  truthCache.set(key, truth);
  return truth;
}
