/**
 * `npm run canary`: the canary catalog's recall as a user runs the tool (recall.ts). For each
 * canary: caught or not, the promises broken in the first failing unit, its setup and
 * workload, units and crash states until that first finding, seconds (for information only:
 * they depend on the machine and its load), and, within a budget of engine runs, the first
 * kind of finding shrunk with its token; then `recall: X of Y`. The command each canary runs
 * is printed first; on stderr, a line as each canary ends and one every 10 units of a hunt
 * still running. The measurement does not depend on `--workers`.
 *
 * Usage: npm run canary [-- --budget-units N] [--shrink-tries N] [--workers N] [--seed S]
 *        [--canary NAME,NAME] [--points barriers|flushes|stores] [--json]
 * Exit 0 when every canary is caught, 1 otherwise, 2 on a usage error.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { textTable } from '../../crash/report-text';
import { CANARIES, CanaryName } from '../../core/canary';
import { DEFAULT_RECALL_SEED, RecallOptions, RecallRow, promiseCounts, recallArgs, recallOf } from './recall';
import type { RecallReply, RecallRequest } from './recall-worker';

/** Units a canary may run: the first 300 of the plan (suites in turn, spread over each catalogue; crash/plan.ts). */
export const DEFAULT_BUDGET_UNITS = 300;
/** Engine runs to shrink each first finding (a bounded workload is short already). */
export const DEFAULT_SHRINK_TRIES = 8;

interface TableArgs {
  readonly options: RecallOptions;
  readonly workers: number;
  readonly canaries: readonly CanaryName[];
  readonly json: boolean;
}

class ArgError extends Error {}

function main(argv: readonly string[]): Promise<number> {
  let args: TableArgs;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof ArgError)) throw err;
    process.stderr.write(`canary: ${err.message}\n`);
    return Promise.resolve(2);
  }
  process.stderr.write(`each canary switched on: daxcrash ${['run', ...recallArgs(args.options)].join(' ')}\n`);
  return hunt(args).then((rows) => {
    process.stdout.write(args.json ? `${JSON.stringify(jsonOf(args, rows), null, 2)}\n` : textOf(args, rows));
    return rows.every((r) => r.caught) ? 0 : 1;
  });
}

function parseArgs(argv: readonly string[]): TableArgs {
  const value = (flag: string): string | undefined => {
    const at = argv.indexOf(flag);
    if (at < 0) return undefined;
    if (at + 1 >= argv.length) throw new ArgError(`${flag} takes a value`);
    return argv[at + 1];
  };
  const count = (flag: string, fallback: number, min: number): number => {
    const text = value(flag);
    const n = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(n) || n < min) throw new ArgError(`${flag} takes a whole number from ${min}`);
    return n;
  };
  const names = value('--canary')?.split(',') ?? CANARIES.map((c) => c.name);
  const unknown = names.filter((n) => !CANARIES.some((c) => c.name === n));
  if (unknown.length > 0) throw new ArgError(`unknown canary ${unknown.join(', ')}`);
  const points = value('--points');
  if (points !== undefined && !['barriers', 'flushes', 'stores'].includes(points)) throw new ArgError('--points takes barriers, flushes or stores');
  const options: RecallOptions = {
    budgetUnits: count('--budget-units', DEFAULT_BUDGET_UNITS, 1),
    shrinkTries: count('--shrink-tries', DEFAULT_SHRINK_TRIES, 0),
    seed: value('--seed') ?? DEFAULT_RECALL_SEED,
    extraArgs: points === undefined ? [] : ['--points', points],
  };
  const workers = Math.min(count('--workers', os.availableParallelism(), 1), names.length);
  return { options, workers, canaries: names as CanaryName[], json: argv.includes('--json') };
}

