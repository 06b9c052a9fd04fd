/**
 * Exploring the crash states of one crash point: the whole k-bound (persistence model,
 * section 4), reduced to classes of states no check can tell apart, each class judged once;
 * when the judging the reduction still needs exceeds `limit`, a seeded part of the bound,
 * spread across its completion sets and its units, with the rest reported as not covered.
 *
 * The equivalence (docs/crash.md, "Reduction"): judging an image (recovery, fsck, the
 * namespace, G8) is a deterministic run over the bytes it reads, and the device records
 * which lines those are (device/read-trace.ts). So:
 * 1. an image that agrees with a judged one on every line the judgement read structurally
 *    gets the same structural verdict (G1, G2, the namespace's G3/G4/G7, G8);
 * 2. lines read only as file data change nothing but the file's words, so its data verdict
 *    (G4/G5/G6, data-judge.ts) is the judged state's with those words patched;
 * 3. lines it did not read at all change nothing.
 * A state of the bound is a completion family (crash.ts `families`) and at most k of its
 * units raised. For the family's state with units T raised the explorer finds a judged
 * representative that agrees with it on the representative's structural lines (or judges
 * it: a new representative), then settles at once every state T + V where V avoids the
 * units on those lines: V's units on content lines are patched into the data verdict, the
 * rest are free. States that raise a unit on a structural line are split by the first such
 * unit (a new T) and resolved the same way, so the classes partition the bound and their
 * sizes add up to it exactly (asserted).
 *
 * Data units that leave every word they touch with the verdict it had ("neutral", and not
 * sharing a line with one that does not) change no state's verdict, alone or together; only
 * the others are enumerated. Counts are states: a class adds its size to each promise its
 * verdict breaks. G9 is not part of a class: it is counted on judged states only.
 *
 * Families are many where cleans pile up without a barrier (k items of n pending: about
 * n^2/2 families a point at k = 2), and most differ from a family of one item fewer only on
 * lines no judgement reads (blocks nothing committed points at yet). Families are resolved
 * by their number of items, fewest first, each with its whole tree of nodes; a family whose
 * g differs from that of itself less one item only on lines no representative of that
 * family's tree read (structurally or as content) has the same tree, node for node, less
 * the quiet units its higher g covers, and is settled by counting (`settleMirrors`).
 *
 * The all-newest state and the baseline are always settled, whatever the limit.
 */
import { assert } from '../core/assert';
import type { Rng } from '../core/rng';
import { listFamilies, subsetCount, subsetsUpTo } from '../device/crash';
import type { CompletionFamily, CrashPoint, CrashState, FamilySource, LineSet, RaisableUnit } from '../device/crash';
import type { ImageReads, JudgedParts, PromiseId, Violation } from './check';
import type { DataCode, DataPatches } from './data-judge';

/** What judging one state gives the explorer. */
export interface Judgement {
  readonly parts: JudgedParts;
  /** What the judgement read of the image; undefined: every line counts as read. */
  readonly reads: ImageReads | undefined;
  /**
   * Findings of this state itself, not of its class: G9 (sampled crashes of its recovery)
   * and the real e2fsck's G2 (its reads are not traced, so nothing extends them).
   */
  readonly own: readonly Violation[];
}

export interface ExploreOptions {
  readonly k: number;
  /** States judged (recovered) at most at this point; settling a class by a match is free. */
  readonly limit: number;
  /** Seeds the spread order of families and units. */
  readonly rng: Rng;
  readonly judge: (state: CrashState) => Judgement;
  /**
   * A held crash point (points.ts): only its all-complete completion set, every other state
   * being one of the next crash point's (no all-newest state either).
   */
  readonly held?: boolean;
  /**
   * Representatives of the crash point right before this one, when that point was held and
   * this one is at the same position: the device has queued one clean since, so the
   * uncertain lines, the medium and every line's bytes under a given g and raised units are
   * the same, and a judgement that read the same bytes is this point's too.
   */
  readonly carried?: readonly CarriedRep[];
  /**
   * Families in the bound above which the families of quiet items only are counted, not
   * listed (`expandBulk`; default BULK_FAMILIES; tests set 0 to hold both ways equal). Not
   * with `members`, which lists every family's members.
   */
  readonly bulkFrom?: number;
  /** Whether a member state breaking `promise` is still wanted (to name a finding by). */
  readonly wants: (promise: PromiseId) => boolean;
  /**
   * For tests of the reduction: called with member states of the classes settled and the
   * promises the reduction says each breaks (its own data verdict patched in, `own`
   * findings aside). Every member (the whole bound: for small bounds only), or, with
   * `sample`, that many members of each class drawn from `rng`.
   */
  readonly members?: {
    readonly each: (state: CrashState, promises: readonly PromiseId[]) => void;
    readonly sample?: { readonly rng: Rng; readonly perClass: number };
  };
}

/** A concrete member of a class with violations, and the promises it breaks. */
export interface Example {
  readonly state: CrashState;
  readonly promises: readonly PromiseId[];
}

