/**
 * Memory over a long campaign: `--units N` units (default 1,000) of the bounded-1 and
 * bounded-2 suites, taking turns, on the default 1 GiB device with the engine's default
 * crash points and states, one thread, through `runCampaign` as `daxcrash run` drives it;
 * after every unit, a full garbage collection and the memory in use (V8 heap plus array
 * buffers, where the device pages live). What is in use after a unit swings with what the
 * next unit has already begun, so each tenth of the run reports its least and its most; a
 * campaign must not grow with the units it has run: the line to read is how far the least
 * rose from the first tenth to the last, against the first tenth's, in the same run.
 *
 *   npm run bench:memory [-- --units N]
 *
 * Memory is not time: the figures are the same on any machine, give or take the collector.
 */
import { runCampaign } from '../crash/campaign';
import { formatTable, memoryInUse } from './harness';

const MiB = 1 << 20;

function unitsArgument(): number {
  const at = process.argv.indexOf('--units');
  if (at < 0) return 1000;
  const n = Number(process.argv[at + 1]);
  if (!Number.isInteger(n) || n < 10) {
    console.error('bench:memory: --units takes a whole number from 10');
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const units = unitsArgument();
  const tenth = Math.max(1, Math.floor(units / 10));
  const start = memoryInUse();
  // per tenth of the run: the least and the most in use after a unit (a floor that rises is retention)
  const floors: number[] = [];
  const peaks: number[] = [];
  let done = 0;
  console.log(`memory over a campaign: ${units} units of bounded-1 and bounded-2, 1 GiB device, defaults, one thread (node ${process.version})`);
  await runCampaign({
    seeds: ['memory'],
    suites: [{ kind: 'generated', suite: 'bounded-1' }, { kind: 'generated', suite: 'bounded-2' }],
    limit: units,
    workers: 1,
  }, {
    onRecord: () => {
      const at = Math.min(Math.floor(done / tenth), 9);
      done++;
      const used = memoryInUse() - start;
      floors[at] = Math.min(floors[at] ?? Infinity, used);
      peaks[at] = Math.max(peaks[at] ?? -Infinity, used);
      if (done % tenth === 0) process.stderr.write(`  ${done}/${units} units\n`);
    },
  });
  const rows = floors.map((floor, i) => [
    `${i * tenth + 1}..${i === 9 ? units : (i + 1) * tenth}`, (floor / MiB).toFixed(1), (peaks[i] / MiB).toFixed(1),
  ]);
  console.log(formatTable(['units', 'least MiB in use after a unit', 'most'], rows));
  const growth = floors[floors.length - 1] - floors[0];
  console.log(`\nthe floor grew ${(growth / MiB).toFixed(1)} MiB from the first tenth to the last, against ${(floors[0] / MiB).toFixed(1)} MiB in the first tenth (each figure over the memory in use before the campaign)`);
}

void main();
