/**
 * The house rules, checked (in the spirit of TigerBeetle's tidy.zig), over the project's own
 * sources (core/ device/ fs/ workloads/ crash/ cli/ bench/ and index.ts):
 *
 * - imports point down: core < device < fs < workloads < crash < cli (DESIGN.md); bench/ and
 *   the root index.ts may import any layer (bench/ also test/'s fixtures), no layer imports
 *   bench/, test/ or the root;
 * - below cli/: no wall clock (Date.now, new Date, performance.now, process.hrtime), no fresh
 *   randomness (Math.random, crypto's random*), no environment reads (process.env), no timers
 *   that decide anything (setTimeout, setInterval), except the named allowlist below, each
 *   with its reason;
 * - no function (declaration, method, arrow or function expression) over MAX_FUNCTION_LINES;
 * - no comment names an issue of the tracker (issue numbers go stale; say why, not when).
 *
 * Each rule is also run against a small bad sample, so a rule that stopped matching would fail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const ROOT = path.join(__dirname, '..');
const LAYERS = ['core', 'device', 'fs', 'workloads', 'crash', 'cli'] as const;
const SOURCE_DIRS = [...LAYERS, 'bench'];
const MAX_FUNCTION_LINES = 100;

/** Places below cli/ that may use a banned call, and why. */
const ALLOWED: ReadonlyArray<{ file: string; call: string; why: string }> = [
  { file: 'crash/e2fsck.ts', call: 'process.env', why: 'the real e2fsck runs as a child process and needs the environment (PATH, locale)' },
  { file: 'fs/csum.ts', call: 'process.env', why: 'DAXCRASH_CRC32C=js picks the JavaScript CRC32C over the native one (tests, bench:fs): the values are identical, so it decides nothing but speed' },
  { file: 'crash/pool.ts', call: 'setImmediate', why: 'a turn of the event loop between units so Ctrl-C can be handled; it decides nothing' },
  { file: 'crash/fake-clock.ts', call: 'setImmediate', why: 'one turn of the event loop (microtasks and nextTicks run), which carries no time: the simulated clock moves only by the timers it fires' },
  { file: 'crash/fake-clock.ts', call: 'setTimeout', why: 'its own simulated setTimeout (a method the clock defines and hands out), never the host timer' },
];

/** What a banned use looks like in the syntax tree: `a.b` property reads, `new X(...)`, or calls of a name. */
const BANNED: ReadonlyArray<{ call: string; property?: string; newOf?: string; callOf?: readonly string[] }> = [
  { call: 'Date.now', property: 'Date.now' },
  { call: 'new Date', newOf: 'Date' },
  { call: 'performance.now', property: 'performance.now' },
  { call: 'process.hrtime', property: 'process.hrtime' },
  { call: 'Math.random', property: 'Math.random' },
  { call: 'crypto random', callOf: ['randomBytes', 'randomInt', 'randomUUID', 'getRandomValues'] },
  { call: 'process.env', property: 'process.env' },
  { call: 'setTimeout', callOf: ['setTimeout'] },
  { call: 'setInterval', callOf: ['setInterval'] },
  { call: 'setImmediate', callOf: ['setImmediate'] },
];

const ISSUE_IN_COMMENT = /\b[Ii]ssues?[- ]?#?\d+/;

function sourceFiles(): string[] {
  const out: string[] = [path.join(ROOT, 'index.ts')];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
    }
  };
  for (const d of SOURCE_DIRS) walk(path.join(ROOT, d));
  return out;
}

function parse(file: string, text = fs.readFileSync(file, 'utf8')): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
}

/** The layer a project path is in ('' for the root index, 'bench', or a layer), or undefined outside. */
function layerOf(relative: string): string | undefined {
  const top = relative.split(path.sep)[0];
  if (relative === 'index.ts') return '';
  if ((LAYERS as readonly string[]).includes(top) || top === 'bench' || top === 'test') return top;
  return undefined;
}