export interface ExploreResult {
  readonly inBound: bigint;
  /** States judged or proven equivalent to a judged one. */
  readonly covered: bigint;
  readonly judged: number;
  /** Per promise: states that break it (class members included; `own` findings once). */
  readonly counts: ReadonlyMap<PromiseId, number>;
  readonly examples: readonly Example[];
  /** Families settled by counting, as mirrors of another family's tree (`settleMirrors`), not node by node. */
  readonly mirrored: number;
  /** The representatives this point judged or matched a state to, carried ones among them (for the next point of a run of cleans). */
  readonly reps: readonly CarriedRep[];
  /** A held point's one family's tree: what the crash points after it in a run of cleans may mirror (`mirrorClasses`). */
  readonly tree?: SettledTree;
}

/**
 * What one family's tree settled, as a family that mirrors it needs it: the uncertain lines
 * its representatives read (structurally or as content), its classes, and its unit count.
 */
export interface SettledTree {
  readonly read: ReadonlySet<number>;
  readonly classes: ReadonlyMap<string, { readonly quiet: number; readonly room: number; readonly promises: readonly PromiseId[]; readonly n: number }>;
  readonly unitCount: number;
}

/**
 * The states of `families` families that mirror `tree` with `removed` of its units gone
 * (their g differs from the tree's family only on lines no representative of the tree read),
 * and per promise how many of them break it. Each node of the tree is a node of the mirror,
 * with the same representative, the same structural, content, moving and neutral units and
 * the same data patches (the differing lines are read by nobody); the units the mirror's
 * higher g covers are gone, and those were quiet in every node. A class of `quiet` free units
 * and `room` places therefore has subsetCount(quiet - removed, room) members in the mirror.
 * No example is needed: the tree's own class, never smaller, already gave one.
 */
export function mirrorClasses(tree: SettledTree, removed: number, families = 1n): { covered: bigint; counts: Map<PromiseId, bigint> } {
  let covered = 0n;
  const counts = new Map<PromiseId, bigint>();
  for (const c of tree.classes.values()) {
    assert(c.quiet >= removed, () => `a mirror removes ${removed} units of a class with ${c.quiet} free`);
    const size = families * BigInt(c.n) * subsetCount(c.quiet - removed, c.room);
    covered += size;
    for (const p of c.promises) counts.set(p, (counts.get(p) ?? 0n) + size);
  }
  return { covered, counts };
}

/** A representative as the next crash point takes it over: its judgement and what it read. */
export interface CarriedRep {
  readonly judgement: Judgement;
  readonly struct: ReadonlyMap<number, Uint8Array>;
  readonly content: ReadonlyMap<number, Uint8Array>;
}

/**
 * What a representative makes of a node's undecided units: those on lines it read
 * structurally (positions, ascending), how many others, and of those the units on content
 * lines where raising some unit can change a data verdict ("moving"; every unit of such a
 * line, in unit-list order); the other others are quiet.
 */
interface Partition {
  readonly structural: readonly number[];
  readonly others: number;
  readonly moving: ReadonlySet<number>;
  readonly enumerated: readonly RaisableUnit[];
}

interface Rep {
  /** Its index in the point's list (a cache key). */
  readonly id: number;
  readonly judgement: Judgement;
  /** Uncertain lines the judgement read structurally, and this state's bytes there. */
  readonly struct: ReadonlyMap<number, Uint8Array>;
  /** Uncertain lines it read only as file data, and this state's bytes there. */
  readonly content: ReadonlyMap<number, Uint8Array>;
  /** Lines where its state may differ from the baseline (every uncertain line: null). */
  readonly delta: Delta | null;
  /**
   * Its structural lines whose bytes are not the baseline's (a state matches it only if
   * that state differs from the baseline on these lines at least): the index key.
   */
  readonly away: readonly number[];
}


/**
 * A node of the partition: family `f`, units T raised, and the units decided (raised iff in
 * T): those of `decided` plus the first `upTo` of `order`, both as positions in the first
 * family's unit list, which holds every family's units in the same order (siblings share
 * both, so making the children of a node costs no copy per child).
 */
interface Node {
  readonly f: number;
  readonly t: readonly number[];
  readonly decided: readonly number[];
  readonly order: readonly number[];
  readonly upTo: number;
}

/** What a family's tree settled, for the families that mirror it (`settleMirrors`). */
interface FamilyTree extends SettledTree {
  /** The representatives its nodes matched or judged, and the uncertain lines they read (structurally or as content). */
  readonly reps: Set<number>;
  readonly read: Set<number>;
  /** Its classes' sizes as free units and room, by those and the promises broken: how many. */
  readonly classes: Map<string, { quiet: number; room: number; promises: PromiseId[]; n: number }>;
  /** Its settled nodes (kept only when members are listed, for tests). */
  readonly nodes: { node: Node; rep: Rep; room: number; basePatch: ReadonlyMap<number, Uint8Array> }[];
}

/**
 * The lines where a state may differ from the baseline: its family's delta and the lines of
 * its raised units (a view, not a copy: nodes are many and most find their representative).
 */
class Delta {
  constructor(readonly base: LineSet, readonly extra: readonly number[]) {}

  has(line: number): boolean {
    return this.base.has(line) || this.extra.includes(line);
  }

  forEach(fn: (line: number) => boolean | void): boolean {
    for (const line of this.base) if (fn(line) === false) return false;
    for (const line of this.extra) if (!this.base.has(line) && fn(line) === false) return false;
    return true;
  }
}

/**
 * Families in a bound above which the quiet items' families are counted in bulk: a point
 * with n pending cleans has about n^2/2 families at k = 2 (a 1 MiB write cleans 16,384
 * lines before its barrier: 134 million), and listing one costs more than counting it.
 */
