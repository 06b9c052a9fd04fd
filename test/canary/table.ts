/**
 * `npm run canary`: the canary catalog as a table (bug, promise broken, where it was first
 * caught, states until the first finding, the shrunk workload and its token length), from
 * the same hunt as the catalog test. Shrinking runs with the canary on, while the catalog's
 * promise still breaks, within a budget of engine runs per canary. Prints each shrunk token,
 * which test/scenarios/canary.test.ts replays.
 *
 * Usage: npm run canary [-- --budget N] [-- --json]
 */
import { baseImage } from '../../crash/engine';
import { CANARIES } from '../../core/canary';
import { DEVICE_BYTES, hunt, sample, shrinkCaught } from './catalog';

function main(argv: readonly string[]): number {
  const budgetAt = argv.indexOf('--budget');
  const budget = budgetAt >= 0 ? Number(argv[budgetAt + 1]) : 60;
  if (!Number.isInteger(budget) || budget < 1) {
    process.stderr.write('canary: --budget takes a positive whole number of engine runs\n');
    return 2;
  }
  const json = argv.includes('--json');
  baseImage(DEVICE_BYTES);
  const all = sample();
  const rows: Array<Record<string, string | number>> = [];
  let missed = 0;
  for (const c of CANARIES) {
    const k = hunt(c.name, all);
    if (k === undefined) {
      missed++;
      rows.push({ bug: c.name, promise: c.breaks, caught: 'NO' });
      process.stderr.write(`${c.name}: not caught\n`);
      continue;
    }
    const s = shrinkCaught(c.name, k, c.breaks, budget);
    rows.push({
      bug: c.name, promise: c.breaks, found: k.promises, setup: k.setup, states: k.states,
      workload: k.workload, shrunkOps: s.operations, tries: s.tries, tokenChars: s.token.length, token: s.token,
    });
    process.stderr.write(`${c.name}: ${k.states} states, shrunk to ${s.operations} ops in ${s.tries} tries\n`);
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    process.stdout.write('| bug | promise | first found (counts) | setup | states until first finding | shrunk ops (tries) | token chars |\n');
    process.stdout.write('| --- | --- | --- | --- | --- | --- | --- |\n');
    for (const r of rows) {
      process.stdout.write(r.caught === 'NO'
        ? `| ${r.bug} | ${r.promise} | not caught | | | | |\n`
        : `| ${r.bug} | ${r.promise} | ${r.found} | ${r.setup} | ${r.states} | ${r.shrunkOps} (${r.tries}) | ${r.tokenChars} |\n`);
    }
    process.stdout.write('\nshrunk tokens:\n');
    for (const r of rows) if (r.token !== undefined) process.stdout.write(`${r.bug} ${r.promise} ${r.token}\n`);
  }
  return missed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
