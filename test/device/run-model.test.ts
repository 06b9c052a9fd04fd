/**
 * The device's storage (runs that later stores extend, pending ranges, per-line records made
 * on demand) against a straightforward per-line model of the same instructions, written here
 * from spec/persistence-model.md alone: on `armv8.2` (word granularity), every line holds its
 * guaranteed baseline and one version per store unit after it; DC CVAC / CVAP queue a clean
 * with the line's newest version as its snapshot; a full DMB starts an epoch; DSB SY
 * completes every pending clean (raising the line's PoC, and PoP for CVAP, to the snapshot);
 * a line whose PoP reaches its newest version leaves, and versions the PoP has reached fold
 * into the baseline (its record keeps the PoDP and hint it had: 0 on this profile). Programs are seeded and walk the device the way a file system's stores
 * do (line after line, so runs grow), with partial and unaligned stores, jumps across pages,
 * single cleans, clean loops over what was just stored, and barriers in between. After every
 * instruction each uncertain line's record and every pending item must be the model's.
 */
import { Rng } from '../../core/rng';
import { LineTrack, PmemDevice } from '../../device';
import { LEVEL_POC, LEVEL_POP } from '../../device/profiles';

const LINE = 64;
const DEVICE_BYTES = 1 << 20;
/** Stores land in the first 32 KiB: eight pages, so walks cross page boundaries. */
const REGION = 32 << 10;

interface ModelEntry { unit: number; mask: number; pieces: number; snap: Uint8Array }
interface ModelLine { base: number; baseline: Uint8Array; entries: ModelEntry[]; poc: number; pop: number }
interface ModelPending { id: number; lineIndex: number; level: number; snapshot: number; epoch: number }

class PerLineModel {
  readonly memory = new Uint8Array(DEVICE_BYTES);
  readonly lines = new Map<number, ModelLine>();
  pending: ModelPending[] = [];
  epoch = 0;
  private nextUnit = 1;
  private nextId = 0;

  store(addr: number, bytes: Uint8Array): void {
    const end = addr + bytes.length;
    for (let line = Math.floor(addr / LINE); line * LINE < end; line++) {
      const from = Math.max(addr, line * LINE);
      const to = Math.min(end, (line + 1) * LINE);
      const firstWord = (from - line * LINE) >> 3;
      const lastWord = (to - 1 - line * LINE) >> 3;
      let track = this.lines.get(line);
      if (track === undefined) {
        track = { base: 0, baseline: this.lineBytes(line), entries: [], poc: 0, pop: 0 };
        this.lines.set(line, track);
      }
      this.memory.set(bytes.subarray(from - addr, to - addr), from);
      let mask = 0;
      for (let w = firstWord; w <= lastWord; w++) mask |= 1 << w;
      track.entries.push({ unit: this.nextUnit++, mask, pieces: lastWord - firstWord + 1, snap: this.lineBytes(line) });
    }
  }

  clean(addr: number, level: number): void {
    const lineIndex = Math.floor(addr / LINE);
    const track = this.lines.get(lineIndex);
    if (track === undefined) return;
    this.pending.push({ id: this.nextId++, lineIndex, level, snapshot: track.entries[track.entries.length - 1].unit, epoch: this.epoch });
  }

  dmbSy(): void {
    this.epoch++;
  }

  dsbSy(): void {
    const touched = new Set<number>();
    for (const p of this.pending) {
      const track = this.lines.get(p.lineIndex);
      if (track === undefined) continue;
      track.poc = Math.max(track.poc, p.snapshot);
      if (p.level >= LEVEL_POP) track.pop = Math.max(track.pop, p.snapshot);
      touched.add(p.lineIndex);
    }
    this.pending = [];
    for (const lineIndex of touched) {
      const track = this.lines.get(lineIndex) as ModelLine;
      const folded = track.entries.filter((e) => e.unit <= track.pop);
      if (folded.length === track.entries.length) {
        this.lines.delete(lineIndex);
      } else if (folded.length > 0) {
        const last = folded[folded.length - 1];
        track.base = last.unit;
        track.baseline = last.snap;
        track.entries = track.entries.slice(folded.length);
      }
    }
  }

  private lineBytes(line: number): Uint8Array {
    return this.memory.slice(line * LINE, (line + 1) * LINE);
  }
}

