/**
 * The cost model: simulated nanoseconds per instruction, one constant per kind, so flush
 * policies and pmem API flavours can be compared by what their barriers and cleans would
 * cost on real hardware. The figures are order-of-magnitude estimates, not measurements of
 * any one machine; what matters for a comparison is that every policy pays the same prices.
 *
 * Where the figures come from:
 * - cached stores: about one cycle per 8-byte store at 2-3 GHz (0.4 ns), rounded up to 1 ns
 *   per 8 bytes to include the store-buffer traffic of a copy loop;
 * - a clean (DC CVAC / CVAP / CIVAC / CVADP, CLWB, CLFLUSHOPT) issues in a few cycles and
 *   overlaps with others until a barrier waits for it: 5 ns to issue;
 * - a barrier that waits for cleans (DSB SY, SFENCE, MFENCE) pays one persistent-memory
 *   write latency, about 90 ns for Optane DC PMM (Izraelevitz et al., "Basic Performance
 *   Measurements of the Intel Optane DC Persistent Memory Module", 2019), plus the media
 *   bandwidth for each line it completes: about 2.3 GB/s per DIMM for writes, so 28 ns per
 *   64-byte line;
 * - a barrier that waits for nothing costs a pipeline drain: 20 ns (DSB), 10 ns (DMB);
 * - CLFLUSH is serialising and invalidates: about 100 ns;
 * - the flush-hint write is an uncached MMIO write that drains the memory controller's
 *   write-pending queue: about 200 ns;
 * - a non-temporal store: 1 ns per 8 bytes, like a cached store (it is paid at the fence).
 */
export const COST_NANOS = Object.freeze({
  storePer8Bytes: 1,
  cleanIssue: 5,
  clflush: 100,
  dmb: 10,
  idleBarrier: 20,
  persistLatency: 90,
  persistPerLine: 28,
  flushHint: 200,
});

/** A barrier that completed `lines` pending cleans (or non-temporal stores). */
export function barrierNanos(lines: number): number {
  return lines === 0 ? COST_NANOS.idleBarrier : COST_NANOS.persistLatency + lines * COST_NANOS.persistPerLine;
}

export function storeNanos(bytes: number): number {
  return Math.ceil(bytes / 8) * COST_NANOS.storePer8Bytes;
}

/**
 * `sum` after `n` additions of `each`, one at a time, as a loop of instructions makes them
 * (each rounded, in float). When `sum`, `each`, `n`, `n * each` and `sum + n * each` are
 * safe integers and `each` and `n` are not negative, every partial sum is an integer between
 * `sum` and that total, so every addition is exact and the loop's result is that total (the
 * product and the one sum are exact too, safe integers made of safe integers). The prices
 * above are whole nanoseconds, so a device's `costNanos` stays on that path (a one-step
 * clean loop adds its cleans' issue cost this way); any other case takes the loop.
 * test/device/cost.test.ts holds it to the loop.
 */
export function addRepeated(sum: number, each: number, n: number): number {
  if (n === 0) return sum; // -0 stays -0, as no addition leaves it
  const added = n * each;
  const total = sum + added;
  if (Number.isSafeInteger(sum) && each >= 0 && n >= 0 && Number.isSafeInteger(each) && Number.isSafeInteger(n) && Number.isSafeInteger(added) && Number.isSafeInteger(total)) return total;
  let out = sum;
  for (let i = 0; i < n; i++) out += each;
  return out;
}
