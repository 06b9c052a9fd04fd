/**
 * Text and JUnit renderings of a report (crash/report.ts). They take the Report and nothing
 * else, so every renderer (these, and an HTML one) shows the same run the same way.
 */
import { PROMISES } from '../crash/check';
import type { ComboReport, Report } from '../crash/report';
import { coverageText, statesText, textTable } from '../crash/report-text';
import { policyLabel, setupLabel } from '../crash/setup';

/** One row per combination: units, states, coverage, G9 states, findings per promise, cost. */
export function summaryTable(report: Report): string {
  const header = ['setup', 'units', 'states', 'coverage', 'judged', 'G9 states', 'images', ...PROMISES, 'failing', 'ns/op', 'cleans/op', 'barriers/op'];
  const rows = report.combos.map((c) => [
    c.label, String(c.units), statesText(report, c), coverageText(report, c.coverage), String(c.statesChecked), String(c.recoveryStatesChecked), String(c.uniqueImages),
    ...PROMISES.map((p) => String(c.findingCounts[p])), String(c.failingWorkloads),
    c.cost.costNanosPerOp.toFixed(0), c.cost.cleansPerOp.toFixed(1), c.cost.barriersPerOp.toFixed(1),
  ]);
  const lines = report.combos.length > 0 ? textTable([header, ...rows]) : [];
  if (report.mmap.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(...textTable([['mmap profile', 'drain', 'units', 'states', 'lost records', 'first loss'],
      ...report.mmap.map((m) => [m.profile, m.drain, String(m.units), String(m.statesChecked), String(m.lostRecords), m.firstLoss ?? '-'])]));
  }
  return lines.join('\n');
}

/** The comparison: cost per operation against the first setup, next to the findings. */
export function compareTable(report: Report): string {
  const base = report.combos.find((c) => c.units > 0);
  const ratio = (c: ComboReport) => (base === undefined || base.cost.costNanosPerOp === 0 ? '-' : `${(c.cost.costNanosPerOp / base.cost.costNanosPerOp).toFixed(2)}x`);
  const header = ['profile', 'pmem API', 'policy', 'states', 'coverage', ...PROMISES, 'ns/op', 'vs first', 'cleans/op', 'barriers/op'];
  const rows = report.combos.map((c) => [
    c.setup.profile, c.setup.pmemApi, policyLabel(c.setup), statesText(report, c), coverageText(report, c.coverage),
    ...PROMISES.map((p) => String(c.findingCounts[p])), c.cost.costNanosPerOp.toFixed(0), ratio(c), c.cost.cleansPerOp.toFixed(1), c.cost.barriersPerOp.toFixed(1),
  ]);
  return textTable([header, ...rows]).join('\n');
}

/** For each kind of finding: what broke, where first, the shrunk token and the repro command. */
export function findingsText(report: Report): string {
  const losses = report.mmap.filter((m) => m.lostRecords > 0);
  const mmapLines = losses.map((m) => `mmap ${m.drain} on ${m.profile}: ${m.lostRecords} crash states with a flag set and its record not complete; first: ${m.firstLoss ?? '-'}`);
  if (report.kinds.length === 0) return mmapLines.length === 0 ? 'no findings' : mmapLines.join('\n');
  const lines: string[] = [...mmapLines, ...(mmapLines.length > 0 ? [''] : []), `${report.kinds.length} kind${report.kinds.length === 1 ? '' : 's'} of finding (promise x setup):`];
  for (const k of report.kinds) {
    lines.push('');
    lines.push(`${k.promise} on ${k.setup}: ${k.count} crash state${k.count === 1 ? '' : 's'} in ${k.units} workload${k.units === 1 ? '' : 's'}`);
    const f = k.first;
    const where = f.position === undefined ? '' : ` after ${f.position.done} operation${f.position.done === 1 ? '' : 's'}${f.position.inFlight ? ' (one in flight)' : ''}, crash point ${f.crashPoint}`;
    lines.push(`  first: ${f.workload}${where}`);
    lines.push(...f.diff.split('\n').slice(0, 4).map((l) => `    ${l}`));
    if (k.shrunk !== null) {
      lines.push(`  shrunk: ${k.shrunk.originalOperations} -> ${k.shrunk.operations} operations in ${k.shrunk.tries} engine runs`);
      lines.push(`  token:  ${k.shrunk.token}`);
    } else if (f.token !== undefined) {
      lines.push(`  token:  ${f.token}`);
    }
    if (k.repro !== null) lines.push(`  reproduce: ${k.repro}`);
  }
  return lines.join('\n');
}

export function footer(report: Report, resultsFile: string | undefined): string {
  const t = report.totals;
  const parts = [`${t.units} units, ${t.statesChecked} crash states checked, ${t.findings} findings in ${t.failingUnits} unit${t.failingUnits === 1 ? '' : 's'}`];
  if (!report.complete && report.run.plannedUnits !== null) parts.push('(incomplete: not every planned unit has a result)');
  return [parts.join(' '), `results digest ${report.digest}`, ...(resultsFile === undefined ? [] : [`results in ${resultsFile}`])].join('\n');
}

/** JUnit XML: one test case per unit (workload x setup), failing when it has findings. */
export function junitXml(report: Report): string {
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  for (const u of report.units) {
    if (u.kind === 'fs') {
      const label = setupLabel(u.setup);
      const counts = Object.entries(u.findingCounts).filter(([, n]) => (n ?? 0) > 0);
      let body = '';
      if (counts.length > 0) {
        failures++;
        const first = u.findings[0];
        const message = counts.map(([p, n]) => `${p}: ${n}`).join(', ');
        body = `<failure message="${xml(message)}" type="finding">${xml([first?.diff ?? '', first?.token === undefined ? '' : `daxcrash repro ${first.token}`].join('\n'))}</failure>`;
      }
      cases.push(`    <testcase classname="daxcrash.${xml(label)}" name="${xml(u.workloadName)}">${body}</testcase>`);
    } else {
      let body = '';
      if (u.lostRecords > 0) {
        failures++;
        body = `<failure message="${u.lostRecords} lost records" type="finding">${xml(u.firstLoss ?? '')}</failure>`;
      }
      cases.push(`    <testcase classname="daxcrash.mmap.${xml(u.profile)}" name="${xml(u.drain)}">${body}</testcase>`);
    }
  }
  for (const s of report.run.skipped) {
    skipped++;
    cases.push(`    <testcase classname="daxcrash.skipped" name="${xml(s.setup)}"><skipped message="${xml(s.reason)}"/></testcase>`);
  }
  const total = cases.length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="daxcrash" tests="${total}" failures="${failures}" skipped="${skipped}">`,
    `  <testsuite name="daxcrash run seed ${xml(report.run.seeds.join(','))}" tests="${total}" failures="${failures}" skipped="${skipped}">`,
    `    <properties><property name="digest" value="${report.digest}"/></properties>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function xml(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '?').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