/** Every canary's row, in catalog order, hunted on `workers` threads (this one when 1). */
async function hunt(args: TableArgs): Promise<RecallRow[]> {
  const rows = new Map<CanaryName, RecallRow>();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const done = (row: RecallRow) => {
    rows.set(row.canary, row);
    const how = row.caught ? `caught (${promiseCounts(row.promises)}) in ${row.units} units` : `not caught in ${row.units} units`;
    say(`${row.canary}: ${how}, ${row.states} states, ${row.seconds.toFixed(0)} s`);
  };
  if (args.workers <= 1) {
    for (const c of args.canaries) done(await recallOf(c, args.options, () => Date.now(), say));
  } else {
    await onWorkers(args, done, say);
  }
  return args.canaries.map((c) => rows.get(c) as RecallRow);
}

async function onWorkers(args: TableArgs, done: (row: RecallRow) => void, say: (line: string) => void): Promise<void> {
  const queue = [...args.canaries];
  const workers = Array.from({ length: args.workers }, startWorker);
  try {
    await Promise.all(workers.map(async (worker) => {
      for (let canary = queue.shift(); canary !== undefined; canary = queue.shift()) done(await ask(worker, { canary, options: args.options }, say));
    }));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function ask(worker: Worker, request: RecallRequest, say: (line: string) => void): Promise<RecallRow> {
  return new Promise((resolve, reject) => {
    // a worker answers many requests: each request's listeners go when it is answered
    const onError = (err: Error) => {
      worker.off('message', onMessage);
      reject(err);
    };
    const onMessage = (reply: RecallReply) => {
      if ('progress' in reply) {
        say(reply.progress);
        return;
      }
      worker.off('message', onMessage);
      worker.off('error', onError);
      if ('row' in reply) resolve(reply.row);
      else reject(new Error(`${request.canary}: ${reply.error}`));
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.postMessage(request);
  });
}

/** A worker thread that loads the TypeScript sources as this script does (crash/pool.ts does the same). */
function startWorker(): Worker {
  const target = path.join(__dirname, 'recall-worker.ts');
  const code = `require(${JSON.stringify(path.join(__dirname, '..', '..', 'bin', 'register.js'))});\nrequire(${JSON.stringify(target)});`;
  return new Worker(code, { eval: true });
}

function textOf(args: TableArgs, rows: readonly RecallRow[]): string {
  const header = ['canary', 'breaks', 'caught', 'promises (first failing unit)', 'setup', 'units to first', 'states to first', 'seconds', 'shrunk ops (tries)', 'token chars'];
  const body = rows.map((r) => [
    r.canary, CANARIES.find((c) => c.name === r.canary)?.breaks ?? '', r.caught ? 'yes' : 'NO', promiseCounts(r.promises), r.setup ?? '',
    String(r.units), String(r.states), r.seconds.toFixed(0),
    r.shrunk === null ? '' : `${r.shrunk.originalOperations}->${r.shrunk.operations} (${r.shrunk.tries})`, String((r.shrunk?.token ?? r.token ?? '').length || ''),
  ]);
  const lines = [
    `daxcrash ${['run', ...recallArgs(args.options)].join(' ')}`,
    `with each canary switched on, stopped at the first unit with a finding; at most ${args.options.budgetUnits} units a canary`,
    '',
    ...textTable([header, ...body]),
    '',
    `recall: ${rows.filter((r) => r.caught).length} of ${rows.length}`,
  ];
  const tokens = rows.filter((r) => r.caught).map((r) => `${r.canary} ${r.shrunk?.token ?? r.token ?? '(no token: G0)'}  (${r.workload})`);
  return `${lines.join('\n')}\n${tokens.length === 0 ? '' : `\ntokens (shrunk where shrinking ran):\n${tokens.join('\n')}\n`}`;
}

function jsonOf(args: TableArgs, rows: readonly RecallRow[]): unknown {
  return {
    command: ['daxcrash', 'run', ...recallArgs(args.options)],
    budgetUnits: args.options.budgetUnits,
    shrinkTries: args.options.shrinkTries,
    recall: { caught: rows.filter((r) => r.caught).length, of: rows.length },
    rows: rows.map((r) => ({ ...r, breaks: CANARIES.find((c) => c.name === r.canary)?.breaks })),
  };
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  process.stderr.write(`canary: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 3;
});
