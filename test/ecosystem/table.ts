/**
 * The ecosystem table (`npm run ecosystem`): every scenario file of test/ecosystem/ crash-tested
 * on armv8.2 with linux-arm64, under `ordered` (the file system is correct: a finding is the
 * package's) and `unordered` (for contrast: the file system itself loses order), each with the
 * scenario file's own crash options. Prints the table as Markdown; `--write` replaces the
 * table in docs/ecosystem.md (between its markers). `--limit N` caps the states checked per
 * scenario (a quick run; the published table has no cap); `--only NAME` runs the packages
 * whose name contains NAME; `--check` prints, as JSON, what `npm test` compares with the
 * published table (test/ecosystem/ecosystem.test.ts).
 *
 * A row: package and version (from its installed package.json), the scenario, whether the
 * package documents the property (promise) or not (observation), and per policy the verdict:
 * holds / broken (the check's findings of the states checked) and apart from it what the
 * file system did (images that did not mount, fsck problems); under the table, the smallest
 * finding of each scenario under `ordered`, with its token.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { ScenarioCrashOptions, ScenarioResult, fileSystemFailures, reproScenario, runScenario, scenariosIn } from '../../crash/scenario';
import { decodeScenarioToken } from '../../crash/scenario-token';
import type { FlushPolicy } from '../../fs/mount';

/** The packages, their scenario files, and what a fix would be when a promise breaks. */
export const ECOSYSTEM: readonly { readonly pkg: string; readonly file: string; readonly fix: string }[] = [
  { pkg: 'write-file-atomic', file: 'write-file-atomic.scenarios.js', fix: 'fsync the directory after the rename for durability' },
  { pkg: 'atomically', file: 'atomically.scenarios.mjs', fix: 'fsync the directory after the rename for durability' },
  { pkg: 'steno', file: 'steno.scenarios.mjs', fix: 'fsync the temporary file before the rename and the directory after it, for durability' },
  { pkg: 'lowdb', file: 'lowdb.scenarios.mjs', fix: 'as steno (it writes through steno)' },
  { pkg: 'conf', file: 'conf.scenarios.mjs', fix: 'as atomically (it writes through atomically)' },
  { pkg: '@seald-io/nedb', file: 'nedb.scenarios.js', fix: 'none needed for its documented promise' },
  { pkg: 'node-persist', file: 'node-persist.scenarios.js', fix: 'write a temporary file, fsync it, rename it over the key file, fsync the directory' },
  { pkg: 'jsonfile', file: 'jsonfile.scenarios.js', fix: 'write a temporary file and rename it (and fsync both) if crash safety is wanted' },
  { pkg: 'fs-extra', file: 'fs-extra.scenarios.js', fix: 'as jsonfile' },
  { pkg: 'cacache', file: 'cacache.scenarios.js', fix: 'fsync content and index before reporting success, if entries must survive' },
];

const POLICIES: readonly FlushPolicy[] = ['ordered', 'unordered'];
const HERE = __dirname;
const DOC = nodePath.join(HERE, '..', '..', 'docs', 'ecosystem.md');
const START = '<!-- ecosystem-table:start (npm run ecosystem -- --write) -->';
const END = '<!-- ecosystem-table:end -->';

export interface Row {
  readonly pkg: string;
  readonly version: string;
  readonly scenario: string;
  readonly promise: string;
  readonly promised: boolean;
  readonly fix: string;
  readonly results: Readonly<Record<string, ScenarioResult>>;
}

/** Run every scenario of the table (or those of packages whose name contains `only`). */
export interface RowOptions {
  readonly limit?: number;
  readonly only?: string;
  /** Default both; the quick check runs `ordered` alone. */
  readonly policies?: readonly FlushPolicy[];
  /** Crash options over every scenario's own (the quick check's small budget). */
  readonly crash?: ScenarioCrashOptions;
  readonly progress?: (text: string) => void;
}

/** The budget `npm test` checks the table on: 64 MiB, the k = 1 bound, at most 4 states a point. */
export const QUICK: ScenarioCrashOptions = { deviceBytes: 64 << 20, states: { kind: 'bounded', k: 1, limit: 4 } };

export async function ecosystemRows(options: RowOptions = {}): Promise<Row[]> {
  const rows: Row[] = [];
  for (const entry of ECOSYSTEM) {
    if (options.only !== undefined && !entry.pkg.includes(options.only)) continue;
    const file = nodePath.relative(process.cwd(), nodePath.join(HERE, entry.file));
    const version = installedVersion(entry.pkg);
    for (const scenario of await scenariosIn(file)) {
      const results: Record<string, ScenarioResult> = {};
      for (const policy of options.policies ?? POLICIES) {
        options.progress?.(`${entry.pkg}: ${scenario.name} (${policy})`);
        results[policy] = await runScenario(scenario, { ...options.crash, file, policy, profile: 'armv8.2', pmemApi: 'linux-arm64', limit: options.limit });
      }
      rows.push({ pkg: entry.pkg, version, scenario: scenario.name, promise: scenario.promise ?? '', promised: scenario.promised ?? true, fix: entry.fix, results });
    }
  }
  return rows;
}

