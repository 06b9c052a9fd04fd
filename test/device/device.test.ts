import { PmemDevice, PowerFailure, UndefinedInstruction } from '../../device/device';
import { ProfileName } from '../../device/profiles';
import { word } from '../../device/litmus-catalog';
import { ReadTrace } from '../../device/read-trace';

const MiB = 1 << 20;

function small(profile: ProfileName = 'armv8.2', extra: Partial<ConstructorParameters<typeof PmemDevice>[0]> = {}): PmemDevice {
  return new PmemDevice({ sizeBytes: MiB, profile, ...extra });
}

describe('PmemDevice: coherent loads and stores', () => {
  test('a load returns the newest store, never the persisted value', () => {
    const d = small();
    d.store(100, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    d.store(104, Uint8Array.from([0xaa, 0xbb]));
    expect([...d.load(100, 10)]).toEqual([1, 2, 3, 4, 0xaa, 0xbb, 7, 8, 9, 10]);
    // nothing was cleaned: the persisted media still holds zeros there
    expect([...d.guaranteedMedia().readPage(0)!.subarray(100, 110)]).toEqual(new Array(10).fill(0));
  });

  test('loadIsZero agrees with a load, on untouched pages, stored zeros and a byte at either end, across pages', () => {
    const d = small();
    const zero = (addr: number, length: number) => d.load(addr, length).every((b) => b === 0);
    const ranges: Array<[number, number]> = [[0, 4096], [4000, 200], [8191, 2], [4096, 8192], [12288, 1], [0, 3 * 4096]];
    const check = () => ranges.forEach(([a, n]) => expect([a, n, d.loadIsZero(a, n)]).toEqual([a, n, zero(a, n)]));
    check();
    d.store(4096, new Uint8Array(4096)); // a page holding zeros
    check();
    d.store(8191, Uint8Array.from([7]));
    check();
    d.store(4096, Uint8Array.from([1]));
    d.store(12288 + 4095, Uint8Array.from([2]));
    check();
    expect(d.loadIsZero(4097, 4094)).toBe(true);
  });

  test('nonZeroPages answers as loadIsZero of each page does, through a crash image over a device over base media, with the same read trace', () => {
    const base = small();
    base.store(3 * 4096 + 5, Uint8Array.from([9]));
    base.store(6 * 4096, new Uint8Array(4096)); // held, all zeros
    base.dcCvap(3 * 4096);
    base.dsb('sy');
    const media = base.guaranteedMedia().detach();
    const d = new PmemDevice({ media, profile: 'armv8.2' });
    d.store(2 * 4096 + 4095, Uint8Array.from([1])); // uncertain: the crash image decides it
    d.store(7 * 4096, Uint8Array.from([4]));
    d.dcCvap(7 * 4096);
    d.dsb('sy');
    const image = d.drawCrashImage('pages');
    const traced = (fn: (dev: PmemDevice) => void): string => {
      const readTrace = new ReadTrace(MiB);
      fn(new PmemDevice({ media: image, profile: 'armv8.2', readTrace }));
      return JSON.stringify([readTrace.structural().ranges(), [...readTrace.content]]);
    };
    const onImage = new PmemDevice({ media: image, profile: 'armv8.2' });
    const perPage = Array.from({ length: 12 }, (_, p) => p).filter((p) => !onImage.loadIsZero(p * 4096, 4096));
    expect(onImage.nonZeroPages(0, 12 * 4096)).toEqual(perPage);
    expect(perPage).toEqual(expect.arrayContaining([3, 7]));
    expect(onImage.nonZeroPages(4 * 4096, 3 * 4096)).toEqual([]);
    expect(traced((dev) => dev.nonZeroPages(0, 12 * 4096))).toEqual(traced((dev) => { for (let p = 0; p < 12; p++) dev.loadIsZero(p * 4096, 4096); }));
    expect(() => onImage.nonZeroPages(1, 4096)).toThrow(/whole pages/);
  });

  test('view gives the bytes a load gives (within a page or across pages) and is traced as a load', () => {
    const readTrace = new ReadTrace(MiB);
    const d = small('armv8.2', { readTrace });
    d.store(4000, Uint8Array.from({ length: 200 }, (_, i) => i + 1));
    for (const [addr, length] of [[4000, 96], [4090, 20], [8192, 64], [0, 4096]] as const) {
      expect([...d.view(addr, length)]).toEqual([...d.load(addr, length)]);
    }
    const traced = new ReadTrace(MiB);
    const e = small('armv8.2', { readTrace: traced });
    e.view(8192, 64);
    expect(traced.isStructural(8192 / 64)).toBe(true);
    expect(() => d.view(MiB - 8, 16)).toThrow(RangeError);
  });

  test('untouched memory reads as zeros', () => {
    expect([...small().load(MiB - 16, 16)]).toEqual(new Array(16).fill(0));
  });

  test.each([
    ['store past the end', (d: PmemDevice) => d.store(MiB - 4, new Uint8Array(8))],
    ['negative address', (d: PmemDevice) => d.load(-1, 1)],
    ['fractional address', (d: PmemDevice) => d.dcCvap(1.5)],
  ])('%s is a RangeError', (_name, act) => {
    expect(() => act(small())).toThrow(RangeError);
  });

  test('device options are validated', () => {
    expect(() => new PmemDevice({ sizeBytes: 1000 })).toThrow(/multiple of 4096/);
    expect(() => new PmemDevice({ profile: 'armv9' as ProfileName })).toThrow(/unknown profile 'armv9'/);
    expect(() => small('armv8.2', { granularity: 'byte' as 'word' })).toThrow(/granularity/);
    expect(() => small().dmb('full' as 'sy')).toThrow(/unknown barrier kind 'full'/);
  });

  test('a 1 GiB device is the default, with the armv8.2 profile, word granularity, eviction and strict DSB', () => {
    const d = new PmemDevice();
    expect(d.sizeBytes).toBe(1 << 30);
    expect(d.profile.name).toBe('armv8.2');
    expect(d.granularity).toBe('word');
    expect(d.eviction).toBe(true);
    expect(d.strictDsb).toBe(true);
    expect(new PmemDevice({ profile: 'x86-adr', sizeBytes: MiB }).granularity).toBe('line');
  });
});

describe('PmemDevice: instructions a profile lacks throw UndefinedInstruction before any effect', () => {
  const cases: Array<[ProfileName, string, (d: PmemDevice) => void]> = [
    ['armv8.0', 'DC CVAP', (d) => d.dcCvap(0)],
    ['armv8.0-adr', 'DC CVAP', (d) => d.dcCvap(0)],
    ['armv8.2', 'DC CVADP', (d) => d.dcCvadp(0)],
    ['armv8.0', 'DC CVADP', (d) => d.dcCvadp(0)],
    ['x86-adr', 'PCOMMIT', (d) => d.pcommit()],
    ['x86-eadr', 'PCOMMIT', (d) => d.pcommit()],
    ['armv8.2', 'PCOMMIT', (d) => d.pcommit()],
    ['armv8.2', 'MOVNTI', (d) => d.movnti(0, word(1))],
    ['armv8.2', 'CLWB', (d) => d.clwb(0)],
    ['armv8.2', 'SFENCE', (d) => d.sfence()],
    ['x86-adr', 'DC CVAC', (d) => d.dcCvac(0)],
    ['x86-adr', 'DSB', (d) => d.dsb('sy')],
    ['x86-adr', 'DC ZVA', (d) => d.dcZva(0)],
  ];
  test.each(cases)('%s: %s', (profile, name, act) => {
    const d = small(profile);
    let caught: unknown;
    try {
      act(d);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UndefinedInstruction);
    expect((caught as UndefinedInstruction).message).toContain(name);
    expect(d.instructionCount).toBe(0);
    expect(d.trace!.length).toBe(0);
  });

  test('armv8.5 has DC CVADP', () => {
    const d = small('armv8.5');
    d.store(0, word(1));
    d.dcCvadp(0);
    d.dsb('sy');
    expect(d.lines.size).toBe(0);
  });
});

describe('PmemDevice: the event trace', () => {
  test('records instructions in order with their crash points; markers are not instructions', () => {
    const d = small();
    d.mark('op', { i: 1 });
    d.store(0, word(7));
    d.dcCvap(0);
    d.mark('fsync');
    d.dsb('sy');
    const events = d.trace!.slice();
    expect(events.map((e) => [e.kind, e.op, e.instruction])).toEqual([
      ['mark', '', -1], ['store', '', 0], ['dc', 'cvap', 1], ['mark', '', -1], ['dsb', 'sy', 2],
    ]);
    expect(events[0].label).toBe('op');
    expect(events[0].data).toEqual({ i: 1 });
    expect(events[0].ref).toBe(0); // the marker sits at crash point 0
    expect(events[3].ref).toBe(2);
    expect(events[2].ref).toBeGreaterThanOrEqual(0); // the clean's pending id
    expect(d.instructionCount).toBe(3);
  });

  test('a clean records the line it covered, whatever the address alignment', () => {
    const d = small();
    d.store(130, word(1));
    d.dcCvap(131);
    const e = d.trace!.get(1);
    expect(e.addr).toBe(128);
    expect(e.length).toBe(64);
  });

  test('the trace has a named limit and says so when reached', () => {
    const d = small('armv8.2', { traceLimit: 1024 });
    expect(() => { for (let i = 0; i < 2000; i++) d.dmb('sy'); }).toThrow(/limit of 1024 events/);
  });

  test('trace: false records nothing but still counts instructions', () => {
    const d = small('armv8.2', { trace: false });
    d.store(0, word(1));
    d.mark('x');
    expect(d.trace).toBeUndefined();
    expect(d.instructionCount).toBe(1);
  });
});

describe('PmemDevice: power failure points', () => {
  test('powerFailAt stops before the numbered instruction', () => {
    const d = small('armv8.2', { powerFailAt: 2 });
    d.store(0, word(1));
    d.dcCvap(0);
    expect(() => d.dsb('sy')).toThrow(PowerFailure);
    expect(d.instructionCount).toBe(2);
    expect(d.pending.length).toBe(1); // the DSB never ran
  });

  test('onInstruction sees every crash point before its instruction runs', () => {
    const seen: Array<[number, number]> = [];
    const d = small('armv8.2', { onInstruction: (i, dev) => seen.push([i, dev.lines.size]) });
    d.store(0, word(1));
    d.dcCvap(0);
    d.dsb('sy');
    expect(seen).toEqual([[0, 0], [1, 1], [2, 1]]);
    expect(d.lines.size).toBe(0);
  });
});

describe('PmemDevice: lines settle once persisted', () => {
  test('DC CVAP + DSB SY settles a line; DSB ST does not', () => {
    const d = small();
    d.store(0, new Uint8Array(64).fill(3));
    d.dcCvap(0);
    d.dsb('st');
    expect(d.lines.size).toBe(1);
    d.dsb('sy');
    expect(d.lines.size).toBe(0);
    expect(d.pending.length).toBe(0);
  });

  test('a device that settles what it stores cuts every pre-image from the same bytes; one line still uncertain keeps its own', () => {
    const d = small();
    const batch = (first: number, fill: number): Uint8Array => {
      for (let i = 0; i < 4; i++) d.store((first + i) * 64, new Uint8Array(64).fill(fill));
      const baseline = d.track(first)?.baseline;
      expect(baseline).toBeDefined();
      return baseline as Uint8Array;
    };
    const settle = (first: number): void => {
      d.cleanEach('cvap', first * 64, (first + 4) * 64);
      d.dsb('sy');
    };
    const a = batch(0, 1);
    settle(0);
    expect(d.uncertainCount).toBe(0);
    d.store(0, new Uint8Array(64).fill(9)); // a line's old bytes (1s) become a pre-image over a's
    const b = d.track(0)?.baseline as Uint8Array;
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset);
    expect([...b]).toEqual(new Array(64).fill(1));
    // line 0 stays uncertain: the next pre-images go after its baseline, which keeps its bytes
    const c = batch(8, 5);
    expect(c.byteOffset).toBeGreaterThanOrEqual(b.byteOffset + 64);
    settle(8);
    d.store(16 * 64, new Uint8Array(64).fill(7));
    expect([...(d.track(0)?.baseline as Uint8Array)]).toEqual(new Array(64).fill(1));
    expect([...(d.track(16)?.baseline as Uint8Array)]).toEqual(new Array(64).fill(0));
  });

  test('armv8.0 keeps lines uncertain until the flush hint and a full DSB', () => {
    const d = small('armv8.0');
    d.store(0, word(1));
    d.dcCvac(0);
    d.dsb('sy');
    expect(d.lines.size).toBe(1);
    d.flushHint();
    d.dsb('sy');
    expect(d.lines.size).toBe(0);
  });

  test('DC IVAC that discards restores the coherent value to the PoC version', () => {
    const d = small('armv8.2', { chooser: () => 1 });
    d.store(0, word(1));
    d.dcCvac(0);
    d.dsb('sy');
    d.store(0, word(2));
    d.dcIvac(0);
    expect(d.load(0, 8)[0]).toBe(1);
    const clean = small('armv8.2', { chooser: () => 0 });
    clean.store(0, word(2));
    clean.dcIvac(0);
    expect(clean.load(0, 8)[0]).toBe(2);
  });

  test('DC IVAC without a chooser draws from the device seed, reproducibly', () => {
    const outcome = (seed: number) => {
      const d = small('armv8.2', { seed });
      const values: number[] = [];
      for (let i = 0; i < 16; i++) {
        d.store(i * 64, word(5));
        d.dcIvac(i * 64);
        values.push(d.load(i * 64, 1)[0]);
      }
      return values.join('');
    };
    expect(outcome(3)).toBe(outcome(3));
    expect(new Set([outcome(1), outcome(2), outcome(3), outcome(4)]).size).toBeGreaterThan(1);
    expect(outcome(3)).toMatch(/^[05]+$/);
  });
});
