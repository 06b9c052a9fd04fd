import { reachableOutcomes } from '../../device/litmus';
import { pmemApi } from '../../device/pmem-api';
import { PmemDevice } from '../../device/device';
import { A, B, word } from '../../device/litmus-catalog';

/** The review that started the project: the 2016 RFC loses data on armv8.2, mainline does not. */
describe('2016 arm64 pmem RFC versus mainline on armv8.2', () => {
  const rfc = (cpu: PmemDevice) => {
    const api = pmemApi('rfc-2016', cpu);
    api.memcpyFlushcache(A, word(1));
    api.wbCachePmem(A, 8);
    api.pmemWmb();
    cpu.store(B, word(1));
  };
  const mainline = (cpu: PmemDevice) => {
    pmemApi('linux-arm64', cpu).memcpyFlushcache(A, word(1));
    cpu.store(B, word(1));
  };

  test('spec test 11: the RFC lets B persist while A is lost', () => {
    expect(reachableOutcomes('armv8.2', rfc, [A, B]).has('0,1')).toBe(true);
  });

  test('spec test 12: linux-arm64 never does', () => {
    const outcomes = reachableOutcomes('armv8.2', mainline, [A, B]);
    expect(outcomes.has('0,1')).toBe(false);
    expect([...outcomes].sort()).toEqual(['0,0', '1,0', '1,1']);
  });

  test('without eviction, A never persists at all: DC CVAU cleans nothing to the PoP', () => {
    const rfcThenFlushB = (cpu: PmemDevice) => {
      rfc(cpu);
      cpu.dcCvap(B);
      cpu.dsb('sy');
    };
    expect(reachableOutcomes('armv8.2', rfcThenFlushB, [A, B], { eviction: false })).toEqual(new Set(['0,0', '0,1']));
  });

  test('an error thrown by the program propagates', () => {
    expect(() => reachableOutcomes('x86-adr', rfc, [A, B])).toThrow(/undefined on x86-adr/);
  });
});
