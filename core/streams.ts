// The stream tree of one unit of work: every seeded draw below `cli/` comes from a stream
// named in this one table, forked from the unit's seed.
//
// Owns: the names and the shape of the tree. A unit (one workload on one setup) has one seed;
// the CLI prints it, a token carries it, and each subsystem receives its own stream from here:
//
//   <seed>
//   ├── policy                            fs/: the unordered policy's issue order
//   ├── device                            device/: the recording device's DC IVAC choices
//   ├── mkfs                              fs/: UUID and hash seed of an image made for the unit
//   ├── workloads/<suite>/<index>         workloads/: a generated workload that draws (random)
//   ├── <instruction>/<draw>              crash/: the seed of a sampled crash state at a crash
//   │                                     point (device/crash.ts forks `crash` from it)
//   ├── recovery/<instruction>/<draw>     crash/: a sampled crash state of a recovery run (G9)
//   ├── explore/<instruction>             crash/: the spread order in which a crash point's
//   │                                     bound is explored when it exceeds the limit
//   └── package/<phase>                   crash/: what a package under test draws (its random
//                                         numbers and bytes) in one phase of a scenario:
//                                         setup, run, or check-<image and position>
//
// Invariants:
// - A stream is a function of its path alone (core/rng.ts), so adding a draw to one subsystem
//   never shifts what another sees, and the same seed gives the same tree in any process.
// - These paths are part of every reproduction token: they are the paths the project used
//   before the table existed, and changing one changes what old tokens rebuild (a token model
//   revision, crash/token.ts). Token decoding reads sampled-state seeds through `crashDrawOf`,
//   the inverse of `crashDraw`, so both sides use this table.
// - Numbers in a path are decimal integers, so `<instruction>/<draw>` never collides with a
//   named fork.

import { assertInteger } from './assert';
import { Rng } from './rng';

/** The named forks of a unit's tree (the table above). */
export const STREAM_NAMES = {
  policy: 'policy',
  device: 'device',
  mkfs: 'mkfs',
  workloads: 'workloads',
  recovery: 'recovery',
  explore: 'explore',
  package: 'package',
  /** Forked by device/crash.ts from a sampled state's seed. */
  crashState: 'crash',
} as const;

const DRAW_NUMBER = /^(0|[1-9]\d{0,14})$/;

export class StreamTree {
  readonly seed: string;

  private constructor(seed: string) {
    this.seed = seed;
  }

  /**
   * The tree of a unit seed (a numeric seed is read as its decimal string). An empty seed
   * names seeds (a token may carry one) but has no stream: drawing from it fails in Rng.
   */
  static of(seed: string | number): StreamTree {
    if (typeof seed === 'number') assertInteger(seed, 'seed');
    return new StreamTree(String(seed));
  }

  /** fs/: the unordered policy's issue order. */
  policy(): Rng {
    return this.root().fork(STREAM_NAMES.policy);
  }

  /** device/: the recording device's own choices (DC IVAC). */
  device(): Rng {
    return this.root().fork(STREAM_NAMES.device);
  }

  /** fs/: an image made for the unit (mkfs's UUID and hash seed). */
  mkfs(): Rng {
    return this.root().fork(STREAM_NAMES.mkfs);
  }

  /** workloads/: the stream of generated workload `index` of `suite`. */
  workload(suite: string, index: number): Rng {
    assertInteger(index, 'workload index', 0);
    return this.root().fork(STREAM_NAMES.workloads).fork(suite).fork(String(index));
  }

  /** crash/: the seed of sampled crash state `draw` at the crash point after `instruction` instructions. */
  crashDraw(instruction: number, draw: number): string {
    assertInteger(instruction, 'instruction', 0);
    assertInteger(draw, 'draw', 0);
    return `${this.seed}/${instruction}/${draw}`;
  }

  /** The draw number `crashDraw(instruction, draw)` was made with, or undefined for any other seed. */
  crashDrawOf(stateSeed: string, instruction: number): number | undefined {
    const prefix = `${this.seed}/${instruction}/`;
    if (!stateSeed.startsWith(prefix)) return undefined;
    const rest = stateSeed.slice(prefix.length);
    return DRAW_NUMBER.test(rest) ? Number(rest) : undefined;
  }

  /** crash/: the seed of sampled state `draw` of a recovery run crashed after `instruction` instructions (G9). */
  recoveryDraw(instruction: number, draw: number): string {
    assertInteger(instruction, 'instruction', 0);
    assertInteger(draw, 'draw', 0);
    return `${this.seed}/${STREAM_NAMES.recovery}/${instruction}/${draw}`;
  }

  /** crash/: the order in which the bound at the crash point after `instruction` instructions is explored. */
  exploreOrder(instruction: number): Rng {
    assertInteger(instruction, 'instruction', 0);
    return this.root().fork(STREAM_NAMES.explore).fork(String(instruction));
  }

  /** crash/: the entropy a package under test draws in one phase of a scenario (a fork name: no '/'). */
  packageEntropy(phase: string): Rng {
    return this.root().fork(STREAM_NAMES.package).fork(phase);
  }

  /** device/: the stream a sampled crash state draws its choices from. */
  static crashState(stateSeed: string | number): Rng {
    return Rng.fromSeed(String(stateSeed)).fork(STREAM_NAMES.crashState);
  }

  private root(): Rng {
    return Rng.fromSeed(this.seed);
  }
}