export const BULK_FAMILIES = 4096;

export function explorePoint(point: CrashPoint, o: ExploreOptions): ExploreResult {
  return new PointExplorer(point, o).run();
}

class PointExplorer {
  private readonly families: CompletionFamily[];
  /** Bulk mode (`expandBulk`): where the families not listed come from; the prefixes are families 0..epochs. */
  private readonly bulk: FamilySource | undefined;
  /** Bulk mode: per epoch prefix, the ids of the quiet items whose families were counted. */
  private readonly quietItems = new Map<number, Set<number>>();
  /** Bulk mode: the bound's states in the families counted. */
  private bulkInBound = 0n;
  /** The line of every unit (a family's units are some of the first family's: g only rises). */
  private readonly lineOfUnit: Map<number, number>;
  private readonly uncertain: readonly number[];
  private readonly reps: Rep[] = [];
  /** Representatives judged here or matched to a state here (what is carried on: carried ones nobody matched are dropped). */
  private readonly used = new Set<number>();
  private readonly counts = new Map<PromiseId, number>();
  private readonly examples: Example[] = [];
  private covered = 0n;
  private judged = 0;
  /** Line bytes by line, then by g (nothing raised on the line) or g and raised units: many families share them. */
  private readonly bytesAtG = new Map<number, Map<number, Uint8Array>>();
  private readonly bytesRaised = new Map<number, Map<string, Uint8Array>>();
  /**
   * Representatives by the lines they hold away from the baseline (see `Rep.away`): none or
   * one, indexed by that line; the rest in a list, checked line by line.
   */
  private readonly repsByAway = new Map<number, Rep[]>();
  private readonly homeReps: Rep[] = [];
  private readonly wideReps: Rep[] = [];
  /** Scratch marks by unit position, for the free units of a node (`serial` tells nodes apart). */
  private readonly marks: Uint32Array;
  private serial = 0;
  /** The first family's units (every family's units are some of them, in the same order) and their positions. */
  private readonly allUnits: readonly RaisableUnit[];
  private readonly position = new Map<number, number>();
  /** The first family's units of each line, ascending. */
  private readonly unitsOfLine = new Map<number, RaisableUnit[]>();
  /** Partitions of prefix families' root nodes, by representative and family. */
  private readonly prefixPartitions = new Map<string, Partition>();
  /** Whether raising a content unit changes a data verdict, by representative, unit and the line's state. */
  private readonly neutralCache = new Map<string, boolean>();

  constructor(private readonly point: CrashPoint, private readonly o: ExploreOptions) {
    if (o.held === true) {
      this.families = [point.completeFamily()];
    } else {
      const source = point.familySource(o.k);
      const bulk = o.members === undefined && source.count > (o.bulkFrom ?? BULK_FAMILIES);
      this.bulk = bulk ? source : undefined;
      this.families = bulk ? source.prefixes.map((e) => source.prefix(e, e)) : listFamilies(source, o.k);
    }
    this.allUnits = this.families[0].units;
    this.lineOfUnit = new Map(this.allUnits.map((u) => [u.unit, u.line]));
    this.allUnits.forEach((u, p) => {
      this.position.set(u.unit, p);
      const list = this.unitsOfLine.get(u.line);
      if (list) list.push(u);
      else this.unitsOfLine.set(u.line, [u]);
    });
    this.uncertain = point.lineIndices();
    this.marks = new Uint32Array(this.allUnits.length);
    for (const c of o.carried ?? []) this.addRep(c.judgement, c.struct, c.content, null);
  }

  /**
   * Lines where the state of family f with `raised` units may differ from the baseline state:
   * the family's delta (its g differs from the baseline family's there) and the raised
   * units' lines. Two states are compared only there: everywhere else both hold the
   * baseline's bytes.
   */
  private deltaOf(f: number, raised: readonly number[]): Delta {
    return new Delta(this.families[f].delta, raised.map((u) => this.lineOfUnit.get(u) as number));
  }

  /**
   * The first representative (lowest id) whose structural lines hold what `bytes` says.
   * Only representatives whose away lines lie inside `delta` can match (a state holds the
   * baseline's bytes outside its delta), so only those are compared.
   */
  private findRep(delta: Delta | null, bytes: (line: number) => Uint8Array): Rep | undefined {
    let best: Rep | undefined;
    const consider = (r: Rep) => {
      if ((best === undefined || r.id < best.id) && this.matches(r, delta, bytes)) best = r;
    };
    if (delta === null) {
      this.reps.forEach(consider);
      return best;
    }
    this.homeReps.forEach(consider);
    delta.forEach((line) => { this.repsByAway.get(line)?.forEach(consider); });
    for (const r of this.wideReps) if (r.away.every((line) => delta.has(line))) consider(r);
    return best;
  }

  /** Whether `r`'s structural lines hold what `bytes` says (compared where either may differ from the baseline). */
  private matches(r: Rep, delta: Delta | null, bytes: (line: number) => Uint8Array): boolean {
    if (delta === null || r.delta === null) return agrees(r.struct, bytes);
    const same = (line: number) => {
      const had = r.struct.get(line);
      return had === undefined || sameBytes(bytes(line), had);
    };
    return delta.forEach(same) && r.delta.forEach((line) => delta.has(line) || same(line));
  }

