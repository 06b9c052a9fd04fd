import { PmemDevice, UndefinedInstruction } from '../../device/device';
import { PMEM_API_NAMES, PmemApiName, pmemApi } from '../../device/pmem-api';
import { PROFILE_NAMES, ProfileName } from '../../device/profiles';
import { word } from '../../device/litmus-catalog';

const MiB = 1 << 20;
const dev = (profile: ProfileName, extra = {}) => new PmemDevice({ sizeBytes: MiB, profile, ...extra });

/** spec/persistence-model.md section 5: "persists" (true) or not, per flavour and profile. */
const PERSISTS: Record<PmemApiName, Record<ProfileName, boolean>> = {
  'linux-arm64': { 'armv8.2': true, 'armv8.5': true, 'armv8.0-adr': true, 'armv8.0': false, 'x86-adr': false, 'x86-eadr': false },
  'linux-arm64-nosync': { 'armv8.2': true, 'armv8.5': true, 'armv8.0-adr': true, 'armv8.0': false, 'x86-adr': false, 'x86-eadr': false },
  'rfc-2016': { 'armv8.2': false, 'armv8.5': false, 'armv8.0-adr': false, 'armv8.0': false, 'x86-adr': false, 'x86-eadr': false },
  'rfc-2016-poc': { 'armv8.2': false, 'armv8.5': false, 'armv8.0-adr': true, 'armv8.0': false, 'x86-adr': false, 'x86-eadr': false },
  'pmdk-arm64-2020': { 'armv8.2': false, 'armv8.5': false, 'armv8.0-adr': false, 'armv8.0': false, 'x86-adr': false, 'x86-eadr': false },
  'pmdk-arm64-2021': { 'armv8.2': false, 'armv8.5': false, 'armv8.0-adr': false, 'armv8.0': false, 'x86-adr': false, 'x86-eadr': false },
  'linux-x86': { 'armv8.2': false, 'armv8.5': false, 'armv8.0-adr': false, 'armv8.0': false, 'x86-adr': true, 'x86-eadr': true },
};

describe('hasWmbPmem tells the truth the model finds', () => {
  for (const name of PMEM_API_NAMES) {
    test.each(PROFILE_NAMES.map((p) => [p]))(`${name} on %s`, (profile) => {
      expect(pmemApi(name, dev(profile)).hasWmbPmem()).toBe(PERSISTS[name][profile]);
    });
  }

  test('with strictDsb off, the 2016 RFC still loses (DC CVAU cleans nothing)', () => {
    expect(pmemApi('rfc-2016', dev('armv8.2', { strictDsb: false })).hasWmbPmem()).toBe(false);
  });

  test('what the flavours claim: the RFC claimed durability, its PoC revision did not', () => {
    expect(pmemApi('rfc-2016', dev('armv8.2')).claimsWmbPmem()).toBe(true);
    expect(pmemApi('rfc-2016-poc', dev('armv8.2')).claimsWmbPmem()).toBe(false);
  });

  test('synchronous flavours complete before returning; asynchronous ones at pmemWmb', () => {
    expect(pmemApi('linux-arm64', dev('armv8.2')).synchronous).toBe(true);
    expect(pmemApi('linux-arm64-nosync', dev('armv8.2')).synchronous).toBe(false);
    expect(pmemApi('linux-x86', dev('x86-adr')).synchronous).toBe(false);
  });
});

describe('flavour instruction sequences', () => {
  const kinds = (d: PmemDevice) => d.trace!.slice().map((e) => (e.op ? `${e.kind}.${e.op}` : e.kind));

  test('linux-arm64 memcpyFlushcache: copy, DC CVAP over every line, DSB SY', () => {
    const d = dev('armv8.2');
    pmemApi('linux-arm64', d).memcpyFlushcache(60, new Uint8Array(100).fill(1));
    expect(kinds(d)).toEqual(['store', 'dc.cvap', 'dc.cvap', 'dc.cvap', 'dsb.sy']);
    expect(d.lines.size).toBe(0);
  });

  test('linux-arm64 falls back to DC CVAC without DCPOP', () => {
    const d = dev('armv8.0-adr');
    pmemApi('linux-arm64', d).wbCachePmem(0, 64);
    expect(kinds(d)).toEqual(['dmb.osh', 'dc.cvac', 'dsb.sy']);
  });

  test('wbCachePmem rounds its start down to a line', () => {
    const d = dev('armv8.2');
    pmemApi('linux-arm64-nosync', d).wbCachePmem(127, 2);
    expect(d.trace!.slice().map((e) => e.addr)).toEqual([64, 128]);
  });

  test('the 2016 RFC cleans to the PoU and waits with DSB ISH', () => {
    const d = dev('armv8.2');
    const api = pmemApi('rfc-2016', d);
    api.memcpyFlushcache(0, word(1));
    api.wbCachePmem(0, 8);
    api.pmemWmb();
    expect(kinds(d)).toEqual(['store', 'dc.cvau', 'dsb.ish', 'dsb.st']);
    expect(d.lines.size).toBe(1); // nothing persisted
  });

  test('linux-x86 copies the aligned body with MOVNTI and cleans the unaligned edges', () => {
    const d = dev('x86-adr');
    pmemApi('linux-x86', d).memcpyFlushcache(3, new Uint8Array(30).fill(2));
    expect(kinds(d)).toEqual(['store', 'clwb', 'movnti', 'store', 'clwb']);
    pmemApi('linux-x86', d).pmemWmb();
    expect(d.lines.size).toBe(0);
  });

  test('nvdimmFlush is pmemWmb, the flush hint, then a full barrier', () => {
    const d = dev('armv8.2');
    pmemApi('linux-arm64', d).nvdimmFlush();
    expect(kinds(d)).toEqual(['dsb.st', 'hint', 'dsb.sy']);
  });

  test('clearPmem zeroes and writes back', () => {
    const d = dev('armv8.2');
    d.store(0, new Uint8Array(128).fill(7));
    pmemApi('linux-arm64', d).clearPmem(0, 128);
    expect([...d.load(0, 128)].every((b) => b === 0)).toBe(true);
    expect(d.lines.size).toBe(0);
  });

  test('a flavour on the other ISA throws UndefinedInstruction', () => {
    expect(() => pmemApi('linux-x86', dev('armv8.2')).wbCachePmem(0, 64)).toThrow(UndefinedInstruction);
    expect(() => pmemApi('linux-arm64', dev('x86-adr')).pmemWmb()).toThrow(UndefinedInstruction);
  });

  test('an unknown flavour is refused with the list of names', () => {
    expect(() => pmemApi('linux-riscv', dev('armv8.2'))).toThrow(/unknown pmem API flavour 'linux-riscv'.*linux-arm64/);
  });
});
