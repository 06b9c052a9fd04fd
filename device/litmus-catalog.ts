/**
 * The litmus catalogue: the sixteen tests of spec/persistence-model.md section 6, then tests
 * derived from its instruction table (DMB epochs, DC ZVA, DC IVAC, DC CIVAC, CLFLUSH,
 * CLFLUSHOPT, the eADR store buffer, the PoDP, the flush hint, strictDsb, and values never
 * invented). Each claim says, for some profiles, which outcomes must be reachable (R), which
 * must never appear (F), or that every outcome must lie in a given set, or that the program
 * must throw UndefinedInstruction. The catalogue is data; `checkClaim` runs the model.
 *
 * A, B, C: words in different lines; A.0 and A.1: two words of one line. All start at 0.
 */
import { WORD_BYTES } from '../core/limits';
import { PmemDevice, UndefinedInstruction } from './device';
import { LitmusOptions, reachableOutcomes } from './litmus';
import { pmemApi } from './pmem-api';
import { ProfileName } from './profiles';

export interface LitmusClaim {
  readonly profiles: readonly ProfileName[];
  readonly options?: LitmusOptions;
  readonly reachable?: readonly string[];
  readonly forbidden?: readonly string[];
  /** Every reached outcome lies in this set. */
  readonly only?: readonly string[];
  readonly throws?: boolean;
}

export interface LitmusTest {
  readonly id: string;
  readonly program: string;
  readonly observe: readonly number[];
  readonly run: (cpu: PmemDevice) => void;
  readonly claims: readonly LitmusClaim[];
}

export interface ClaimResult {
  readonly test: LitmusTest;
  readonly claim: LitmusClaim;
  readonly profile: ProfileName;
  readonly reached: readonly string[];
  readonly threw: boolean;
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  readonly ok: boolean;
}

export const A = 0;
export const A1 = 8;
export const B = 4096;
export const C = 8192;
const ARM: readonly ProfileName[] = ['armv8.2', 'armv8.0-adr', 'armv8.0', 'armv8.5'];
const X86: readonly ProfileName[] = ['x86-adr', 'x86-eadr'];
const ALL4 = ['0,0', '0,1', '1,0', '1,1'];