  run(): ExploreResult {
    if (this.o.held !== true) this.settleNewest();
    const none: number[] = [];
    const root = (f: number): Node => ({ f, t: [], decided: none, order: [], upTo: 0 });
    // Families by their number of items on top of the prefix, fewest first (the baseline,
    // family 0, first of all), so that a family's bases (itself less one item) have their
    // trees settled before it: one that mirrors a base is counted; the others are resolved
    // with their whole trees, in a seeded spread order, breadth first.
    const bySize: number[][] = [];
    // and the families that can be a base (fewer than k items), by epochs and items
    const index = new Map<number, Map<number | string, number>>();
    this.families.forEach((fam, f) => {
      if (f > 0) (bySize[fam.subset.length] ??= []).push(f);
      if (fam.subset.length === 0 || fam.subset.length >= this.o.k) return;
      const byItems = index.get(fam.epochs) ?? new Map<number | string, number>();
      index.set(fam.epochs, byItems);
      byItems.set(itemsKey(fam.subset), f);
    });
    // each family's tree: its own, or for a mirror the tree it mirrors, with the family whose units that tree counts
    const trees = new Map<number, { tree: FamilyTree; family: number }>();
    let mirroring = 0;
    for (let size = 0; size < Math.max(1, bySize.length); size++) {
      const level = bySize[size] ?? [];
      this.o.rng.shuffle(level);
      const order: Node[] = [];
      const mirrors = new Map<FamilyTree, Map<number, bigint>>();
      for (const f of size === 0 ? [0, ...level] : level) {
        const mirror = size === 0 ? undefined : this.mirrorBase(f, index, trees);
        if (mirror === undefined) {
          trees.set(f, { tree: { reps: new Set(), read: new Set(), classes: new Map(), nodes: [], unitCount: this.families[f].unitCount }, family: f });
          order.push(root(f));
          continue;
        }
        trees.set(f, mirror);
        const removed = this.families[mirror.family].unitCount - this.families[f].unitCount;
        const byRemoved = mirrors.get(mirror.tree) ?? new Map<number, bigint>();
        mirrors.set(mirror.tree, byRemoved);
        byRemoved.set(removed, (byRemoved.get(removed) ?? 0n) + 1n);
        mirroring++;
        if (this.o.members !== undefined) for (const m of mirror.tree.nodes) this.listMembers({ ...m.node, f }, m.rep, m.room, m.basePatch);
      }
      for (let at = 0; at < order.length; at++) {
        const node = order[at];
        order.push(...this.resolve(node, size === 0 && at === 0, trees.get(node.f)?.tree));
      }
      for (const [tree, byRemoved] of mirrors) this.settleMirrors(tree, byRemoved);
      if (size === 0 && this.bulk !== undefined) mirroring += this.expandBulk(this.bulk, trees, bySize, index);
    }
    const inBound = this.families.reduce((n, f) => n + subsetCount(f.unitCount, this.o.k), this.bulkInBound + (this.o.held === true ? 0n : 1n));
    assert(this.covered <= inBound, () => `covered ${this.covered} states of a bound of ${inBound}`);
    const reps = this.reps.filter((r) => this.used.has(r.id));
    const tree = this.o.held === true ? trees.get(0)?.tree : undefined;
    return { inBound, covered: this.covered, judged: this.judged, counts: this.counts, examples: this.examples, mirrored: mirroring, reps, ...(tree === undefined ? {} : { tree }) };
  }

  /**
   * The tree family f mirrors, if any: that of a family less one of f's items (its prefix,
   * for one item) none of whose representatives read a line where f's g differs from that
   * family's (the first such, in the order of f's items). A mirror's own mirrors share its
   * tree; `family` is the one whose units the tree counts. A tree the limit left unfinished
   * is mirrored as far as it was settled: the nodes left out are left out of its mirrors too
   * (they had no representative to read anything), and counted as not covered.
   */
  private mirrorBase(f: number, index: ReadonlyMap<number, ReadonlyMap<number | string, number>>, trees: ReadonlyMap<number, { tree: FamilyTree; family: number }>): { tree: FamilyTree; family: number } | undefined {
    const fam = this.families[f];
    const n = fam.subset.length;
    const quiet = this.quietItems.get(fam.epochs);
    for (const item of fam.subset) {
      const rest = n === 2 ? fam.subset[fam.subset[0] === item ? 1 : 0] : itemsKey(fam.subset.filter((i) => i !== item));
      // the family of quiet items only (bulk mode: not listed) mirrors its prefix's tree, with the prefix's g elsewhere
      const restQuiet = quiet !== undefined && fam.subset.every((i) => i === item || quiet.has(i));
      const base = n === 1 || restQuiet ? fam.prefix : index.get(fam.epochs)?.get(rest);
      const of = base === undefined ? undefined : trees.get(base);
      if (base === undefined || of === undefined) continue;
      const was = this.families[base].changed;
      let reads = false;
      for (const [line, v] of fam.changed) {
        if (was.get(line) !== v && of.tree.read.has(line)) {
          reads = true;
          break;
        }
      }
      if (!reads) return of;
    }
    return undefined;
  }

