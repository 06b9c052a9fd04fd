/**
 * What a crash state kept, word by word: for every line still uncertain at a crash point,
 * each word some tracked store wrote is classified as kept the newest value, kept an older
 * stored one, or lost (kept the value from before every tracked store), and every pending
 * clean, flush hint or non-temporal store is listed with whether the state completed it.
 *
 * Derived from the crash state's own choices and the guaranteed versions the crash model
 * computes (crash.ts `CrashPoint.guaranteedVersions`, the one place that rule lives), so it
 * describes the image exactly. Read-only: it changes nothing on the device.
 */
import { LINE_BYTES, WORD_BYTES } from '../core/limits';
import type { PmemDevice } from './device';
import type { CrashChoices } from './crash';
import type { LineTrack, PendingKind } from './lines';
import type { EventTrace } from './trace';

/** What one word kept: the newest value stored to it, an older stored one, or none of them. */
export type WordFate = 'newest' | 'older' | 'lost';

export interface WordOutcome {
  /** 0..7 within the line. */
  readonly word: number;
  readonly addr: number;
  readonly kept: WordFate;
  /** The store unit whose value the word kept; 0 when it kept the value from before every
   * store still tracked at the crash point (what had already persisted). */
  readonly keptUnit: number;
  /** The newest store unit that wrote the word. */
  readonly newestUnit: number;
  /** Trace indices of the stores that made those units (-1 for unit 0). */
  readonly keptEvent: number;
  readonly newestEvent: number;
}

export interface LineOutcome {
  readonly line: number;
  readonly addr: number;
  /** The newest version certain to survive once the chosen pending items completed. */
  readonly guaranteed: number;
  readonly newest: number;
  /** Whether the crash state chose a version for this line (else it kept `guaranteed`). */
  readonly chosen: boolean;
  /** The words some tracked store wrote, ascending. */
  readonly words: readonly WordOutcome[];
}

export interface PendingOutcome {
  readonly id: number;
  readonly kind: PendingKind;
  readonly line: number;
  /** The line version the clean covers (the line's newest when it was issued; -1: discarded). */
  readonly covers: number;
  /** The DMB epoch it was issued in. */
  readonly epoch: number;
  readonly completed: boolean;
  /** Trace index of the instruction that issued it. */
  readonly event: number;
}

export interface CrashView {
  readonly crashKind: CrashChoices['crashKind'];
  /** 'word': each word kept its own version; 'line': a line kept a prefix of a store's 8-byte pieces. */
  readonly granularity: 'word' | 'line';
  readonly lines: readonly LineOutcome[];
  readonly pending: readonly PendingOutcome[];
  readonly counts: Readonly<Record<WordFate, number>>;
}

const WORDS_PER_LINE = LINE_BYTES / WORD_BYTES;

/**
 * What a crash state kept, read from the device at its crash point (before the device runs
 * on): `choices` are the state's own (a CrashImage's `choices`), `trace` the device's trace.
 */
export function crashView(device: PmemDevice, choices: CrashChoices, trace: EventTrace): CrashView {
  const wordMode = device.granularity === 'word' && !device.profile.eadr;
  const { storeEvents, cleanEvents } = eventIndex(trace);
  const eventOf = (unit: number) => storeEvents.get(unit) ?? -1;
  const completed = new Set(choices.completed);
  const g = device.crashPoint(choices.crashKind).guaranteedVersions(completed);
  const byLine = new Map(choices.lines.map((c) => [c.line, c.versions]));
  const counts: Record<WordFate, number> = { newest: 0, older: 0, lost: 0 };
  const lines: LineOutcome[] = [];
  for (const track of [...device.lines.values()].sort((a, b) => a.lineIndex - b.lineIndex)) {
    const guaranteed = g.get(track.lineIndex) as number;
    const chosen = byLine.get(track.lineIndex);
    const versions = chosen ?? (wordMode ? new Array<number>(WORDS_PER_LINE).fill(guaranteed) : [guaranteed, 0]);
    const words: WordOutcome[] = [];
    for (let w = 0; w < WORDS_PER_LINE; w++) {
      const newestUnit = writerAt(track, w, track.newest);
      if (newestUnit === 0) continue;
      const keptUnit = wordMode ? writerAt(track, w, versions[w] as number) : lineModeWriter(track, w, versions);
      const kept: WordFate = keptUnit === newestUnit ? 'newest' : keptUnit === 0 ? 'lost' : 'older';
      counts[kept]++;
      words.push({
        word: w, addr: track.lineIndex * LINE_BYTES + w * WORD_BYTES, kept, keptUnit, newestUnit, keptEvent: eventOf(keptUnit), newestEvent: eventOf(newestUnit),
      });
    }
    lines.push({ line: track.lineIndex, addr: track.lineIndex * LINE_BYTES, guaranteed, newest: track.newest, chosen: chosen !== undefined, words });
  }
  const pending = device.pending.map((item): PendingOutcome => ({
    id: item.id, kind: item.kind, line: item.lineIndex, covers: item.snapshot, epoch: item.epoch, completed: completed.has(item.id),
    event: (item.kind === 'movnti' ? storeEvents.get(item.snapshot) : cleanEvents.get(item.id)) ?? -1,
  }));
  return { crashKind: choices.crashKind, granularity: wordMode ? 'word' : 'line', lines, pending, counts };
}

/** The unit whose value word `w` holds at line version `v` (0: the baseline's, from before every tracked store). */
function writerAt(track: LineTrack, w: number, v: number): number {
  for (let i = track.entries.length - 1; i >= 0; i--) {
    const e = track.entries[i];
    if (e.unit <= v && (e.mask >> w) & 1) return e.unit;
  }
  return 0;
}

/** Line granularity: [version, pieces] keeps the first `pieces` words of that unit, the rest at the version before. */
function lineModeWriter(track: LineTrack, w: number, versions: readonly number[]): number {
  const [version, pieces] = versions as [number, number];
  const entry = track.entryAt(version);
  if (entry === undefined || pieces === 0 || pieces >= entry.pieces) return writerAt(track, w, version);
  let seen = 0;
  for (let k = 0; k < WORDS_PER_LINE; k++) {
    if (((entry.mask >> k) & 1) === 0) continue;
    if (k === w) return seen < pieces ? entry.unit : writerAt(track, w, version - 1);
    seen++;
  }
  return writerAt(track, w, version - 1);
}

/** Which event made each store unit, and which issued each pending id. */
function eventIndex(trace: EventTrace): { storeEvents: Map<number, number>; cleanEvents: Map<number, number> } {
  const storeEvents = new Map<number, number>();
  const cleanEvents = new Map<number, number>();
  for (let i = 0; i < trace.length; i++) {
    const e = trace.get(i);
    if (e.kind === 'store' || e.kind === 'movnti' || (e.kind === 'dc' && e.op === 'zva')) {
      for (let u = e.ref; u <= e.detail && u > 0; u++) storeEvents.set(u, i);
    } else if (e.ref >= 0 && (e.kind === 'dc' || e.kind === 'clwb' || e.kind === 'clflushopt' || e.kind === 'hint')) {
      cleanEvents.set(e.ref, i);
    }
  }
  return { storeEvents, cleanEvents };
}