function sameBytes(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Field by field what the messages below spell out (the strings are built only for a mismatch). */
function sameLine(t: LineTrack, lineIndex: number, m: ModelLine): boolean {
  if (t.lineIndex !== lineIndex || t.base !== m.base || t.poc !== m.poc || t.pop !== m.pop || t.podp !== 0 || t.hint !== 0) return false;
  if (!sameBytes(t.baseline, m.baseline) || t.entries.length !== m.entries.length) return false;
  for (let j = 0; j < t.entries.length; j++) {
    const e = t.entries[j];
    const w = m.entries[j];
    if (e.unit !== w.unit || e.mask !== w.mask || e.pieces !== w.pieces || !sameBytes(t.snapOf(e), w.snap)) return false;
  }
  return true;
}

function expectSameState(device: PmemDevice, model: PerLineModel, where: string): void {
  const got = [...device.lines.values()].sort((a, b) => a.lineIndex - b.lineIndex);
  const want = [...model.lines.entries()].sort((a, b) => a[0] - b[0]);
  if (device.uncertainCount !== want.length) throw new Error(`${where}: the device counts ${device.uncertainCount} uncertain lines, the model has ${want.length}`);
  if (got.length !== want.length) throw new Error(`${where}: ${got.length} uncertain lines, the model has ${want.length}`);
  for (let i = 0; i < got.length; i++) {
    const t = got[i];
    const [lineIndex, m] = want[i];
    if (!sameLine(t, lineIndex, m)) {
      const describe = (x: unknown): string => JSON.stringify(x);
      const actual = describe({
        line: t.lineIndex, base: t.base, poc: t.poc, pop: t.pop, podp: t.podp, hint: t.hint, baseline: [...t.baseline],
        entries: t.entries.map((e) => ({ unit: e.unit, mask: e.mask, pieces: e.pieces, snap: [...t.snapOf(e)] })),
      });
      const expected = describe({
        line: lineIndex, base: m.base, poc: m.poc, pop: m.pop, podp: 0, hint: 0, baseline: [...m.baseline],
        entries: m.entries.map((e) => ({ unit: e.unit, mask: e.mask, pieces: e.pieces, snap: [...e.snap] })),
      });
      throw new Error(`${where}: line ${lineIndex}\n device ${actual}\n model  ${expected}`);
    }
    const newest = device.track(lineIndex)?.newest;
    if (newest !== m.entries[m.entries.length - 1].unit) throw new Error(`${where}: line ${lineIndex}: the device's newest unit ${newest}, the model's ${m.entries[m.entries.length - 1].unit}`);
  }
  const pending = device.pending.map((p) => `${p.id}:${p.kind}:${p.lineIndex}:${p.level}:${p.snapshot}:${p.epoch}`);
  const modelPending = model.pending.map((p) => `${p.id}:clean:${p.lineIndex}:${p.level}:${p.snapshot}:${p.epoch}`);
  if (pending.join(' ') !== modelPending.join(' ')) throw new Error(`${where}: pending\n device ${pending.join(' ')}\n model  ${modelPending.join(' ')}`);
  if (device.pendingCount !== model.pending.length) throw new Error(`${where}: the device counts ${device.pendingCount} pending items, the model has ${model.pending.length}`);
}

/** One seeded program: `steps` actions, each one or more instructions, checked after each;
 * `settlePercent` of them (drawn apart, none when 0) a clean loop over the whole region and
 * DSB SY, which leaves no line uncertain. */
function runProgram(seed: string, steps: number, settlePercent = 0): { stores: number; uncertainPeak: number; storesFromSettled: number } {
  const rng = Rng.fromSeed(seed);
  const device = new PmemDevice({ profile: 'armv8.2', sizeBytes: DEVICE_BYTES, seed });
  const model = new PerLineModel();
  let cursor = 0;
  let walkStart = 0;
  let stores = 0;
  let uncertainPeak = 0;
  // stores made while no line was uncertain: the device carves their pre-images from the
  // start of its slab again, over baselines of lines settled since
  let storesFromSettled = 0;
  const check = (what: string): void => {
    expectSameState(device, model, `${seed} after ${what} (instruction ${device.instructionCount})`);
    uncertainPeak = Math.max(uncertainPeak, device.uncertainCount);
  };
  const store = (addr: number, length: number): void => {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = 1 + rng.below(255);
    if (device.uncertainCount === 0) storesFromSettled++;
    device.store(addr, bytes);
    model.store(addr, bytes);
    stores++;
    check(`store ${length} at ${addr}`);
  };
  for (let step = 0; step < steps; step++) {
    if (settlePercent > 0 && rng.below(100) < settlePercent) {
      device.cleanEach('cvap', 0, REGION);
      for (let a = 0; a < REGION; a += LINE) model.clean(a, LEVEL_POP);
      device.dsb('sy');
      model.dsbSy();
      walkStart = cursor;
      check('a clean loop over the region, DSB SY');
      expect(device.uncertainCount).toBe(0);
      continue;
    }
    const r = rng.below(100);
    if (r < 45) {
      // the next line of the walk (what grows a run), now and then two or three lines at once
      const length = rng.below(5) === 0 ? LINE * (2 + rng.below(2)) : LINE;
      if (cursor + length > REGION) cursor = 0;
      store(cursor, length);
      cursor += length;
    } else if (r < 55) {
      // a partial or unaligned store near the walk (a run must not take it in as a whole line)
      const length = 8 * (1 + rng.below(12));
      const addr = Math.min(REGION - length, cursor + 8 * rng.below(8));
      store(addr, length);
      cursor = addr + length;
    } else if (r < 60) {
      cursor = LINE * rng.below(REGION / LINE);
      walkStart = cursor;
    } else if (r < 72) {
      const addr = LINE * rng.below(REGION / LINE);
      const cvap = rng.below(3) !== 0;
      if (cvap) device.dcCvap(addr + rng.below(LINE));
      else device.dcCvac(addr);
      model.clean(addr, cvap ? LEVEL_POP : LEVEL_POC);
      check(`a clean of ${addr}`);
    } else if (r < 82) {
      // a flavour's clean loop over what the walk stored since it last jumped or settled
      const end = Math.max(walkStart + LINE, cursor);
      const cvap = rng.below(3) !== 0; // DC CVAC leaves the lines raised to the PoC only: still uncertain
      device.cleanEach(cvap ? 'cvap' : 'cvac', walkStart, end);
      for (let a = walkStart; a < end; a += LINE) model.clean(a, cvap ? LEVEL_POP : LEVEL_POC);
      check(`a clean loop over [${walkStart}, ${end})`);
    } else if (r < 88) {
      device.dmb('sy');
      model.dmbSy();
      check('DMB SY');
    } else if (r < 90) {
      device.dsb('st');
      check('DSB ST');
    } else {
      device.dsb('sy');
      model.dsbSy();
      walkStart = cursor;
      check('DSB SY');
    }
  }
  return { stores, uncertainPeak, storesFromSettled };
}

describe('the run representation against a per-line model (armv8.2)', () => {
  test.each(Array.from({ length: 12 }, (_, i) => `run-model/${i}`))('%s: every record and pending item matches after every instruction', (seed) => {
    const { stores, uncertainPeak, storesFromSettled } = runProgram(seed, 400);
    expect(stores).toBeGreaterThan(150);
    expect(uncertainPeak).toBeGreaterThan(8);
    expect(storesFromSettled).toBeGreaterThan(0);
  });
});

describe('pre-images over settled lines (armv8.2)', () => {
  test.each(Array.from({ length: 6 }, (_, i) => `run-model/settled/${i}`))('%s: a device settled again and again keeps every record the model\'s', (seed) => {
    const { stores, uncertainPeak, storesFromSettled } = runProgram(seed, 400, 6);
    expect(stores).toBeGreaterThan(100);
    expect(uncertainPeak).toBeGreaterThan(8);
    expect(storesFromSettled).toBeGreaterThan(10);
  });
});

describe('the comparison itself', () => {
  /** A device and the model after the same two stores into line 1. */
  const pair = () => {
    const device = new PmemDevice({ profile: 'armv8.2', sizeBytes: DEVICE_BYTES, seed: 'run-model/control' });
    const model = new PerLineModel();
    for (const [addr, fill] of [[64, 7], [100, 9]]) {
      const bytes = new Uint8Array(16).fill(fill);
      device.store(addr, bytes);
      model.store(addr, bytes);
    }
    return { device, model, line: model.lines.get(1) as ModelLine };
  };

  test('the same state passes; a baseline byte, a snapshot byte, a level or a unit apart fails', () => {
    const same = pair();
    expect(() => expectSameState(same.device, same.model, 'control')).not.toThrow();
    const perturbations: Array<(m: ModelLine) => void> = [
      (m) => { m.baseline[3] ^= 1; },
      (m) => { m.entries[1].snap[40] ^= 1; },
      (m) => { m.poc = 1; },
      (m) => { m.entries[0].unit += 1; },
    ];
    for (const perturb of perturbations) {
      const { device, model, line } = pair();
      perturb(line);
      expect(() => expectSameState(device, model, 'control')).toThrow(/control: line 1\n device .*\n model /);
    }
  });
});