  /**
   * Bulk mode, once the prefixes' trees are settled: the families of each prefix made of
   * quiet items only are counted, the others listed. An item is quiet when what it alone
   * changes is at most one line, that no other item of its epoch changes and no
   * representative of the prefix's tree read. A family of quiet items then differs from its
   * prefix only on unread lines, and by induction over its items (each family less one item
   * mirrors the prefix's tree: `mirrorBase`) it mirrors the prefix's tree with the units its
   * items cover removed, their removals adding up (distinct lines). Those families are
   * counted by size and units removed, none built; the families with a loud item are listed
   * and resolved as any family (a family of one loud item and quiet ones may still mirror).
   * Returns the families counted.
   */
  private expandBulk(source: FamilySource, trees: ReadonlyMap<number, { tree: FamilyTree; family: number }>, bySize: number[][], index: Map<number, Map<number | string, number>>): number {
    const k = this.o.k;
    let counted = 0n;
    for (const e of source.prefixes) {
      const items = source.items[e];
      const m = items.length;
      const of = trees.get(e);
      if (m === 0 || of === undefined) continue;
      const steps = items.map((_, i) => source.step(e, i));
      const changers = new Map<number, number>();
      for (const step of steps) for (const line of step.changed.keys()) changers.set(line, (changers.get(line) ?? 0) + 1);
      const quiet: number[] = [];
      const loud: number[] = [];
      steps.forEach((step, i) => {
        const alone = step.changed.size <= 1 && [...step.changed.keys()].every((line) => changers.get(line) === 1 && !of.tree.read.has(line));
        (alone ? quiet : loud).push(i);
      });
      this.quietItems.set(e, new Set(quiet.map((i) => items[i])));
      // families of quiet items by size and units removed (a family of all m items is the next prefix)
      const bySum: Map<number, bigint>[] = [new Map([[0, 1n]])];
      for (const i of quiet) {
        const r = steps[i].removed;
        for (let size = Math.min(k, bySum.length); size >= 1; size--) {
          const from = bySum[size - 1];
          const to = (bySum[size] ??= new Map());
          for (const [sum, n] of from) to.set(sum + r, (to.get(sum + r) ?? 0n) + n);
        }
      }
      if (quiet.length === m && m <= k) {
        const all = quiet.reduce((sum, i) => sum + steps[i].removed, 0);
        bySum[m].set(all, (bySum[m].get(all) as bigint) - 1n);
      }
      const byRemoved = new Map<number, bigint>();
      for (let size = 1; size < bySum.length; size++) for (const [sum, n] of bySum[size]) byRemoved.set(sum, (byRemoved.get(sum) ?? 0n) + n);
      const prefixUnits = this.families[e].unitCount;
      for (const [removed, n] of byRemoved) {
        counted += n;
        this.bulkInBound += n * subsetCount(prefixUnits - removed, k);
      }
      this.settleMirrors(of.tree, byRemoved);
      // the families with at least one loud item, listed
      const byItems = index.get(e) ?? new Map<number | string, number>();
      index.set(e, byItems);
      for (const pickLoud of subsetsUpTo(loud.length, k)) {
        if (pickLoud.length === 0) continue;
        for (const pickQuiet of subsetsUpTo(quiet.length, k - pickLoud.length)) {
          const subset = [...pickLoud.map((i) => loud[i]), ...pickQuiet.map((i) => quiet[i])].sort((a, b) => a - b);
          if (subset.length === m) continue;
          const f = this.families.length;
          const fam = source.family(e, subset, e);
          this.families.push(fam);
          (bySize[subset.length] ??= []).push(f);
          if (subset.length < k) byItems.set(itemsKey(fam.subset), f);
        }
      }
    }
    return Number(counted);
  }

  /** Settle a node's class and return its children (the states that raise a unit its representative read). */
  private resolve(node: Node, always: boolean, tree?: FamilyTree): Node[] {
    const rep = this.repFor(node, always);
    if (rep === undefined) return [];
    const basePatch = rep.judgement.parts.data === undefined ? new Map<number, Uint8Array>() : this.contentDiff(node, rep);
    const part = this.partitionOf(node, rep, basePatch);
    const room = this.o.k - node.t.length;
    if (tree !== undefined && !tree.reps.has(rep.id)) {
      tree.reps.add(rep.id);
      for (const line of rep.struct.keys()) tree.read.add(line);
      for (const line of rep.content.keys()) tree.read.add(line);
    }
    if (tree !== undefined && this.o.members !== undefined) tree.nodes.push({ node, rep, room, basePatch });
    this.settleClass(node, rep, part, room, basePatch, tree);
    if (room === 0 || part.structural.length === 0) return [];
    const structural = [...part.structural];
    this.o.rng.shuffle(structural);
    const decided = node.upTo === 0 ? node.decided : [...node.decided, ...node.order.slice(0, node.upTo)];
    return structural.map((p, i) => ({ f: node.f, t: [...node.t, this.allUnits[p].unit].sort((a, b) => a - b), decided, order: structural, upTo: i + 1 }));
  }

  /** The families that mirror a tree, settled by counting (`mirrorClasses`); `byRemoved` counts them by units removed. */
  private settleMirrors(tree: FamilyTree, byRemoved: ReadonlyMap<number, bigint>): void {
    for (const [removed, families] of byRemoved) {
      const m = mirrorClasses(tree, removed, families);
      this.covered += m.covered;
      for (const [p, n] of m.counts) this.count(p, n);
    }
  }

