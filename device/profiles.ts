/**
 * Platform profiles: which instructions exist and which level of the memory system a
 * completed clean must reach before its data survives a power failure
 * (spec/persistence-model.md section 2).
 *
 * Invariants: every profile names exactly one ISA; a profile whose ISA is x86 has no Arm
 * data-cache instructions and vice versa; `persistLevel` is the weakest level whose
 * contents are powered through a failure ('none' when only the flush hint persists data).
 */

/** Levels a clean can reach, weakest first. PoU carries no persistence meaning at all. */
export const LEVEL_POU = 0;
export const LEVEL_POC = 1;
export const LEVEL_POP = 2;
export const LEVEL_PODP = 3;
export type Level = typeof LEVEL_POU | typeof LEVEL_POC | typeof LEVEL_POP | typeof LEVEL_PODP;

export type ProfileName = 'armv8.2' | 'armv8.0-adr' | 'armv8.0' | 'armv8.5' | 'x86-adr' | 'x86-eadr';
export type Granularity = 'word' | 'line';
/** `power`: an ordinary power failure. `instantaneous`: an instantaneous failure of the
 * power system, which only data at the Point of Deep Persistence survives (armv8.5). */
export type CrashKind = 'power' | 'instantaneous';

export interface Profile {
  readonly name: ProfileName;
  readonly isa: 'arm' | 'x86';
  readonly summary: string;
  /** FEAT_DPB: DC CVAP exists. */
  readonly hasDcCvap: boolean;
  /** FEAT_DPB2: DC CVADP exists. */
  readonly hasDcCvadp: boolean;
  /** A completed clean at or beyond this level survives a power failure; `null` when no
   * clean does on its own (armv8.0: the PoC is volatile, only the flush hint persists). */
  readonly persistLevel: Level | null;
  /** x86 eADR: caches are powered, so stores persist once they leave the store buffer. */
  readonly eadr: boolean;
  readonly defaultGranularity: Granularity;
  readonly crashKinds: readonly CrashKind[];
}

const PROFILE_LIST: readonly Profile[] = [
  {
    name: 'armv8.2', isa: 'arm', hasDcCvap: true, hasDcCvadp: false, persistLevel: LEVEL_POP,
    eadr: false, defaultGranularity: 'word', crashKinds: ['power'],
    summary: 'FEAT_DPB (DC CVAP); the PoP lies beyond a volatile PoC',
  },
  {
    name: 'armv8.0-adr', isa: 'arm', hasDcCvap: false, hasDcCvadp: false, persistLevel: LEVEL_POC,
    eadr: false, defaultGranularity: 'word', crashKinds: ['power'],
    summary: 'no FEAT_DPB; the platform keeps the PoC powered (ADR-like)',
  },
  {
    name: 'armv8.0', isa: 'arm', hasDcCvap: false, hasDcCvadp: false, persistLevel: null,
    eadr: false, defaultGranularity: 'word', crashKinds: ['power'],
    summary: 'no FEAT_DPB; volatile PoC: only the flush hint and a full DSB persist data',
  },
  {
    name: 'armv8.5', isa: 'arm', hasDcCvap: true, hasDcCvadp: true, persistLevel: LEVEL_POP,
    eadr: false, defaultGranularity: 'word', crashKinds: ['power', 'instantaneous'],
    summary: 'FEAT_DPB2: as armv8.2, plus DC CVADP to the Point of Deep Persistence',
  },
  {
    name: 'x86-adr', isa: 'x86', hasDcCvap: false, hasDcCvadp: false, persistLevel: LEVEL_POC,
    eadr: false, defaultGranularity: 'line', crashKinds: ['power'],
    summary: 'x86 with ADR: memory-controller queues powered, CPU caches not',
  },
  {
    name: 'x86-eadr', isa: 'x86', hasDcCvap: false, hasDcCvadp: false, persistLevel: LEVEL_POC,
    eadr: true, defaultGranularity: 'line', crashKinds: ['power'],
    summary: 'x86 with eADR: CPU caches powered too; the store buffer is not',
  },
];

export const PROFILE_NAMES: readonly ProfileName[] = PROFILE_LIST.map((p) => p.name);

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

export function getProfile(name: string): Profile {
  const profile = PROFILE_LIST.find((p) => p.name === name);
  if (!profile) {
    throw new RangeError(`unknown profile '${name}' (expected one of: ${PROFILE_NAMES.join(', ')})`);
  }
  return profile;
}

/** Relations between the table's columns, checked once at load time. */
for (const p of PROFILE_LIST) {
  if (p.isa === 'x86' && (p.hasDcCvap || p.hasDcCvadp)) throw new Error(`profile ${p.name}: x86 with Arm instructions`);
  if (p.hasDcCvadp && !p.hasDcCvap) throw new Error(`profile ${p.name}: FEAT_DPB2 implies FEAT_DPB`);
  if (p.eadr && p.isa !== 'x86') throw new Error(`profile ${p.name}: eADR is an x86 notion`);
  if (p.crashKinds.includes('instantaneous') !== p.hasDcCvadp) {
    throw new Error(`profile ${p.name}: the instantaneous crash kind goes with DC CVADP`);
  }
}
