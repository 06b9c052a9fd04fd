/**
 * `daxcrash litmus`: runs the litmus catalogue (spec/persistence-model.md section 6 and the
 * tests derived from its instruction table) exhaustively and prints, for each test, the
 * outcomes it must reach (R), those it must never show (F), and what the model reached.
 * Exhaustive, so there is no seed to print.
 */
import { ClaimResult, LITMUS_TESTS, runCatalogue } from '../device/litmus-catalog';
import { ProfileName } from '../device/profiles';
import { textTable } from '../crash/report-text';

export interface LitmusReport {
  readonly results: readonly ClaimResult[];
  readonly failed: number;
}

export function runLitmus(profile: ProfileName | undefined): LitmusReport {
  const results = runCatalogue(profile);
  return { results, failed: results.filter((r) => !r.ok).length };
}

export function formatLitmus(report: LitmusReport, profile: ProfileName | undefined): string {
  const lines: string[] = [];
  const scope = profile ? `profile ${profile}` : 'every profile each test names';
  lines.push(`daxcrash litmus: ${report.results.length} claims from ${LITMUS_TESTS.length} tests on ${scope}`);
  lines.push('exhaustive over every crash point, completion set, version choice and DC IVAC choice (no seed)');
  lines.push('R: must be reachable. F: must never appear. only: every outcome must lie in this set.');
  lines.push('');
  const header = ['profile', 'options', 'expected', 'reached', 'verdict'];
  let lastTest = '';
  const rows: string[][] = [];
  const flush = () => {
    if (rows.length === 0) return;
    lines.push(...textTable([header, ...rows]).map((l) => `    ${l}`));
    rows.length = 0;
  };
  for (const r of report.results) {
    if (r.test.id !== lastTest) {
      flush();
      lines.push(`${r.test.id}: ${r.test.program}   [observe ${r.test.observe.length === 1 ? 'one word' : `${r.test.observe.length} words`}]`);
      lastTest = r.test.id;
    }
    rows.push([r.profile, r.claim.options ? JSON.stringify(r.claim.options) : '-', expected(r), r.threw ? 'UndefinedInstruction' : r.reached.join(' '), verdict(r)]);
  }
  flush();
  lines.push('');
  lines.push(report.failed === 0
    ? `all ${report.results.length} claims hold: every R outcome reached, no F outcome appeared`
    : `${report.failed} of ${report.results.length} claims FAILED: the device model is wrong`);
  return lines.join('\n');
}

function expected(r: ClaimResult): string {
  if (r.claim.throws) return 'throws UndefinedInstruction';
  const parts: string[] = [];
  if (r.claim.reachable?.length) parts.push(`R ${r.claim.reachable.join(' ')}`);
  if (r.claim.forbidden?.length) parts.push(`F ${r.claim.forbidden.join(' ')}`);
  if (r.claim.only?.length) parts.push(`only ${r.claim.only.join(' ')}`);
  return parts.join('; ');
}

function verdict(r: ClaimResult): string {
  if (r.ok) return 'ok';
  const why: string[] = [];
  if (r.threw !== Boolean(r.claim.throws)) why.push(r.threw ? 'threw' : 'did not throw');
  if (r.missing.length) why.push(`missing ${r.missing.join(' ')}`);
  if (r.unexpected.length) why.push(`shows ${r.unexpected.join(' ')}`);
  return `FAIL (${why.join('; ')})`;
}