  /**
   * The partition of a node's undecided units. A family's root node (nothing decided) of a
   * few items on top of its prefix starts from the prefix root's partition under the same
   * representative and redoes only the lines whose g the items raised: elsewhere both hold
   * the same units, the same bytes and so the same neutral answers (cached by the line's g).
   */
  private partitionOf(node: Node, rep: Rep, basePatch: ReadonlyMap<number, Uint8Array>): Partition {
    const fam = this.families[node.f];
    if (node.t.length > 0) return this.classify(node, rep, this.families[node.f].units, basePatch, this.markDecided(node));
    if (fam.prefix === node.f) return this.prefixPartition(node.f, rep, basePatch);
    const data = rep.judgement.parts.data;
    const from = this.prefixPartition(fam.prefix, rep);
    const prefixG = this.families[fam.prefix].g;
    const structural = from.structural.filter((p) => {
      const u = this.allUnits[p];
      const v = fam.changed.get(u.line);
      return v === undefined || u.unit > v;
    });
    let others = from.others;
    const moving = new Set(from.moving);
    let enumerated = from.enumerated.filter((u) => !fam.changed.has(u.line));
    for (const [line, v] of fam.changed) {
      if (rep.struct.has(line)) continue;
      moving.delete(line);
      const below = prefixG.get(line) as number;
      const onLine = (this.unitsOfLine.get(line) ?? []).filter((u) => u.unit > below);
      const left = onLine.filter((u) => u.unit > v);
      others -= onLine.length - left.length;
      if (data !== undefined && rep.content.has(line) && left.some((u) => !this.isNeutral(node, rep, u, basePatch))) {
        moving.add(line);
        enumerated.push(...left);
      }
    }
    if (moving.size > 0) enumerated = enumerated.sort((a, b) => (this.position.get(a.unit) as number) - (this.position.get(b.unit) as number));
    return { structural, others, moving, enumerated };
  }

  /** The partition of prefix family f's root node under `rep` (cached; `basePatch` when the caller has it). */
  private prefixPartition(f: number, rep: Rep, basePatch?: ReadonlyMap<number, Uint8Array>): Partition {
    const key = `${rep.id}|${f}`;
    let part = this.prefixPartitions.get(key);
    if (part === undefined) {
      const node: Node = { f, t: [], decided: [], order: [], upTo: 0 };
      const patch = basePatch ?? (rep.judgement.parts.data === undefined ? new Map<number, Uint8Array>() : this.contentDiff(node, rep));
      part = this.classify(node, rep, this.families[f].units, patch);
      this.prefixPartitions.set(key, part);
    }
    return part;
  }

  /** The family's units a node has not decided (raised or not), in unit-list order. */
  private undecided(node: Node): RaisableUnit[] {
    const mark = this.markDecided(node);
    return this.families[node.f].units.filter((u) => this.marks[this.position.get(u.unit) as number] !== mark);
  }

  /** Marks the node's decided units (by position) with a fresh serial, returned: a unit is undecided when its mark is not it. */
  private markDecided(node: Node): number {
    const mark = ++this.serial;
    for (const p of node.decided) this.marks[p] = mark;
    for (let i = 0; i < node.upTo; i++) this.marks[node.order[i]] = mark;
    return mark;
  }

  /**
   * Sort `units` (a node's undecided units; with `decided`, the units whose mark is not that
   * serial: `markDecided`, no list made) by what the representative read of their lines.
   */
  private classify(node: Node, rep: Rep, units: readonly RaisableUnit[], basePatch: ReadonlyMap<number, Uint8Array>, decided?: number): Partition {
    const data = rep.judgement.parts.data;
    const structural: number[] = [];
    let others = 0;
    const content: RaisableUnit[] = [];
    const moving = new Set<number>();
    for (const u of units) {
      if (decided !== undefined && this.marks[this.position.get(u.unit) as number] === decided) continue;
      if (rep.struct.has(u.line)) {
        structural.push(this.position.get(u.unit) as number);
        continue;
      }
      others++;
      if (data === undefined || !rep.content.has(u.line)) continue;
      content.push(u);
      if (!moving.has(u.line) && !this.isNeutral(node, rep, u, basePatch)) moving.add(u.line);
    }
    return { structural, others, moving, enumerated: content.filter((u) => moving.has(u.line)) };
  }

  /** A representative agreeing with the node's state on its structural lines: found, or judged now. */
  private repFor(node: Node, always: boolean): Rep | undefined {
    const bytes = (line: number) => this.lineBytes(node.f, node.t, line);
    const delta = this.deltaOf(node.f, node.t);
    const found = this.findRep(delta, bytes);
    if (found !== undefined) this.used.add(found.id);
    if (found !== undefined) return found;
    if (!always && this.judged >= this.o.limit) return undefined;
    return this.judge(this.stateOf(node.f, node.t), bytes, delta);
  }

  private judge(state: CrashState, bytes: (line: number) => Uint8Array, delta: Delta | null): Rep {
    this.judged++;
    const judgement = this.o.judge(state);
    const struct = new Map<number, Uint8Array>();
    const content = new Map<number, Uint8Array>();
    for (const line of this.uncertain) {
      const reads = judgement.reads;
      if (reads === undefined || reads.structural.has(line)) struct.set(line, bytes(line));
      else if (reads.content.has(line)) content.set(line, bytes(line));
    }
    for (const v of judgement.own) this.count(v.promise, 1n);
    const rep = this.addRep(judgement, struct, content, delta);
    this.used.add(rep.id);
    return rep;
  }

