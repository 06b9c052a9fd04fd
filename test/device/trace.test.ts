/**
 * The event trace's storage (entries, each an event or a clean loop's run of events, in
 * blocks of columns kept as a line plus residuals, widened on demand) gives back every event
 * exactly as recorded: held to a plain array of the same events on seeded random streams
 * that mix runs on a line, small and large steps, values off any line (-0, fractions, NaN,
 * beyond 2^31 and 2^53), markers, runs of any length, and block boundaries, read in order,
 * backwards and at random.
 */
import { EVENT_KINDS, EVENT_OPS, EventKind, EventTrace, kindCode, opCode } from '../../device/trace';
import { Rng } from '../../core/rng';

interface Plain {
  kind: EventKind;
  op: string;
  instruction: number;
  addr: number;
  length: number;
  ref: number;
  detail: number;
}

/** Addresses a clean loop may start from, small and past 2^31 and 2^51. */
const LINE_ADDRS = [0, 64, 4096 * 7, 2 ** 31 - 64, 2 ** 31, 2 ** 40, 2 ** 51 - 64 * 10, 2 ** 52];

const ODD_VALUES = [-0, 0.5, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 2 ** 31 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 52), Number.MAX_SAFE_INTEGER, 1e300, -1];

/** A field's next value: mostly on a walk (the device's common case), sometimes a jump of
 * any width, sometimes an odd value. */
function nextValue(rng: Rng, previous: number, step: number): number {
  const r = rng.below(100);
  if (r < 60) return Number.isFinite(previous) ? previous + step : step;
  if (r < 70) return rng.below(200) - 100;
  if (r < 80) return rng.below(1 << 20) - (1 << 19);
  if (r < 88) return rng.below(2 ** 31) * 4;
  if (r < 95) return ODD_VALUES[rng.below(ODD_VALUES.length)];
  return previous;
}

function randomStream(seed: string, n: number): Plain[] {
  const rng = Rng.fromSeed(seed);
  const out: Plain[] = [];
  let last: Plain = { kind: 'store', op: '', instruction: 0, addr: 0, length: 64, ref: 1, detail: 1 };
  for (let i = 0; i < n; i++) {
    const calm = rng.below(4) !== 0; // long stretches where every field walks
    const kind: EventKind = calm ? last.kind : EVENT_KINDS[rng.below(EVENT_KINDS.length)];
    const e: Plain = {
      kind,
      op: calm ? last.op : EVENT_OPS[rng.below(EVENT_OPS.length)],
      instruction: calm ? last.instruction + 1 : kind === 'mark' ? -1 : nextValue(rng, last.instruction, 1),
      addr: calm ? last.addr + 64 : nextValue(rng, last.addr, 64),
      length: calm ? last.length : nextValue(rng, last.length, 0),
      ref: calm ? last.ref + 1 : nextValue(rng, last.ref, 1),
      detail: calm ? last.detail + 1 : nextValue(rng, last.detail, 1),
    };
    out.push(e);
    last = e;
  }
  return out;
}

/** Object.is, as a plain throw: a Jest expect per field of thousands of events costs seconds a test. */
function expectSame(actual: number | string, expected: number | string, what: string): void {
  if (!Object.is(actual, expected)) throw new Error(`${what}: read ${actual}, recorded ${expected}`);
}