/** An 8-byte little-endian value. */
export function word(value: number | bigint): Uint8Array {
  const out = new Uint8Array(WORD_BYTES);
  let v = BigInt(value);
  for (let i = 0; i < WORD_BYTES; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

const ONES = 0x0101010101010101n.toString();

export const LITMUS_TESTS: readonly LitmusTest[] = [
  {
    id: '1', program: 'A=1; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.store(B, word(1)); },
    claims: [{ profiles: ARM, reachable: ALL4 }, { profiles: ['x86-adr'], reachable: ALL4 }],
  },
  {
    id: '2', program: 'A=1; DC CVAP A; DSB SY; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvap(A); c.dsb('sy'); c.store(B, word(1)); },
    claims: [
      { profiles: ['armv8.2', 'armv8.5'], forbidden: ['0,1'], reachable: ['0,0', '1,0', '1,1'] },
      { profiles: ['armv8.0-adr', 'armv8.0'], throws: true },
    ],
  },
  {
    id: '3', program: 'A=1; DC CVAC A; DSB SY; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvac(A); c.dsb('sy'); c.store(B, word(1)); },
    claims: [
      { profiles: ['armv8.0-adr'], forbidden: ['0,1'], reachable: ['0,0', '1,0', '1,1'] },
      { profiles: ['armv8.2', 'armv8.0'], reachable: ['0,1'] },
    ],
  },
  {
    id: '4', program: 'A=1; DC CVAU A; DSB ISH; B=1  (the RFC write-back)', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvau(A); c.dsb('ish'); c.store(B, word(1)); },
    claims: [{ profiles: ARM, reachable: ['0,1'] }],
  },
  {
    id: '5', program: 'A=1; DC CVAP A; B=1  (no barrier)', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvap(A); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.2'], reachable: ['0,1'] }],
  },
  {
    id: '6', program: 'A=1; DC CVAP A; DSB ST; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvap(A); c.dsb('st'); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.2'], reachable: ['0,1'] }],
  },
  {
    id: '7', program: 'A=1; DSB ST; B=1  (the RFC wmb)', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dsb('st'); c.store(B, word(1)); },
    claims: [{ profiles: ARM, reachable: ['0,1'] }],
  },
  {
    id: '8', program: 'A.0=1; A.1=1; DC CVAP A.0; DSB SY; B=1', observe: [A, A1, B],
    run: (c) => { c.store(A, word(1)); c.store(A1, word(1)); c.dcCvap(A); c.dsb('sy'); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.2'], forbidden: ['0,0,1', '0,1,1', '1,0,1'], reachable: ['1,1,1', '0,0,0', '1,0,0'] }],
  },
  {
    id: '9', program: 'A=1; DC CVAP A; DSB SY; B=1; A=2', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvap(A); c.dsb('sy'); c.store(B, word(1)); c.store(A, word(2)); },
    claims: [{ profiles: ['armv8.2'], forbidden: ['0,1'], reachable: ['1,1', '2,1', '2,0'] }],
  },
  {
    id: '10', program: '100-byte copy to 60; for p=60; p<160; p+=64: DC CVAP p; DSB SY; B=1', observe: [128, B],
    run: (c) => {
      c.store(60, new Uint8Array(100).fill(1));
      for (let p = 60; p < 160; p += 64) c.dcCvap(p);
      c.dsb('sy');
      c.store(B, word(1));
    },
    claims: [{ profiles: ['armv8.2'], reachable: ['0,1', `${ONES},1`] }],
  },
  {
    id: '10r', program: 'as 10, the loop starting at the line of 60 (p=0)', observe: [128, B],
    run: (c) => {
      c.store(60, new Uint8Array(100).fill(1));
      for (let p = 0; p < 160; p += 64) c.dcCvap(p);
      c.dsb('sy');
      c.store(B, word(1));
    },
    claims: [{ profiles: ['armv8.2'], forbidden: ['0,1'], reachable: [`${ONES},1`] }],
  },
  {
    id: '11', program: 'rfc-2016: memcpyFlushcache(A); wbCachePmem(A); pmemWmb; B=1', observe: [A, B],
    run: (c) => {
      const api = pmemApi('rfc-2016', c);
      api.memcpyFlushcache(A, word(1));
      api.wbCachePmem(A, WORD_BYTES);
      api.pmemWmb();
      c.store(B, word(1));
    },
    claims: [{ profiles: ARM, reachable: ['0,1'] }],
  },
  {
    id: '12', program: 'linux-arm64: memcpyFlushcache(A); B=1', observe: [A, B],
    run: (c) => { pmemApi('linux-arm64', c).memcpyFlushcache(A, word(1)); c.store(B, word(1)); },
    claims: [
      { profiles: ['armv8.2', 'armv8.0-adr'], forbidden: ['0,1'], reachable: ['0,0', '1,0', '1,1'] },
      { profiles: ['armv8.0'], reachable: ['0,1'] },
    ],
  },
  {
    id: '12h', program: 'linux-arm64: memcpyFlushcache(A); nvdimmFlush (hint + DSB SY); B=1', observe: [A, B],
    run: (c) => {
      const api = pmemApi('linux-arm64', c);
      api.memcpyFlushcache(A, word(1));
      api.nvdimmFlush();
      c.store(B, word(1));
    },
    claims: [{ profiles: ['armv8.0', 'armv8.2', 'armv8.0-adr'], forbidden: ['0,1'], reachable: ['1,1'] }],
  },
  {
    id: '13', program: 'x86: A=1; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.store(B, word(1)); },
    claims: [
      { profiles: ['x86-adr'], reachable: ALL4 },
      { profiles: ['x86-eadr'], forbidden: ['0,1'], reachable: ['0,0', '1,0', '1,1'] },
    ],
  },
  {
    id: '14', program: 'x86: A=1; CLWB A; SFENCE; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.clwb(A); c.sfence(); c.store(B, word(1)); },
    claims: [{ profiles: ['x86-adr'], forbidden: ['0,1'], reachable: ['0,0', '1,0', '1,1'] }],
  },
  {
    id: '15a', program: 'x86: MOVNTI A=1; B=1', observe: [A, B],
    run: (c) => { c.movnti(A, word(1)); c.store(B, word(1)); },
    claims: [{ profiles: ['x86-adr', 'x86-eadr'], reachable: ['0,1'] }],
  },
  {
    id: '15b', program: 'x86: MOVNTI A=1; SFENCE; B=1', observe: [A, B],
    run: (c) => { c.movnti(A, word(1)); c.sfence(); c.store(B, word(1)); },
    claims: [{ profiles: ['x86-adr', 'x86-eadr'], forbidden: ['0,1'], reachable: ['1,1'] }],
  },
  {
    id: '16', program: 'A=1; r=load A; C=r  (a load sees the coherent value)', observe: [C],
    run: (c) => { c.store(A, word(1)); c.store(C, c.load(A, WORD_BYTES)); },
    claims: [{ profiles: [...ARM, ...X86], reachable: ['1'] }],
  },
  // ---- derived from the instruction table
  {
    id: 'dmb-epoch', program: 'A=1; B=1; DC CVAP A; DMB SY; DC CVAP B  (no DSB; eviction off)', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.store(B, word(1)); c.dcCvap(A); c.dmb('sy'); c.dcCvap(B); },
    claims: [{ profiles: ['armv8.2'], options: { eviction: false }, forbidden: ['0,1'], reachable: ['0,0', '1,0', '1,1'] }],
  },
  {
    id: 'dmb-st-epoch', program: 'A=1; B=1; DC CVAP A; DMB ST; DC CVAP B  (eviction off)', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.store(B, word(1)); c.dcCvap(A); c.dmb('st'); c.dcCvap(B); },
    claims: [{ profiles: ['armv8.2'], options: { eviction: false }, reachable: ALL4 }],
  },
  {
    id: 'no-evict', program: 'A=1; B=1  (eviction off: nothing unflushed persists)', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.2', 'x86-adr'], options: { eviction: false }, only: ['0,0'] }],
  },
  {
    id: 'zva-store', program: 'A=1; DC CVAP A; DSB SY; DC ZVA A; B=1  (ZVA is a store)', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvap(A); c.dsb('sy'); c.dcZva(A); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.2'], reachable: ['1,1', '0,1', '1,0', '0,0'] }],
  },
  {
    id: 'zva-persist', program: 'A=1; DC CVAP A; DSB SY; DC ZVA A; DC CVAP A; DSB SY; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvap(A); c.dsb('sy'); c.dcZva(A); c.dcCvap(A); c.dsb('sy'); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.2'], forbidden: ['1,1'], reachable: ['0,1'] }],
  },
  {
    id: 'ivac-load', program: 'A=1; DC IVAC A; r=load A; C=r+10  (both IVAC choices)', observe: [C],
    run: (c) => {
      c.store(A, word(1));
      c.dcIvac(A);
      const r = c.load(A, WORD_BYTES);
      c.store(C, word(r[0] + 10));
    },
    claims: [{ profiles: ['armv8.2'], reachable: ['10', '11'], only: ['0', '10', '11'] }],
  },
  {
    id: 'ivac-discard', program: 'A=1; DC CVAP A; DSB SY; A=2; DC IVAC A; DC CVAP A; DSB SY; B=1', observe: [A, B],
    run: (c) => {
      c.store(A, word(1)); c.dcCvap(A); c.dsb('sy');
      c.store(A, word(2)); c.dcIvac(A); c.dcCvap(A); c.dsb('sy');
      c.store(B, word(1));
    },
    claims: [{ profiles: ['armv8.2'], forbidden: ['0,1'], reachable: ['1,1', '2,1'] }],
  },
  {
    id: 'civac', program: 'A=1; DC CIVAC A; DSB SY; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCivac(A); c.dsb('sy'); c.store(B, word(1)); },
    claims: [
      { profiles: ['armv8.0-adr'], forbidden: ['0,1'], reachable: ['1,1'] },
      { profiles: ['armv8.2', 'armv8.0'], reachable: ['0,1'] },
    ],
  },
  {
    id: 'hint-poc', program: 'A=1; DC CVAC A; DSB SY; flush hint; DSB SY; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvac(A); c.dsb('sy'); c.flushHint(); c.dsb('sy'); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.0', 'armv8.2'], forbidden: ['0,1'], reachable: ['1,1'] }],
  },
  {
    id: 'hint-no-dsb', program: 'A=1; DC CVAC A; DSB SY; flush hint; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvac(A); c.dsb('sy'); c.flushHint(); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.0'], reachable: ['0,1'] }],
  },
  {
    id: 'dsb-ish', program: 'A=1; DC CVAP A; DSB ISH; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvap(A); c.dsb('ish'); c.store(B, word(1)); },
    claims: [
      { profiles: ['armv8.2'], reachable: ['0,1'] },
      { profiles: ['armv8.2'], options: { strictDsb: false }, forbidden: ['0,1'], reachable: ['1,1'] },
    ],
  },
  {
    id: 'clflush', program: 'x86: A=1; CLFLUSH A; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.clflush(A); c.store(B, word(1)); },
    claims: [{ profiles: ['x86-adr', 'x86-eadr'], forbidden: ['0,1'], reachable: ['1,1', '1,0'] }],
  },
  {
    id: 'clflushopt', program: 'x86: A=1; CLFLUSHOPT A; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.clflushopt(A); c.store(B, word(1)); },
    claims: [{ profiles: ['x86-adr'], reachable: ['0,1'] }],
  },
  {
    id: 'clflushopt-fence', program: 'x86: A=1; CLFLUSHOPT A; SFENCE; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.clflushopt(A); c.sfence(); c.store(B, word(1)); },
    claims: [{ profiles: ['x86-adr'], forbidden: ['0,1'], reachable: ['1,1'] }],
  },
  {
    id: 'eadr-prefix', program: 'x86: A=1; B=1; C=1  (eADR: a prefix of the store buffer)', observe: [A, B, C],
    run: (c) => { c.store(A, word(1)); c.store(B, word(1)); c.store(C, word(1)); },
    claims: [
      { profiles: ['x86-eadr'], only: ['0,0,0', '1,0,0', '1,1,0', '1,1,1'], reachable: ['0,0,0', '1,0,0', '1,1,0', '1,1,1'] },
      { profiles: ['x86-adr'], reachable: ['0,1,0', '1,0,1'] },
    ],
  },
  {
    id: 'eadr-fence', program: 'x86: A=1; SFENCE; B=1', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.sfence(); c.store(B, word(1)); },
    claims: [{ profiles: ['x86-eadr'], forbidden: ['0,1'], reachable: ['0,0', '1,0', '1,1'] }, { profiles: ['x86-adr'], reachable: ['0,1'] }],
  },
  {
    id: 'podp', program: 'armv8.5: A=1; DC CVAP A; DSB SY; B=1; DC CVADP B; DSB SY', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvap(A); c.dsb('sy'); c.store(B, word(1)); c.dcCvadp(B); c.dsb('sy'); },
    claims: [
      { profiles: ['armv8.5'], options: { crashKind: 'instantaneous' }, reachable: ['0,1'] },
      { profiles: ['armv8.5'], forbidden: ['0,1'], reachable: ['1,1'] },
      { profiles: ['armv8.2', 'armv8.0-adr', 'armv8.0'], throws: true },
    ],
  },
  {
    id: 'podp-cvadp', program: 'armv8.5: A=1; DC CVADP A; DSB SY; B=1  (instantaneous crash)', observe: [A, B],
    run: (c) => { c.store(A, word(1)); c.dcCvadp(A); c.dsb('sy'); c.store(B, word(1)); },
    claims: [{ profiles: ['armv8.5'], options: { crashKind: 'instantaneous' }, forbidden: ['0,1'], reachable: ['1,1', '1,0'] }],
  },
  {
    id: 'pcommit', program: 'x86: PCOMMIT', observe: [A],
    run: (c) => { c.pcommit(); },
    claims: [{ profiles: X86, throws: true }],
  },
  {
    id: 'no-invention', program: 'store 0x2222222211111111 0x44444444_33333333 across A.0..A.1 at A+4 (misaligned, word gran.)',
    observe: [A, A1],
    run: (c) => { c.store(A + 4, new Uint8Array([0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22])); },
    claims: [{
      profiles: ['armv8.2'],
      only: ['0,0', `${0x1111111100000000n},0`, `0,${0x22222222n}`, `${0x1111111100000000n},${0x22222222n}`],
      reachable: ['0,0', `${0x1111111100000000n},0`, `0,${0x22222222n}`, `${0x1111111100000000n},${0x22222222n}`],
    }],
  },
  {
    id: 'line-prefix', program: 'x86: one 16-byte store to A.0..A.1 (a line keeps a prefix of its pieces)', observe: [A, A1],
    run: (c) => { c.store(A, new Uint8Array(16).fill(1)); },
    claims: [{ profiles: ['x86-adr'], only: ['0,0', `${ONES},0`, `${ONES},${ONES}`], reachable: ['0,0', `${ONES},0`, `${ONES},${ONES}`] }],
  },
  {
    id: 'arm-on-x86', program: 'DC CVAC A on x86 / CLWB A on Arm', observe: [A],
    run: (c) => { if (c.profile.isa === 'x86') c.dcCvac(A); else c.clwb(A); },
    claims: [{ profiles: [...ARM, ...X86], throws: true }],
  },
];