  /** Register a representative, indexed by its away lines (against this point's baseline). */
  private addRep(judgement: Judgement, struct: ReadonlyMap<number, Uint8Array>, content: ReadonlyMap<number, Uint8Array>, delta: Delta | null): Rep {
    const away: number[] = [];
    struct.forEach((had, line) => {
      if (!sameBytes(had, this.lineBytes(0, NO_UNITS, line))) away.push(line);
    });
    away.sort((a, b) => a - b);
    const rep: Rep = { id: this.reps.length, judgement, struct, content, delta, away };
    this.reps.push(rep);
    if (away.length === 0) {
      this.homeReps.push(rep);
    } else if (away.length > 1) {
      this.wideReps.push(rep);
    } else {
      const list = this.repsByAway.get(away[0]);
      if (list) list.push(rep);
      else this.repsByAway.set(away[0], [rep]);
    }
    return rep;
  }

  /**
   * Every state T + V of the node with V drawn from its undecided units off the
   * representative's structural lines (on lines it read as content or not at all),
   * |V| <= room: its verdict is the representative's structural one with the data of V's
   * lines (and of lines where the node's state and the representative differ) patched. Only
   * the moving units are enumerated; the quiet ones are counted.
   */
  private settleClass(node: Node, rep: Rep, part: Partition, room: number, basePatch: ReadonlyMap<number, Uint8Array>, tree?: FamilyTree): void {
    const data = rep.judgement.parts.data;
    const { enumerated } = part;
    const quiet = part.others - enumerated.length;
    if (this.o.members !== undefined) this.listMembers(node, rep, room, basePatch);
    for (const pick of subsetsUpTo(enumerated.length, room)) {
      const units = pick.map((i) => enumerated[i]);
      const size = subsetCount(quiet, room - pick.length);
      const raised = [...node.t, ...units.map((u) => u.unit)];
      // without a data judge the verdict is 'ok' whatever the lines hold: no patch to build
      let code: DataCode = 'ok';
      if (data !== undefined) {
        const lines = new Map(basePatch);
        for (const u of units) lines.set(u.line, this.lineBytes(node.f, raised, u.line));
        code = data.verdict(patchesOf(rep, lines));
      }
      this.settle(rep.judgement.parts, code, size, () => this.stateOf(node.f, raised));
      if (tree !== undefined) {
        const promises = promisesOf(rep.judgement.parts, code);
        const key = `${quiet}|${room - pick.length}|${promises.join(',')}`;
        const c = tree.classes.get(key);
        if (c !== undefined) c.n++;
        else tree.classes.set(key, { quiet, room: room - pick.length, promises, n: 1 });
      }
    }
  }

  /**
   * Whether raising content unit `u` on top of the node's state leaves every word of its line
   * with the verdict it has without it. Depends only on the representative, the unit and the
   * line's state (its g and the node's units on it), so families share the answer.
   */
  private isNeutral(node: Node, rep: Rep, u: { unit: number; line: number }, basePatch: ReadonlyMap<number, Uint8Array>): boolean {
    const fam = this.families[node.f];
    const onLine = node.t.filter((t) => this.lineOfUnit.get(t) === u.line);
    const key = `${rep.id}|${u.unit}|${fam.g.get(u.line)}|${onLine.join(',')}`;
    let neutral = this.neutralCache.get(key);
    if (neutral === undefined) {
      const before = basePatch.get(u.line);
      const base = new Map<number, Uint8Array>(before === undefined ? [] : [[u.line, before]]);
      const after = new Map([[u.line, this.lineBytes(node.f, [...onLine, u.unit], u.line)]]);
      neutral = (rep.judgement.parts.data as NonNullable<JudgedParts['data']>).neutralOver(patchesOf(rep, base), patchesOf(rep, after));
      this.neutralCache.set(key, neutral);
    }
    return neutral;
  }

  /** The all-newest state: matched to a representative, or judged (always). */
  private settleNewest(): void {
    const bytes = (line: number) => this.point.newestLineBytes(line);
    const rep = this.findRep(null, bytes) ?? this.judge({ kind: 'newest' }, bytes, null);
    this.used.add(rep.id);
    const data = rep.judgement.parts.data;
    const lines = new Map<number, Uint8Array>();
    for (const [line, had] of rep.content) {
      const now = bytes(line);
      if (!sameBytes(now, had)) lines.set(line, now);
    }
    const code: DataCode = data === undefined ? 'ok' : data.verdict(patchesOf(rep, lines));
    this.o.members?.each({ kind: 'newest' }, promisesOf(rep.judgement.parts, code));
    this.settle(rep.judgement.parts, code, 1n, () => ({ kind: 'newest' }));
  }

  /** Members of a class with their own verdicts, each data verdict patched afresh (tests). */
  private listMembers(node: Node, rep: Rep, room: number, basePatch: ReadonlyMap<number, Uint8Array>): void {
    const members = this.o.members as NonNullable<ExploreOptions['members']>;
    const others = this.undecided(node).filter((u) => !rep.struct.has(u.line));
    const data = rep.judgement.parts.data;
    const report = (pick: readonly number[]) => {
      const raised = [...node.t, ...pick.map((i) => others[i].unit)];
      const lines = new Map(basePatch);
      for (const i of pick) if (rep.content.has(others[i].line)) lines.set(others[i].line, this.lineBytes(node.f, raised, others[i].line));
      const code: DataCode = data === undefined ? 'ok' : data.verdict(patchesOf(rep, lines));
      members.each(this.stateOf(node.f, raised), promisesOf(rep.judgement.parts, code));
    };
    if (members.sample === undefined) {
      for (const pick of subsetsUpTo(others.length, room)) report(pick);
      return;
    }
    const { rng, perClass } = members.sample;
    for (let n = 0; n < perClass; n++) {
      const size = rng.below(Math.min(room, others.length) + 1);
      const pick = new Set<number>();
      while (pick.size < size) pick.add(rng.below(others.length));
      report([...pick].sort((a, b) => a - b));
    }
  }