describe('EventTrace storage', () => {
  test.each(['a', 'b', 'c', 'd'])('seed %s: every event reads back exactly (Object.is), by get and by slice', (seed) => {
    const plain = randomStream(`trace/${seed}`, 3000);
    const trace = new EventTrace();
    for (const e of plain) trace.record(e.kind, e.op, e.instruction, e.addr, e.length, e.ref, e.detail);
    expect(trace.length).toBe(plain.length);
    const sliced = trace.slice();
    for (let i = 0; i < plain.length; i++) {
      for (const got of [trace.get(i), sliced[i]]) {
        const want = plain[i];
        expectSame(got.index, i, `event ${i} index`);
        expectSame(got.kind, want.kind, `event ${i} kind`);
        expectSame(got.op, want.op, `event ${i} op`);
        for (const field of ['instruction', 'addr', 'length', 'ref', 'detail'] as const) expectSame(got[field], want[field], `event ${i} ${field}`);
      }
    }
  });

  test('a block whose fields all walk in steps reads back exactly, and one off-line value does not disturb the rest', () => {
    const trace = new EventTrace();
    for (let i = 0; i < 600; i++) trace.record('dc', 'cvap', 1000 + i, i === 300 ? -0 : i * 64, 64, i === 301 ? 2 ** 40 : 7 + i, 3 * i);
    for (let i = 0; i < 600; i++) {
      const e = trace.get(i);
      expectSame(e.instruction, 1000 + i, `instruction ${i}`);
      expectSame(e.addr, i === 300 ? -0 : i * 64, `addr ${i}`);
      expectSame(e.length, 64, `length ${i}`);
      expectSame(e.ref, i === 301 ? 2 ** 40 : 7 + i, `ref ${i}`);
      expectSame(e.detail, 3 * i, `detail ${i}`);
    }
  });

  test.each(['e', 'f', 'g'])('seed %s: recordSteps records what recordCoded would, event by event, wherever a block starts', (seed) => {
    const rng = Rng.fromSeed(`steps/${seed}`);
    const stepped = new EventTrace(5000);
    const single = new EventTrace(5000);
    const both = (fn: (t: EventTrace) => void): void => { fn(stepped); fn(single); };
    while (single.length < 4000) {
      const r = rng.below(10);
      if (r < 6) {
        const n = 1 + rng.below(r < 3 ? 8 : 300);
        const v = [rng.below(1 << 20), LINE_ADDRS[rng.below(LINE_ADDRS.length)], rng.below(1 << 16), rng.below(1 << 20)];
        const addrStep = rng.below(4) === 0 ? -64 : 64;
        stepped.recordSteps(2, 3, v[0], v[1], addrStep, 64, v[2], v[3], n);
        for (let j = 0; j < n; j++) single.recordCoded(2, 3, v[0] + j, v[1] + addrStep * j, 64, v[2] + j, v[3] + j);
      } else {
        const e = randomStream(`steps/${seed}/${single.length}`, 1 + rng.below(5));
        both((t) => { for (const x of e) t.record(x.kind, x.op, x.instruction, x.addr, x.length, x.ref, x.detail); });
      }
    }
    expect(stepped.length).toBe(single.length);
    for (let i = 0; i < single.length; i++) {
      const a = stepped.get(i);
      const b = single.get(i);
      for (const field of ['instruction', 'addr', 'length', 'ref', 'detail'] as const) expectSame(a[field], b[field], `event ${i} ${field}`);
      expectSame(a.kind, b.kind, `event ${i} kind`);
      expectSame(a.op, b.op, `event ${i} op`);
    }
    // a loop that starts on its block's line and leaves it (the same first value, another step)
    const turn = new EventTrace();
    turn.recordCoded(2, 3, 0, 0, 64, 0, 0);
    turn.recordCoded(2, 3, 2, 128, 64, 2, 2);
    turn.recordSteps(2, 3, 4, 256, 64, 64, 4, 4, 10);
    expect(turn.slice().map((e) => [e.instruction, e.addr, e.ref])).toEqual([[0, 0, 0], [2, 128, 2], ...Array.from({ length: 10 }, (_, j) => [4 + j, 256 + 64 * j, 4 + j])]);
    const full = new EventTrace(300);
    for (let i = 0; i < 290; i++) full.record('dmb', 'sy', i, 0, 0, -1, 0);
    expect(() => full.recordSteps(2, 3, 290, 0, 64, 64, 0, 0, 20)).toThrow(/limit of 300 events/);
    expect(full.length).toBe(300);
  });

  test.each(['h', 'i'])('seed %s: a trace of runs and single events reads back the same in any order, and its newest event while it grows', (seed) => {
    const rng = Rng.fromSeed(`order/${seed}`);
    const trace = new EventTrace(20000);
    const plain: Plain[] = [];
    while (plain.length < 12000) {
      if (rng.below(3) === 0) {
        const e = randomStream(`order/${seed}/${plain.length}`, 1 + rng.below(4));
        for (const x of e) trace.record(x.kind, x.op, x.instruction, x.addr, x.length, x.ref, x.detail);
        plain.push(...e);
      } else {
        const n = 1 + rng.below(rng.below(2) === 0 ? 3 : 200);
        const v = [rng.below(1 << 20), LINE_ADDRS[rng.below(LINE_ADDRS.length)], rng.below(1 << 16), rng.below(1 << 20)];
        const addrStep = [64, -64, 4096, 0][rng.below(4)];
        trace.recordSteps(kindCode('dc'), opCode('cvac'), v[0], v[1], addrStep, 64, v[2], v[3], n);
        for (let j = 0; j < n; j++) plain.push({ kind: 'dc', op: 'cvac', instruction: v[0] + j, addr: v[1] + addrStep * j, length: 64, ref: v[2] + j, detail: v[3] + j });
      }
      // the crash engine's question at every instruction: the newest event
      const newest = trace.get(trace.length - 1);
      expectSame(newest.addr, plain[plain.length - 1].addr, `newest event ${trace.length - 1} addr`);
    }
    expect(trace.length).toBe(plain.length);
    const order = [
      ...Array.from({ length: plain.length }, (_, i) => plain.length - 1 - i),
      ...Array.from({ length: 4000 }, () => rng.below(plain.length)),
    ];
    for (const i of order) {
      const got = trace.get(i);
      const want = plain[i];
      expectSame(got.index, i, `event ${i} index`);
      if (got.kind !== want.kind || got.op !== want.op) throw new Error(`event ${i}: read ${got.kind} ${got.op}, recorded ${want.kind} ${want.op}`);
      for (const field of ['instruction', 'addr', 'length', 'ref', 'detail'] as const) expectSame(got[field], want[field], `event ${i} ${field}`);
    }
  });

  test('markers keep their label and data; the limit still holds at a block boundary and inside one', () => {
    const trace = new EventTrace(300);
    trace.record('store', '', 0, 0, 8, 1, 1);
    trace.mark(1, 'op', { n: 1 });
    expect(trace.get(1)).toEqual({ index: 1, instruction: -1, kind: 'mark', op: '', addr: 0, length: 0, ref: 1, detail: 0, label: 'op', data: { n: 1 } });
    for (let i = 2; i < 300; i++) trace.record('dmb', 'sy', i, 0, 0, -1, 0);
    expect(() => trace.record('dmb', 'sy', 300, 0, 0, -1, 0)).toThrow(/limit of 300 events/);
    expect(trace.length).toBe(300);
    expect(() => new EventTrace(256).slice()).not.toThrow();
    const full = new EventTrace(256);
    for (let i = 0; i < 256; i++) full.record('dmb', 'sy', i, 0, 0, -1, 0);
    expect(() => full.record('dmb', 'sy', 256, 0, 0, -1, 0)).toThrow(/limit of 256 events/);
  });
});