/** Run one claim of a test on one profile. */
export function checkClaim(test: LitmusTest, claim: LitmusClaim, profile: ProfileName): ClaimResult {
  let reached: string[] = [];
  let threw = false;
  try {
    reached = [...reachableOutcomes(profile, test.run, [...test.observe], claim.options)].sort();
  } catch (err) {
    if (!(err instanceof UndefinedInstruction)) throw err;
    threw = true;
  }
  const set = new Set(reached);
  const missing = threw ? [] : (claim.reachable ?? []).filter((o) => !set.has(o));
  const unexpected = threw ? [] : [
    ...(claim.forbidden ?? []).filter((o) => set.has(o)),
    ...(claim.only ? reached.filter((o) => !(claim.only as readonly string[]).includes(o)) : []),
  ];
  const ok = threw === Boolean(claim.throws) && missing.length === 0 && unexpected.length === 0;
  return { test, claim, profile, reached, threw, missing, unexpected, ok };
}

/** Every claim of the catalogue on every profile it names (optionally one profile). */
export function runCatalogue(profile?: ProfileName): ClaimResult[] {
  const results: ClaimResult[] = [];
  for (const test of LITMUS_TESTS) {
    for (const claim of test.claims) {
      for (const p of claim.profiles) if (profile === undefined || p === profile) results.push(checkClaim(test, claim, p));
    }
  }
  return results;
}