/** Imports of `file` that point up or sideways into a place it may not import. */
export function importProblems(file: string, source: ts.SourceFile): string[] {
  const from = layerOf(path.relative(ROOT, file)) as string;
  const problems: string[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const spec = node.moduleSpecifier.text;
      if (spec.startsWith('.')) {
        const to = layerOf(path.relative(ROOT, path.resolve(path.dirname(file), spec)));
        if (to !== undefined && !mayImport(from, to)) problems.push(`${path.relative(ROOT, file)} imports ${spec} (${from || 'index'} -> ${to || 'index'})`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return problems;
}

function mayImport(from: string, to: string): boolean {
  // bench/ drives test fixtures (the hostile-image fuzzer lives in test/fuzz/)
  if (to === 'test') return from === 'test' || from === 'bench';
  if (to === 'bench' || to === '') return from === to;
  if (from === '' || from === 'bench') return true;
  return LAYERS.indexOf(to as (typeof LAYERS)[number]) <= LAYERS.indexOf(from as (typeof LAYERS)[number]);
}

/** Banned uses below cli/ (read from the syntax tree, so comments and strings never count), minus the allowlist. */
export function bannedCalls(relative: string, source: ts.SourceFile): string[] {
  const layer = layerOf(relative);
  if (layer === 'cli' || layer === 'bench' || layer === '') return [];
  return [...usesOf(source)].filter((call) => !ALLOWED.some((a) => a.file === relative && a.call === call)).map((call) => `${relative}: ${call}`);
}

/** The banned uses a file makes. */
function usesOf(source: ts.SourceFile): Set<string> {
  const found = new Set<string>();
  const visit = (node: ts.Node) => {
    for (const b of BANNED) if (isUse(node, b, source)) found.add(b.call);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function isUse(node: ts.Node, b: (typeof BANNED)[number], source: ts.SourceFile): boolean {
  if (b.property !== undefined && ts.isPropertyAccessExpression(node)) return node.getText(source).replace(/\s+/g, '') === b.property;
  if (b.newOf !== undefined && ts.isNewExpression(node)) return ts.isIdentifier(node.expression) && node.expression.text === b.newOf;
  if (b.callOf !== undefined && ts.isCallExpression(node)) {
    const callee = node.expression;
    const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
    return name !== undefined && b.callOf.includes(name);
  }
  return false;
}

/** Functions longer than the limit, as `file:line name (N lines)`. */
export function longFunctions(relative: string, source: ts.SourceFile, limit = MAX_FUNCTION_LINES): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > limit) out.push(`${relative}:${start + 1} ${functionName(node)} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function functionName(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name !== undefined && ts.isIdentifier(named.name)) return named.name.text;
  if (ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
    const parent = node.parent;
    if (ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
    if (ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
    return '(anonymous)';
  }
  return ts.SyntaxKind[node.kind];
}

/** Every comment of a file with its line (the comments before and after every token). */
function commentsOf(source: ts.SourceFile): Array<{ line: number; text: string }> {
  const text = source.getFullText();
  const seen = new Set<number>();
  const out: Array<{ line: number; text: string }> = [];
  const take = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) {
      if (seen.has(r.pos)) continue;
      seen.add(r.pos);
      out.push({ line: source.getLineAndCharacterOfPosition(r.pos).line + 1, text: text.slice(r.pos, r.end) });
    }
  };
  const visit = (node: ts.Node) => {
    take(ts.getLeadingCommentRanges(text, node.getFullStart()));
    take(ts.getTrailingCommentRanges(text, node.getEnd()));
    ts.forEachChild(node, visit);
  };
  visit(source);
  take(ts.getLeadingCommentRanges(text, source.endOfFileToken.getFullStart()));
  return out.sort((a, b) => a.line - b.line);
}

/** Comments that name an issue of the tracker. */
export function issueComments(relative: string, source: ts.SourceFile): string[] {
  return commentsOf(source).flatMap(({ line, text }) => {
    const m = ISSUE_IN_COMMENT.exec(text);
    return m === null ? [] : [`${relative}:${line} '${m[0]}'`];
  });
}

const files = sourceFiles().map((file) => ({ file, relative: path.relative(ROOT, file), source: parse(file) }));

describe('the house rules over the sources', () => {
  test('there are sources to check', () => {
    expect(files.length).toBeGreaterThan(80);
  });

  test('imports point down the layers', () => {
    expect(files.flatMap(({ file, source }) => importProblems(file, source))).toEqual([]);
  });

  test('no wall clock, fresh randomness, environment reads or timers below cli/ (outside the allowlist)', () => {
    expect(files.flatMap(({ relative, source }) => bannedCalls(relative, source))).toEqual([]);
    // every allowlist entry still names a use (a stale entry would hide a new one)
    for (const a of ALLOWED) {
      expect({ entry: a.file, uses: usesOf(parse(path.join(ROOT, a.file))).has(a.call) }).toEqual({ entry: a.file, uses: true });
    }
  });

  test(`no function over ${MAX_FUNCTION_LINES} lines`, () => {
    expect(files.flatMap(({ relative, source }) => longFunctions(relative, source))).toEqual([]);
  });

  test('no comment names an issue', () => {
    expect(files.flatMap(({ relative, source }) => issueComments(relative, source))).toEqual([]);
  });
});

describe('each rule catches its bad sample', () => {
  const sample = (relative: string, text: string) => ({ file: path.join(ROOT, relative), relative, source: parse(path.join(ROOT, relative), text) });

  test('an import that points up', () => {
    const s = sample('fs/bad.ts', "import { runUnit } from '../crash/engine';\nimport { assert } from '../core/assert';\n");
    expect(importProblems(s.file, s.source)).toEqual(['fs/bad.ts imports ../crash/engine (fs -> crash)']);
    const t = sample('crash/bad.ts', "export { x } from '../test/helpers/e2fs';\n");
    expect(importProblems(t.file, t.source)).toHaveLength(1);
  });

  test('the wall clock below cli/, but not in a comment or a string, nor in cli/', () => {
    const text = "const t = Date.now();\n// Date.now() in a comment\nconst s = 'Math.random()';\nconst u = `${t} it's setTimeout(f)`;\nconst v = 'it';\n";
    expect(bannedCalls('device/bad.ts', sample('device/bad.ts', text).source)).toEqual(['device/bad.ts: Date.now']);
    expect(bannedCalls('cli/ok.ts', sample('cli/ok.ts', text).source)).toEqual([]);
    expect(bannedCalls('crash/bad.ts', sample('crash/bad.ts', 'const e = process.env.HOME;\n').source)).toEqual(['crash/bad.ts: process.env']);
  });

  test('a long function, named', () => {
    const body = Array.from({ length: MAX_FUNCTION_LINES }, (_, i) => `  const x${i} = ${i};`).join('\n');
    const s = sample('core/bad.ts', `export function tooLong(): void {\n${body}\n}\nconst ok = () => 1;\n`);
    expect(longFunctions('core/bad.ts', s.source)).toEqual([`core/bad.ts:1 tooLong (${MAX_FUNCTION_LINES + 2} lines)`]);
  });

  test('a comment that names an issue', () => {
    const s = sample('core/bad.ts', '/** Built for issue 6. */\nconst a = 1; // see Issue-12\nconst issue = 3;\n');
    expect(issueComments('core/bad.ts', s.source)).toEqual(["core/bad.ts:1 'issue 6'", "core/bad.ts:2 'Issue-12'"]);
  });
});
