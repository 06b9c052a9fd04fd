/**
 * The campaign table of a report, as text: one row per setup with the workloads run, the
 * states checked and their coverage, the G9 recovery states, findings per promise and the
 * simulated cost per operation. The library's `campaignTable` and the demo print it; the CLI's
 * renderers (cli/summary.ts) use the same column alignment.
 */
import { PROMISES } from './check';
import type { Report } from './report';
import { policyLabel } from './setup';

/** Rows of cells as lines, each column as wide as its widest cell (the last one unpadded). */
export function textTable(rows: readonly (readonly string[])[]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

/** One row per setup of the report (skipped setups as such). */
export function campaignTable(report: Report): string {
  const header = ['profile', 'pmem API', 'policy', 'workloads', 'states', 'coverage', 'recovery states', ...PROMISES, 'ns/op'];
  const rows = report.combos.map((c) => [
    c.setup.profile, c.setup.pmemApi, policyLabel(c.setup), String(c.units), String(c.statesChecked), `${(c.coverage * 100).toFixed(1)}%`,
    String(c.recoveryStatesChecked), ...PROMISES.map((p) => String(c.findingCounts[p])), c.cost.costNanosPerOp.toFixed(0),
  ]);
  const skipped = report.run.skipped.map((s) => [...s.setup.split(' '), 'skipped', ...header.slice(4).map(() => '')]);
  return textTable([header, ...rows, ...skipped]).join('\n');
}