/** The version npm installed (read from the package's manifest: not every package exports it). */
export function installedVersion(pkg: string): string {
  const manifest = nodePath.join(HERE, '..', '..', 'node_modules', pkg, 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/**
 * The verdict of one run, as a table cell: the package's promise (the check's findings) first,
 * then what the file system itself did (images that did not mount, fsck problems), which is
 * not the package's doing: under `ordered` there is none.
 */
export function verdict(r: ScenarioResult): string {
  const x = r.result;
  const counted = `${x.statesChecked} states${x.statesSkipped > 0 ? ` (+${x.statesSkipped} not checked)` : ''}`;
  const broken = x.findingCounts.invariant ?? 0;
  const head = broken === 0 ? `holds (${counted})` : `${r.promised ? '**broken**' : 'does not hold'}: ${broken} of ${counted}`;
  const fsParts = fileSystemFailures(x);
  return fsParts.length === 0 ? head : `${head}; file system: ${fsParts.join(', ')}`;
}

export function markdownTable(rows: readonly Row[]): string {
  const out = [
    '| package | scenario | documented? | ordered | unordered |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const row of rows) {
    out.push(`| ${row.pkg} ${row.version} | ${escape(row.scenario)} | ${row.promised ? 'promise' : 'observation'} | ${escape(verdict(row.results.ordered as ScenarioResult))} | ${escape(verdict(row.results.unordered as ScenarioResult))} |`);
  }
  out.push('');
  out.push('Findings under `ordered` (the file system keeps its order: these are the packages\'):');
  out.push('');
  let any = false;
  for (const row of rows) {
    const r = row.results.ordered as ScenarioResult;
    if (r.token === undefined || r.smallest === undefined) continue;
    any = true;
    out.push(`- **${row.pkg} ${row.version}**, ${escape(row.scenario)} (${row.promised ? 'a documented promise' : 'not promised: an observation'}):`);
    out.push(`  ${escape(r.smallest.message)}; power failed at crash point ${r.smallest.point} (after ${r.smallest.event})${r.smallest.inFlight ? `, in \`${r.smallest.inFlight}\`` : ''}.`);
    out.push(`  What would make it hold: ${row.fix}.`);
    out.push(`  \`daxcrash repro ${r.token}\``);
  }
  if (!any) out.push('- none');
  return out.join('\n');
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Replace the table between the markers of docs/ecosystem.md. */
export function writeTable(table: string, doc = DOC): void {
  const text = readFileSync(doc, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${doc} has no table markers (${START} ... ${END})`);
  writeFileSync(doc, `${text.slice(0, start + START.length)}\n${table}\n${text.slice(end)}`);
}

/** The tokens docs/ecosystem.md publishes. */
export function publishedTokens(doc = DOC): string[] {
  return [...readFileSync(doc, 'utf8').matchAll(/`daxcrash repro (dxs1-[A-Za-z0-9_-]+)`/g)].map((m) => m[1] as string);
}

/**
 * What `npm test` asks of the table, in one process (half the packages are ES modules, which
 * jest cannot load): every scenario under `ordered` on the QUICK budget, and every published
 * token replayed. JSON on stdout.
 */
async function check(): Promise<void> {
  const rows = await ecosystemRows({ policies: ['ordered'], crash: QUICK });
  const verdicts = rows.map((r) => {
    const x = (r.results.ordered as ScenarioResult).result;
    return { pkg: r.pkg, version: r.version, scenario: r.scenario, promised: r.promised, statesChecked: x.statesChecked, findingCounts: x.findingCounts };
  });
  const replays = [];
  for (const token of publishedTokens()) {
    const r = await reproScenario(decodeScenarioToken(token));
    replays.push({ token, statesChecked: r.result.statesChecked, findings: r.result.findings.map((f) => `${f.kind}: ${f.message}`) });
  }
  process.stdout.write(`${JSON.stringify({ verdicts, replays })}\n`);
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--check')) return check();
  const write = argv.includes('--write');
  const limitAt = argv.indexOf('--limit');
  const onlyAt = argv.indexOf('--only');
  const limit = limitAt >= 0 ? Number(argv[limitAt + 1]) : undefined;
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new Error('--limit takes a positive whole number of states');
  if (write && limit !== undefined) throw new Error('--write publishes the full table: drop --limit');
  const only = onlyAt >= 0 ? argv[onlyAt + 1] : undefined;
  const started = performance.now();
  const rows = await ecosystemRows({ limit, only, progress: (text) => process.stderr.write(`${text}\n`) });
  const table = markdownTable(rows);
  process.stdout.write(`${table}\n`);
  process.stderr.write(`${rows.length} scenarios x ${POLICIES.length} policies in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  if (write) {
    if (only !== undefined) throw new Error('--write publishes the whole table: drop --only');
    writeTable(table);
    process.stderr.write(`wrote the table into ${nodePath.relative(process.cwd(), DOC)}\n`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