  /** Count `size` states with the representative's structural verdict and data code `code`. */
  private settle(parts: JudgedParts, code: DataCode, size: bigint, member: () => CrashState): void {
    this.covered += size;
    const promises = promisesOf(parts, code);
    if (promises.length === 0 || size === 0n) return;
    for (const p of promises) this.count(p, size);
    if (promises.some((p) => this.o.wants(p) && !this.examples.some((e) => e.promises.includes(p)))) {
      this.examples.push({ state: member(), promises });
    }
  }

  private count(promise: PromiseId, size: bigint): void {
    this.counts.set(promise, (this.counts.get(promise) ?? 0) + Number(size));
  }

  /** Content lines where the node's state (T raised) holds other bytes than the representative. */
  private contentDiff(node: Node, rep: Rep): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    const visit = (line: number) => {
      const had = rep.content.get(line);
      if (had === undefined || out.has(line)) return;
      const now = this.lineBytes(node.f, node.t, line);
      if (!sameBytes(now, had)) out.set(line, now);
    };
    if (rep.delta === null) {
      for (const line of rep.content.keys()) visit(line);
    } else {
      this.deltaOf(node.f, node.t).forEach(visit);
      rep.delta.forEach(visit);
    }
    return out;
  }

  /**
   * The line's bytes in family f's state with `raised` raised (cached by line and g, or g and
   * the raised units on the line). Asked for nearly every line of every state compared, so
   * the common case (no raised unit on the line) allocates nothing.
   */
  private lineBytes(f: number, raised: readonly number[], line: number): Uint8Array {
    const g = this.families[f].g.get(line);
    if (g === undefined) assert(false, `line ${line} is not uncertain here`);
    let onLine = false;
    for (let i = 0; i < raised.length && !onLine; i++) onLine = this.lineOfUnit.get(raised[i]) === line;
    if (!onLine) {
      let byG = this.bytesAtG.get(line);
      if (byG === undefined) {
        byG = new Map();
        this.bytesAtG.set(line, byG);
      }
      let bytes = byG.get(g);
      if (bytes === undefined) {
        bytes = this.point.lineBytes(line, g, NO_UNITS);
        byG.set(g, bytes);
      }
      return bytes;
    }
    const mine = raised.filter((u) => this.lineOfUnit.get(u) === line);
    return cached(this.bytesRaised, line, `${g}|${mine.join(',')}`, () => this.point.lineBytes(line, g, mine));
  }

  private stateOf(f: number, units: readonly number[]): CrashState {
    const fam = this.families[f];
    return { kind: 'bounded', epochs: fam.epochs, subset: fam.subset, units: [...units].sort((a, b) => a - b) };
  }
}

/** No units raised (shared: never changed). */
const NO_UNITS: readonly number[] = Object.freeze([]);

/** A family's items as a map key (one item: its number, no string made). */
function itemsKey(subset: readonly number[]): number | string {
  return subset.length === 1 ? subset[0] : subset.join(',');
}

function cached<K, V>(maps: Map<number, Map<K, V>>, line: number, key: K, make: () => V): V {
  let byLine = maps.get(line);
  if (byLine === undefined) {
    byLine = new Map();
    maps.set(line, byLine);
  }
  let value = byLine.get(key);
  if (value === undefined) {
    value = make();
    byLine.set(key, value);
  }
  return value;
}

/** The promises a structural verdict and a data code break, in the order a full judgement lists them. */
function promisesOf(parts: JudgedParts, code: DataCode): PromiseId[] {
  const promises: PromiseId[] = [];
  for (const v of [parts.g1, parts.g2, parts.namespace]) if (v !== undefined) promises.push(v.promise);
  if (code !== 'ok') promises.push(code);
  if (parts.g8 !== undefined) promises.push('G8');
  return promises;
}

/** The word patches of changed content lines, in the representative's files. */
function patchesOf(rep: Rep, lines: ReadonlyMap<number, Uint8Array>): DataPatches {
  const out = new Map<number, Map<number, Uint8Array>>();
  const places = rep.judgement.reads?.content;
  for (const [line, bytes] of lines) {
    for (const place of places?.get(line) ?? []) {
      let words = out.get(place.ino);
      if (words === undefined) {
        words = new Map();
        out.set(place.ino, words);
      }
      for (let w = 0; w < bytes.length; w += 8) words.set(place.offset + w, bytes.subarray(w, w + 8));
    }
  }
  return out;
}

function agrees(struct: ReadonlyMap<number, Uint8Array>, bytes: (line: number) => Uint8Array): boolean {
  for (const [line, had] of struct) if (!sameBytes(bytes(line), had)) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  // line bytes come from the explorer's caches: the same array is often compared with itself
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
