/**
 * Shrinking: reduce a failing workload while the same promise still breaks, then pick, among
 * the smallest workload's findings of that promise, the crash state with the fewest
 * non-default choices. Deterministic: candidates are tried in a fixed order (drop each
 * operation, last first; halve each write; shorten names) and the first that still fails is
 * kept, until a pass changes nothing or the try budget runs out.
 *
 * The original workload's own run counts as the first try. A caller that already saw the
 * workload break the promise (a campaign's record of the same unit) can say so
 * (`knownFailing`): that run is then made only if no candidate breaks it, since only then is
 * its finding the one returned. Every engine run is deterministic, so the result and the
 * tries are the same either way.
 */
import { assert } from '../core/assert';
import type { CrashState } from '../device/crash';
import type { Op, Workload } from '../workloads/ops';
import type { PromiseId } from './check';
import { EngineOptions, Finding, runUnit } from './engine';

/** Engine runs a shrink may spend (each is one workload's full exploration). */
export const MAX_SHRINK_TRIES = 200;

export interface ShrinkResult {
  readonly workload: Workload;
  readonly finding: Finding;
  /** Engine runs spent, the first (the original workload) included. */
  readonly tries: number;
  /** What each accepted step did. */
  readonly steps: readonly string[];
}

export function shrink(workload: Workload, promise: PromiseId, options: EngineOptions, budget = MAX_SHRINK_TRIES, knownFailing = false): ShrinkResult {
  let tries = 0;
  const run = (w: Workload): Finding | undefined => pick(runUnit(w, { ...options, keepPerPromise: 64 }).findings.filter((f) => f.promise === promise));
  const fails = (w: Workload): Finding | undefined => {
    tries++;
    return run(w);
  };
  const original = () => {
    const found = run(workload);
    assert(found !== undefined, () => `workload ${workload.name} does not break ${promise}: nothing to shrink`);
    return found;
  };
  // the original's run is the first try whether it is made now or only when nothing is accepted
  tries++;
  let best = knownFailing ? undefined : original();
  let current = workload;
  const steps: string[] = [];
  for (let changed = true; changed && tries < budget;) {
    changed = false;
    for (const [candidate, what] of candidates(current)) {
      if (tries >= budget) break;
      const found = fails(candidate);
      if (found === undefined) continue;
      current = candidate;
      best = found;
      steps.push(what);
      changed = true;
      break;
    }
  }
  return { workload: current, finding: best ?? original(), tries, steps };
}

/** Reductions of a workload, smallest change first within each kind. */
function* candidates(w: Workload): Generator<[Workload, string]> {
  for (let i = w.ops.length - 1; i >= 0; i--) {
    yield [{ name: `${w.name}-${i}`, ops: [...w.ops.slice(0, i), ...w.ops.slice(i + 1)] }, `dropped operation ${i + 1} (${w.ops[i].op})`];
  }
  for (let i = 0; i < w.ops.length; i++) {
    const op = w.ops[i];
    if ((op.op === 'write' || op.op === 'pwrite') && op.length > 1) {
      const shorter: Op = { ...op, length: Math.floor(op.length / 2) };
      yield [{ name: `${w.name}-w${i}`, ops: w.ops.map((o, k) => (k === i ? shorter : o)) }, `halved write ${i + 1} to ${shorter.length} bytes`];
    }
  }
}

/** The finding whose crash state makes the fewest non-default choices. */
function pick(findings: readonly Finding[]): Finding | undefined {
  let best: Finding | undefined;
  for (const f of findings) if (best === undefined || choices(f.crashState) < choices(best.crashState)) best = f;
  return best;
}

export function choices(state: CrashState): number {
  switch (state.kind) {
    case 'bounded': return state.epochs + state.subset.length + state.units.length;
    case 'cut': return state.epochs + state.subset.length + state.cut;
    case 'newest': return Number.MAX_SAFE_INTEGER / 2;
    case 'sampled': return Number.MAX_SAFE_INTEGER / 4;
    case 'explicit': return state.choices.completed.length + state.choices.lines.length;
  }
}
