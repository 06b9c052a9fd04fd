/**
 * Litmus exploration: every outcome a program's power failure can leave, over every crash
 * point (before, between and after its instructions), every completion set and every
 * allowed version of every uncertain word or line, and both DC IVAC choices wherever the
 * program issues one. Exhaustive by construction, so only for small programs.
 *
 * An outcome is the observed aligned 8-byte little-endian words, in decimal, joined by ",".
 * An error thrown by the program (an undefined instruction) propagates.
 */
import { assert } from '../core/assert';
import { WORD_BYTES } from '../core/limits';
import { readRange } from './media';
import { Chooser, PmemDevice, PowerFailure } from './device';
import { CrashKind, Granularity, ProfileName, getProfile } from './profiles';

export interface LitmusOptions {
  granularity?: Granularity;
  eviction?: boolean;
  strictDsb?: boolean;
  crashKind?: CrashKind;
}

/** A litmus device is small: 1 MiB, sparse. */
export const LITMUS_DEVICE_BYTES = 1 << 20;
/** Bound on explored DC IVAC choice sequences (2^n for n invalidations). */
const MAX_CHOICE_RUNS = 1 << 12;

export function reachableOutcomes(
  profile: ProfileName,
  program: (cpu: PmemDevice) => void,
  observe: number[],
  options: LitmusOptions = {},
): Set<string> {
  getProfile(profile);
  for (const addr of observe) {
    assert(Number.isInteger(addr) && addr % WORD_BYTES === 0 && addr >= 0 && addr + WORD_BYTES <= LITMUS_DEVICE_BYTES,
      () => `observed address ${addr} is not an aligned word of the ${LITMUS_DEVICE_BYTES}-byte litmus device`);
  }
  const outcomes = new Set<string>();
  const crashKind = options.crashKind ?? 'power';
  // Depth-first over the sequences of DC IVAC choices: replay a prefix, take 0 after it.
  const stack: Array<{ choice: number; options: number }> = [];
  for (let runs = 0; ; runs++) {
    assert(runs < MAX_CHOICE_RUNS, 'too many DC IVAC choice sequences for a litmus program');
    const prefix = stack.map((s) => s.choice);
    const trail: Array<{ choice: number; options: number }> = [];
    const chooser: Chooser = (_what, _line, n) => {
      const choice = trail.length < prefix.length ? prefix[trail.length] : 0;
      trail.push({ choice, options: n });
      return choice;
    };
    const make = (powerFailAt?: number) => new PmemDevice({
      sizeBytes: LITMUS_DEVICE_BYTES, profile, granularity: options.granularity, eviction: options.eviction,
      strictDsb: options.strictDsb, chooser, powerFailAt, trace: false,
    });
    const full = make();
    program(full);
    const instructions = full.instructionCount;
    const finalTrail = trail.slice();
    for (let point = 0; point <= instructions; point++) {
      trail.length = 0;
      const device = point === instructions ? full : make(point);
      if (device !== full) {
        try {
          program(device);
          assert(false, 'the litmus program ran past its power failure');
        } catch (err) {
          if (!(err instanceof PowerFailure)) throw err;
        }
      }
      const crash = device.crashPoint(crashKind);
      for (const state of crash.all()) outcomes.add(observeWords(crash.image(state), observe));
    }
    // Next choice sequence: bump the deepest choice that has options left.
    stack.length = 0;
    stack.push(...finalTrail);
    while (stack.length > 0 && stack[stack.length - 1].choice + 1 >= stack[stack.length - 1].options) stack.pop();
    if (stack.length === 0) break;
    stack[stack.length - 1].choice++;
  }
  return outcomes;
}

function observeWords(image: Parameters<typeof readRange>[0], observe: number[]): string {
  const word = new Uint8Array(WORD_BYTES);
  return observe.map((addr) => {
    readRange(image, addr, WORD_BYTES, word);
    let value = 0n;
    for (let i = WORD_BYTES - 1; i >= 0; i--) value = (value << 8n) | BigInt(word[i]);
    return value.toString();
  }).join(',');
}
