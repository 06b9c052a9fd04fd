/**
 * The campaign table of a report, as text: one row per setup with the workloads run, the
 * states checked and their coverage, the G9 recovery states, findings per promise and the
 * simulated cost per operation. The library's `campaignTable` and the demo print it; the CLI's
 * renderers (cli/summary.ts) use the same column alignment.
 */
import { PROMISES } from './check';
import type { ComboReport, Report } from './report';
import { policyLabel } from './setup';

/** Rows of cells as lines, each column as wide as its widest cell (the last one unpadded). */
export function textTable(rows: readonly (readonly string[])[]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

/**
 * A combination's coverage as a person reads it: states covered (judged, or proven
 * equivalent to a judged one) over the states of the bound, rounded down (never 100.0%
 * unless all are), or `n/a` for sampled runs (their draws cover themselves only).
 */
export function coverageText(report: Report, coverage: number): string {
  if (report.run.options.states.kind === 'sampled') return 'n/a';
  return `${(Math.floor(coverage * 1000) / 10).toFixed(1)}%`;
}

/**
 * The states column: for a bounded run the states of the bound (past 12 digits as 1.3e154:
 * a bound grows with the uncertain lines, up to 2^512 at one point), for a sampled run the
 * states drawn and judged (the model they are drawn from has no useful size to print).
 */
export function statesText(report: Report, combo: ComboReport): string {
  return report.run.options.states.kind === 'sampled' ? String(combo.statesChecked) : countText(combo.statesInBound);
}

/** A decimal count as is up to 12 digits, beyond that as d.de+N. */
export function countText(decimal: string): string {
  return decimal.length <= 12 ? decimal : `${decimal[0]}.${decimal[1]}e${decimal.length - 1}`;
}

/** One row per setup of the report (skipped setups as such): states of the bound, coverage, states judged. */
export function campaignTable(report: Report): string {
  const header = ['profile', 'pmem API', 'policy', 'workloads', 'states', 'coverage', 'judged', 'recovery states', ...PROMISES, 'ns/op'];
  const rows = report.combos.map((c) => [
    c.setup.profile, c.setup.pmemApi, policyLabel(c.setup), String(c.units), statesText(report, c), coverageText(report, c.coverage),
    String(c.statesChecked), String(c.recoveryStatesChecked), ...PROMISES.map((p) => String(c.findingCounts[p])), c.cost.costNanosPerOp.toFixed(0),
  ]);
  const skipped = report.run.skipped.map((s) => [...s.setup.split(' '), 'skipped', ...header.slice(4).map(() => '')]);
  return textTable([header, ...rows, ...skipped]).join('\n');
}
