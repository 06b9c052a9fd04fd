import { runMmapWorkload } from '../../crash/mmap';

/** Records persisted from user space through a DAX mapping: which drains keep their promise. */
describe('DAX mmap record-then-flag workloads', () => {
  test('DC CVAP per line + DSB SY never loses a record on armv8.2', () => {
    const r = runMmapWorkload('cvap-dsb', 'armv8.2', 6);
    expect(r.statesChecked).toBeGreaterThan(50);
    expect(r.firstLoss).toBeUndefined();
    expect(r.lostRecords).toBe(0);
  });

  test.each(['pmdk-arm64-2020', 'pmdk-arm64-2021'] as const)('%s (a DMB ISHST drain) loses records on armv8.2', (drain) => {
    const r = runMmapWorkload(drain, 'armv8.2', 6);
    console.log(`${drain} on armv8.2: ${r.lostRecords} of ${r.statesChecked} crash states lose a record; first: ${r.firstLoss}`);
    expect(r.lostRecords).toBeGreaterThan(0);
    expect(r.firstLoss).toMatch(/flag set but the record is (missing|partial)/);
  });

  test('CLWB + SFENCE never loses a record on x86-adr', () => {
    const r = runMmapWorkload('clwb-sfence', 'x86-adr', 6);
    expect(r.lostRecords).toBe(0);
    expect(r.statesChecked).toBeGreaterThan(50);
  });
});
