/**
 * The HTML report: one self-contained file a person opens in a browser to see what a run
 * tested, where it failed, and how to reproduce each failure. `renderHtmlReport` is a pure
 * function of `HtmlReportInput`, a small typed shape of its own; `reportToHtmlInput` fills
 * it from a campaign report (crash/report.ts) and what the report's reproductions already
 * recorded (its timelines): rendering never runs the engine.
 *
 * Invariants:
 * - self-contained: inline CSS and inline SVG only; no script, no external resource (a
 *   Content-Security-Policy of `default-src 'none'` says so to the browser as well);
 * - every piece of text from the input is escaped (workload names, paths and diffs are user
 *   data), in element content and in attributes alike;
 * - deterministic: the same input gives the same bytes (no clock, no locale-dependent
 *   formatting; a date appears only when the input carries one);
 * - every chart draws one `rect.bar` per datum it shows, with a non-zero size (a datum too
 *   small to see gets a minimum size and its exact number beside it).
 *
 * What the timeline shows (the fault model, as the report tells it): the device events
 * before the power failed (`REPRO_EVENTS_BEFORE` of them, from the reproduction), and for
 * every 8-byte word a tracked store wrote on the lines still uncertain at the crash point
 * whether the crash state kept its newest value, an older value stored since the word was
 * last durable, or lost every store since (crash/timeline.ts, from the report).
 */
import { PROMISES } from '../crash/check';
import type { PromiseId } from '../crash/check';
import type { Report } from '../crash/report';
import { countText, coverageText } from '../crash/report-text';
import type { Timeline, TimelineEvent, TimelineEventKind, TimelineWord, WordFate } from '../crash/timeline';

// ============================================================================== input shape

export type { TimelineEventKind, WordFate };
export type HtmlTimelineEvent = TimelineEvent;
export type HtmlWord = TimelineWord;
export type HtmlTimeline = Timeline;

export interface HtmlCombination {
  /** `armv8.2 linux-arm64 unordered` (+hint when the flush hint is on). */
  readonly setup: string;
  /** Why it did not run (a flavour of another ISA); it is then drawn as skipped. */
  readonly skipped?: string;
  readonly units: number;
  /** States judged directly. */
  readonly statesChecked: number;
  /** States judged or proven equivalent to a judged one, over states in the bound, 0..1. */
  readonly coverage: number;
  /** The coverage as the text tables print it (`n/a` for sampled runs); default the percentage. */
  readonly coverageText?: string;
  /** States in the bound, as a decimal string. */
  readonly statesInBound?: string;
  readonly findings: Readonly<Partial<Record<PromiseId, number>>>;
  readonly costNanosPerOp: number;
  /** Cleans and barriers (fences, flush hints) per operation; null when the source lacks them. */
  readonly cleansPerOp: number | null;
  readonly barriersPerOp: number | null;
}

export interface HtmlFinding {
  readonly promise: PromiseId;
  readonly setup: string;
  readonly workload: string;
  /** How many findings of this kind the run counted (this one stands for them). */
  readonly count?: number;
  /** The workload's operations, one line each. */
  readonly operations: readonly string[];
  /** Operations completed when the power failed; operation `completedOps` (0-based) was in flight when `inFlight`. */
  readonly completedOps: number;
  readonly inFlight: boolean;
  readonly token: string | null;
  readonly shrunkToken: string | null;
  readonly reproCommand: string | null;
  readonly diff: string;
  readonly timeline: HtmlTimeline | null;
}

export interface HtmlReportInput {
  readonly title: string;
  readonly params: {
    readonly seed: string;
    readonly suites: readonly string[];
    readonly setups: readonly string[];
    /** Shown as given; the renderer never reads the clock. */
    readonly generatedAt?: string;
    /** Further parameters, shown in order (points, states, k...). */
    readonly other?: ReadonlyArray<readonly [string, string]>;
  };
  readonly summary: {
    readonly units: number;
    readonly statesChecked: number;
    readonly findingsTotal: number;
    readonly verdict: 'pass' | 'fail';
  };
  readonly combinations: readonly HtmlCombination[];
  readonly findings: readonly HtmlFinding[];
}

// ============================================================================== rendering

export const PROMISE_NAMES: Readonly<Record<PromiseId, string>> = {
  G0: 'agreement', G1: 'mountable', G2: 'consistent', G3: 'prefix', G4: 'durable', G5: 'no stale data',
  G6: 'committed appends carry data', G7: 'atomic rename', G8: 'usable', G9: 'recovery is restartable',
};
const PROMISE_COLORS: Readonly<Record<PromiseId, string>> = {
  G0: '#6b7280', G1: '#b91c1c', G2: '#ea580c', G3: '#ca8a04', G4: '#7c3aed', G5: '#0891b2', G6: '#0d9488',
  G7: '#db2777', G8: '#4d7c0f', G9: '#1d4ed8',
};
const KIND_COLORS: Readonly<Record<TimelineEventKind, string>> = {
  store: '#2563eb', clean: '#16a34a', barrier: '#9333ea', fence: '#c026d3', marker: '#9ca3af',
};
const KIND_LETTERS: Readonly<Record<TimelineEventKind, string>> = { store: 'S', clean: 'C', barrier: 'B', fence: 'F', marker: 'M' };
const FATE_COLORS: Readonly<Record<WordFate, string>> = { newest: '#16a34a', older: '#f59e0b', lost: '#dc2626' };

/** Uncertain lines drawn in one timeline strip; the rest are in its table. */
export const MAX_DRAWN_LINES = 40;
const MIN_BAR_PIXELS = 2;

export function renderHtmlReport(input: HtmlReportInput): string {
  const verdict = input.summary.verdict === 'pass' ? 'PASS: no findings' : `FAIL: ${input.summary.findingsTotal} finding(s)`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(input.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    `<h1>${esc(input.title)}</h1>`,
    `<p class="verdict verdict-${input.summary.verdict}">${esc(verdict)}</p>`,
    summarySection(input),
    chartsSection(input.combinations),
    findingsSection(input.findings),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function summarySection(input: HtmlReportInput): string {
  const p = input.params;
  const rows: Array<[string, string]> = [
    ['seed', p.seed],
    ['suites', p.suites.join(', ')],
    ['setups', p.setups.join('; ')],
    ...(p.other ?? []).map(([k, v]): [string, string] => [k, v]),
    ...(p.generatedAt !== undefined ? [['generated', p.generatedAt] as [string, string]] : []),
    ['units (workload × setup)', count(input.summary.units)],
    ['crash states checked', count(input.summary.statesChecked)],
    ['findings', count(input.summary.findingsTotal)],
  ];
  return [
    '<section id="summary">',
    '<h2>Summary</h2>',
    `<table class="params">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`,
    combinationTable(input.combinations),
    '</section>',
  ].join('\n');
}

function combinationTable(combos: readonly HtmlCombination[]): string {
  const head = ['setup', 'units', 'judged', 'coverage', ...PROMISES, 'ns/op', 'cleans/op', 'barriers/op'];
  const rows = combos.map((c) => {
    if (c.skipped !== undefined) {
      return `<tr class="skipped"><td>${esc(c.setup)}</td><td colspan="${head.length - 1}">skipped: ${esc(c.skipped)}</td></tr>`;
    }
    const cells = [
      count(c.units), count(c.statesChecked), c.coverageText ?? percent(c.coverage),
      ...PROMISES.map((p) => count(c.findings[p] ?? 0)),
      fixed(c.costNanosPerOp, 0), c.cleansPerOp === null ? 'n/a' : fixed(c.cleansPerOp, 1), c.barriersPerOp === null ? 'n/a' : fixed(c.barriersPerOp, 1),
    ];
    const promiseCell = (text: string, i: number) => (i >= 3 && i < 3 + PROMISES.length && text !== '0' ? ' class="nonzero"' : '');
    return `<tr><td>${esc(c.setup)}</td>${cells.map((v, i) => `<td${promiseCell(v, i)}>${esc(v)}</td>`).join('')}</tr>`;
  });
  return `<table class="combos"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

// ------------------------------------------------------------------------------ charts

function chartsSection(combos: readonly HtmlCombination[]): string {
  const ran = combos.filter((c) => c.skipped === undefined);
  return [
    '<section id="charts">',
    '<h2>Comparison</h2>',
    ran.length === 0 ? '<p>No combination ran.</p>' : [findingsChart(ran), costChart(ran), coverageChart(ran)].join('\n'),
    '</section>',
  ].join('\n');
}

/** Grouped bars: one group per setup, one bar per promise with findings there. */
function findingsChart(combos: readonly HtmlCombination[]): string {
  const barW = 18;
  const gap = 4;
  const plotH = 180;
  const top = 24;
  const left = 48;
  const labelH = 56;
  const max = Math.max(1, ...combos.flatMap((c) => PROMISES.map((p) => c.findings[p] ?? 0)));
  const groups = combos.map((c) => ({ c, bars: PROMISES.filter((p) => (c.findings[p] ?? 0) > 0) }));
  // a group is as wide as its bars and as its label's longest line, so labels never overlap
  const widths = groups.map((g) => Math.max(150, g.bars.length * (barW + gap) + 24, labelLines(g.c.setup).reduce((n, l) => Math.max(n, l.length), 0) * LABEL_CHAR_PIXELS + 24));
  const width = left + widths.reduce((a, b) => a + b, 0) + 16;
  const height = top + plotH + labelH;
  const parts: string[] = [];
  parts.push(axisY(left, top, plotH, max, width));
  let x = left;
  groups.forEach((g, gi) => {
    const w = widths[gi];
    let bx = x + (w - g.bars.length * (barW + gap) + gap) / 2;
    for (const p of g.bars) {
      const n = g.c.findings[p] ?? 0;
      const h = Math.max(MIN_BAR_PIXELS, (n / max) * plotH);
      const y = top + plotH - h;
      parts.push(`<rect class="bar" data-setup="${esc(g.c.setup)}" data-promise="${p}" x="${px(bx)}" y="${px(y)}" width="${barW}" height="${px(h)}" fill="${PROMISE_COLORS[p]}"><title>${esc(`${p} ${PROMISE_NAMES[p]}: ${count(n)} on ${g.c.setup}`)}</title></rect>`);
      parts.push(`<text class="value" x="${px(bx + barW / 2)}" y="${px(y - 3)}" text-anchor="middle">${esc(shortCount(n))}</text>`);
      parts.push(`<text class="tick" x="${px(bx + barW / 2)}" y="${px(top + plotH + 12)}" text-anchor="middle">${p}</text>`);
      bx += barW + gap;
    }
    if (g.bars.length === 0) parts.push(`<text class="none" x="${px(x + w / 2)}" y="${px(top + plotH - 8)}" text-anchor="middle">no findings</text>`);
    parts.push(setupTspans(g.c.setup, x + w / 2, top + plotH + 26));
    x += w;
  });
  const legend = PROMISES.map((p) => `<span class="legend"><span class="swatch" style="background:${PROMISE_COLORS[p]}"></span>${p} ${esc(PROMISE_NAMES[p])}</span>`).join(' ');
  return figure('chart-findings', 'Findings per promise per setup', width, height, parts, `<p class="legend-row">${legend}</p>`);
}

/** Horizontal bars: device nanoseconds per operation, with cleans and barriers per operation. */
function costChart(combos: readonly HtmlCombination[]): string {
  const max = Math.max(1, ...combos.map((c) => c.costNanosPerOp));
  return horizontalChart('chart-cost', 'Device cost per operation per setup', combos, (c) => ({
    fraction: c.costNanosPerOp / max,
    fill: '#2563eb',
    text: `${fixed(c.costNanosPerOp, 0)} ns/op` + (c.cleansPerOp === null ? '' : `, ${fixed(c.cleansPerOp, 1)} cleans/op`)
      + (c.barriersPerOp === null ? '' : `, ${fixed(c.barriersPerOp, 1)} barriers/op`),
  }));
}

function coverageChart(combos: readonly HtmlCombination[]): string {
  return horizontalChart('chart-coverage', 'Coverage: crash states judged or proven equivalent to a judged one, over states in the bound', combos, (c) => ({
    fraction: c.coverageText === 'n/a' ? 0 : Math.min(1, Math.max(0, c.coverage)),
    fill: '#0d9488',
    text: c.coverageText === 'n/a' ? `n/a: sampled (${count(c.statesChecked)} states judged)`
      : `${c.coverageText ?? percent(c.coverage)} of ${c.statesInBound ?? 'the'} states in the bound (${count(c.statesChecked)} judged)`,
  }));
}

function horizontalChart(id: string, caption: string, combos: readonly HtmlCombination[],
  datum: (c: HtmlCombination) => { fraction: number; fill: string; text: string }): string {
  const labelW = 250;
  const plotW = 360;
  const rowH = 26;
  const top = 8;
  const width = labelW + plotW + 300;
  const height = top + combos.length * rowH + 8;
  const parts: string[] = [];
  combos.forEach((c, i) => {
    const d = datum(c);
    const y = top + i * rowH;
    const w = Math.max(MIN_BAR_PIXELS, d.fraction * plotW);
    parts.push(`<text class="label" x="${labelW - 8}" y="${px(y + 16)}" text-anchor="end">${esc(c.setup)}</text>`);
    parts.push(`<rect class="track" x="${labelW}" y="${px(y + 4)}" width="${plotW}" height="${rowH - 8}"></rect>`);
    parts.push(`<rect class="bar" data-setup="${esc(c.setup)}" x="${labelW}" y="${px(y + 4)}" width="${px(w)}" height="${rowH - 8}" fill="${d.fill}"><title>${esc(`${c.setup}: ${d.text}`)}</title></rect>`);
    parts.push(`<text class="value" x="${labelW + plotW + 8}" y="${px(y + 16)}">${esc(d.text)}</text>`);
  });
  return figure(id, caption, width, height, parts, '');
}

function axisY(left: number, top: number, plotH: number, max: number, width: number): string {
  const ticks = [0, 0.5, 1].map((f) => {
    const y = top + plotH - f * plotH;
    return `<line class="grid" x1="${left}" y1="${px(y)}" x2="${px(width - 8)}" y2="${px(y)}"></line>`
      + `<text class="tick" x="${left - 6}" y="${px(y + 4)}" text-anchor="end">${esc(shortCount(Math.round(f * max)))}</text>`;
  });
  return ticks.join('');
}

/** Widest advance of a label character at the chart's 11px font (a bound, so widths are safe). */
const LABEL_CHAR_PIXELS = 7.5;

/** A setup label as lines: `profile/flavour/policy` (or space-separated words), one part a line. */
function labelLines(setup: string): string[] {
  return setup.split(/[/ ]/).filter((part) => part.length > 0);
}

function setupTspans(setup: string, x: number, y: number): string {
  const spans = labelLines(setup).map((w, i) => `<tspan x="${px(x)}" dy="${i === 0 ? 0 : 13}">${esc(w)}</tspan>`).join('');
  return `<text class="label" x="${px(x)}" y="${px(y)}" text-anchor="middle">${spans}</text>`;
}

function figure(id: string, caption: string, width: number, height: number, parts: readonly string[], after: string): string {
  return [
    `<figure class="chart" id="${id}">`,
    `<figcaption>${esc(caption)}</figcaption>`,
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(caption)}" width="${px(width)}" height="${px(height)}" viewBox="0 0 ${px(width)} ${px(height)}">`,
    ...parts,
    '</svg>',
    after,
    '</figure>',
  ].join('\n');
}

// ------------------------------------------------------------------------------ findings

function findingsSection(findings: readonly HtmlFinding[]): string {
  if (findings.length === 0) return '<section id="findings"><h2>Findings</h2><p>None.</p></section>';
  const list = findings.map((f, i) => `<li><a href="#finding-${i + 1}">${esc(`${f.promise} ${PROMISE_NAMES[f.promise]}`)}</a> on ${esc(f.setup)}, workload ${esc(f.workload)}${f.count !== undefined ? ` (${esc(count(f.count))} counted)` : ''}</li>`);
  return [
    '<section id="findings">',
    '<h2>Findings</h2>',
    '<p>One finding of each kind (promise and setup); its token rebuilds the exact crash image.</p>',
    `<ol class="finding-list">${list.join('')}</ol>`,
    ...findings.map((f, i) => findingArticle(f, i + 1)),
    '</section>',
  ].join('\n');
}

function findingArticle(f: HtmlFinding, n: number): string {
  const ops = f.operations.map((op, i) => {
    const state = i < f.completedOps ? 'done' : i === f.completedOps && f.inFlight ? 'in-flight' : 'not-run';
    const mark = state === 'in-flight' ? ' ← in flight when the power failed' : '';
    return `<li class="op op-${state}">${esc(op)}${esc(mark)}</li>`;
  });
  const where = `${count(f.completedOps)} operation(s) completed${f.inFlight ? `, operation ${f.completedOps + 1} in flight` : ''}`;
  const rows: Array<[string, string, string]> = [
    ['promise', `${f.promise} ${PROMISE_NAMES[f.promise]}`, ''],
    ['setup', f.setup, ''],
    ['workload', f.workload, ''],
    ['position', where, ''],
    ['token', f.token ?? 'not computed', 'token'],
    ['shrunk token', f.shrunkToken ?? 'not computed', 'token shrunk-token'],
    ['reproduce', f.reproCommand ?? 'not computed', 'command'],
  ];
  return [
    `<article class="finding" id="finding-${n}" data-promise="${f.promise}">`,
    `<h3>${n}. ${esc(`${f.promise} ${PROMISE_NAMES[f.promise]}`)}: ${esc(f.setup)}</h3>`,
    `<table class="finding-facts">${rows.map(([k, v, cls]) => `<tr><th>${esc(k)}</th><td${cls ? ` class="${cls}"` : ''}>${cls ? `<code>${esc(v)}</code>` : esc(v)}</td></tr>`).join('')}</table>`,
    `<h4>Operations</h4><ol class="ops">${ops.join('')}</ol>`,
    `<h4>What the checker saw</h4><pre class="diff">${esc(f.diff)}</pre>`,
    f.timeline === null ? '<p class="no-timeline">No timeline: the finding was not reproduced.</p>' : timelineBlock(f.timeline, n),
    '</article>',
  ].join('\n');
}

function timelineBlock(t: HtmlTimeline, n: number): string {
  const lostLines = new Set(t.words.filter((w) => w.kept === 'lost').map((w) => w.line));
  const tally = (k: WordFate) => t.words.filter((w) => w.kept === k).length;
  const caption = `Device events before the power failed at instruction ${count(t.crashPoint)}, and the uncertain words: `
    + `${tally('lost')} lost, ${tally('older')} kept an older value, ${tally('newest')} kept the newest`
    + (t.wordsOmitted ? ` (${count(t.wordsOmitted)} more not listed)` : '');
  const eventRows = t.events.map((e) => `<tr class="event-row${e.line !== null && lostLines.has(e.line) ? ' touches-lost' : ''}"><td>${e.index}</td><td>${esc(e.kind)}</td><td>${e.address === null ? '' : hex(e.address)}</td><td>${e.line === null ? '' : e.line}</td><td>${esc(e.label)}</td></tr>`);
  const wordRows = t.words.map((w) => `<tr class="word-row word-${w.kept}"><td>${hex(w.address)}</td><td>${w.line}</td><td>${w.kept}</td></tr>`);
  return [
    `<figure class="timeline" id="timeline-${n}">`,
    `<figcaption>${esc(caption)}</figcaption>`,
    timelineSvg(t, lostLines),
    `<p class="legend-row">${(Object.keys(KIND_LETTERS) as TimelineEventKind[]).map((k) => `<span class="legend"><span class="swatch" style="background:${KIND_COLORS[k]}"></span>${KIND_LETTERS[k]} ${k}</span>`).join(' ')}`
      + ` · words: ${(Object.keys(FATE_COLORS) as WordFate[]).map((k) => `<span class="legend"><span class="swatch" style="background:${FATE_COLORS[k]}"></span>${k === 'newest' ? 'kept the newest' : k === 'older' ? 'kept an older value' : 'lost'}</span>`).join(' ')}`
      + ' · a red outline: the event touched a line that lost words</p>',
    '<details><summary>Events and words as tables</summary>',
    `<table class="events"><thead><tr><th>event</th><th>kind</th><th>address</th><th>line</th><th>what</th></tr></thead><tbody>${eventRows.join('')}</tbody></table>`,
    `<table class="words"><thead><tr><th>address</th><th>line</th><th>kept</th></tr></thead><tbody>${wordRows.join('')}</tbody></table>`,
    '</details>',
    '</figure>',
  ].join('\n');
}

/** The strip: events left to right up to the crash point; below, each uncertain line's eight words. */
function timelineSvg(t: HtmlTimeline, lostLines: ReadonlySet<number>): string {
  const cellW = 34;
  const cellH = 30;
  const left = 8;
  const top = 18;
  const wordSize = 11;
  const lineLabelW = 76;
  const lineW = lineLabelW + 8 * (wordSize + 2) + 18;
  const lineH = wordSize + 8;
  const lines = drawnLines(t.words);
  const width = Math.max(left + t.events.length * cellW + 130, left + 5 * lineW);
  const linesPerRow = Math.max(1, Math.floor((width - left) / lineW));
  const wordsTop = top + cellH + 44;
  const height = wordsTop + Math.max(1, Math.ceil(lines.length / linesPerRow)) * lineH + 24;
  const parts: string[] = [];
  t.events.forEach((e, i) => {
    const x = left + i * cellW;
    const hit = e.line !== null && lostLines.has(e.line);
    parts.push(`<rect class="event event-${e.kind}${hit ? ' touches-lost' : ''}" x="${x}" y="${top}" width="${cellW - 4}" height="${cellH}" fill="${KIND_COLORS[e.kind]}"><title>${esc(`#${e.index} ${e.label}${e.line !== null ? ` (line ${e.line})` : ''}${hit ? ': its line lost words' : ''}`)}</title></rect>`);
    parts.push(`<text class="event-letter" x="${x + (cellW - 4) / 2}" y="${top + 19}" text-anchor="middle">${KIND_LETTERS[e.kind]}</text>`);
    if (e.line !== null) parts.push(`<text class="tick" x="${x + (cellW - 4) / 2}" y="${top + cellH + 12}" text-anchor="middle">${e.line}</text>`);
  });
  const crashX = left + t.events.length * cellW;
  parts.push(`<line class="crash-point" x1="${crashX}" y1="${top - 10}" x2="${crashX}" y2="${top + cellH + 16}"></line>`);
  parts.push(`<text class="crash-label" x="${crashX + 6}" y="${top + 12}">power fails</text>`);
  parts.push(`<text class="crash-label" x="${crashX + 6}" y="${top + 26}">(instruction ${count(t.crashPoint)})</text>`);
  parts.push(`<text class="tick" x="${left}" y="${wordsTop - 10}">uncertain lines at the power failure, 8 words each (grey: not uncertain)</text>`);
  lines.forEach((l, i) => {
    const x = left + (i % linesPerRow) * lineW;
    const y = wordsTop + Math.floor(i / linesPerRow) * lineH;
    parts.push(`<text class="line-label${lostLines.has(l.line) ? ' lost' : ''}" x="${x + lineLabelW - 6}" y="${y + wordSize - 1}" text-anchor="end">line ${l.line}</text>`);
    for (let w = 0; w < WORDS_PER_LINE; w++) {
      const word = l.words[w];
      const wx = x + lineLabelW + w * (wordSize + 2);
      parts.push(word === undefined
        ? `<rect class="slot" x="${wx}" y="${y}" width="${wordSize}" height="${wordSize}"></rect>`
        : `<rect class="word word-${word.kept}" x="${wx}" y="${y}" width="${wordSize}" height="${wordSize}" fill="${FATE_COLORS[word.kept]}"><title>${esc(`${hex(word.address)} (line ${word.line}, word ${w}): ${word.kept}`)}</title></rect>`);
    }
  });
  if (lines.length === 0) parts.push(`<text class="none" x="${left}" y="${wordsTop + 10}">no uncertain word</text>`);
  const hidden = t.words.length - lines.reduce((n, l) => n + l.words.filter((w) => w !== undefined).length, 0);
  if (hidden > 0) parts.push(`<text class="tick" x="${left}" y="${height - 8}">${hidden} more uncertain words in the table below</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" class="timeline-strip" role="img" aria-label="timeline around the crash point" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

const WORDS_PER_LINE = 8;

/** At most MAX_DRAWN_LINES lines, those with lost words first, then older; drawn by address. */
function drawnLines(words: readonly HtmlWord[]): Array<{ line: number; words: Array<HtmlWord | undefined> }> {
  const byLine = new Map<number, Array<HtmlWord | undefined>>();
  for (const w of words) {
    const slots = byLine.get(w.line) ?? new Array<HtmlWord | undefined>(WORDS_PER_LINE).fill(undefined);
    slots[Math.floor((w.address % 64) / 8)] = w;
    byLine.set(w.line, slots);
  }
  const rank = (slots: Array<HtmlWord | undefined>) => (slots.some((w) => w?.kept === 'lost') ? 0 : slots.some((w) => w?.kept === 'older') ? 1 : 2);
  const all = [...byLine.entries()].map(([line, slots]) => ({ line, words: slots }));
  const chosen = all.length <= MAX_DRAWN_LINES ? all : [...all].sort((a, b) => rank(a.words) - rank(b.words) || a.line - b.line).slice(0, MAX_DRAWN_LINES);
  return chosen.sort((a, b) => a.line - b.line);
}

// ------------------------------------------------------------------------------ formatting

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe in element content and in quoted attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

function px(n: number): string {
  return fixed(n, 1).replace(/\.0$/, '');
}

function fixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** 1234567 as 1,234,567, the same in every locale. */
function count(n: number): string {
  return String(Math.round(n)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function shortCount(n: number): string {
  return n >= 10000 ? `${Math.round(n / 1000)}k` : String(n);
}

function percent(f: number): string {
  return `${fixed(f * 100, 1)}%`;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

const CSS = [
  'body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#111827}',
  'h1{font-size:22px;margin:0 0 4px}h2{border-bottom:1px solid #e5e7eb;padding-bottom:4px;margin-top:32px}h3{margin:24px 0 8px}h4{margin:12px 0 4px}',
  '.verdict{font-weight:600;display:inline-block;padding:2px 10px;border-radius:4px}.verdict-pass{background:#dcfce7;color:#166534}.verdict-fail{background:#fee2e2;color:#991b1b}',
  'table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}',
  'table.combos td{text-align:right}table.combos td:first-child{text-align:left;white-space:nowrap}td.nonzero{background:#fee2e2;font-weight:600}tr.skipped td{color:#6b7280;text-align:left}',
  'figure{margin:16px 0}figcaption{font-weight:600;margin-bottom:4px}svg{display:block;max-width:100%;height:auto}',
  'svg text{font-size:11px;fill:#374151}svg .value{font-weight:600}svg .none{fill:#6b7280;font-style:italic}',
  'svg .grid{stroke:#e5e7eb}svg .track{fill:#f3f4f6}svg .event-letter{fill:#fff;font-weight:700}',
  'svg .touches-lost{stroke:#dc2626;stroke-width:3}svg .crash-point{stroke:#dc2626;stroke-width:2;stroke-dasharray:4 2}svg .crash-label{fill:#dc2626;font-weight:600}',
  'svg .word-lost{stroke:#7f1d1d;stroke-width:1}svg .slot{fill:#e5e7eb}svg .line-label.lost{fill:#b91c1c;font-weight:600}',
  '.legend-row{font-size:12px}.legend{margin-right:10px;white-space:nowrap}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}',
  'code{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}pre.diff{background:#f9fafb;border:1px solid #e5e7eb;padding:8px;white-space:pre-wrap;word-break:break-word}',
  '.finding{border-left:4px solid #dc2626;padding-left:12px;margin-top:24px}.ops li.op-in-flight{font-weight:600;color:#b91c1c}.ops li.op-not-run{color:#9ca3af}',
  'tr.touches-lost td{background:#fee2e2}tr.word-lost td{color:#b91c1c;font-weight:600}',
].join('\n');

// ============================================================================== from a run report

/**
 * The HTML input of a `run`, `compare` or `merge` report (crash/report.ts). Each kind of
 * finding carries the timeline of its best token's reproduction (the shrunk one when there
 * is one); G0 (no crash state) has none.
 */
export function reportToHtmlInput(report: Report): HtmlReportInput {
  const combinations: HtmlCombination[] = report.combos.map((c) => ({
    setup: c.label,
    units: c.units,
    statesChecked: c.statesChecked,
    coverage: c.coverage,
    coverageText: coverageText(report, c.coverage),
    statesInBound: countText(c.statesInBound),
    findings: { ...c.findingCounts },
    costNanosPerOp: c.cost.costNanosPerOp,
    cleansPerOp: c.cost.cleansPerOp,
    barriersPerOp: c.cost.barriersPerOp,
  }));
  for (const s of report.run.skipped) {
    combinations.push({
      setup: s.setup, skipped: s.reason, units: 0, statesChecked: 0, coverage: 0, findings: {},
      costNanosPerOp: 0, cleansPerOp: null, barriersPerOp: null,
    });
  }
  const findings = report.kinds.map((k): HtmlFinding => ({
    promise: k.promise,
    setup: k.setup,
    workload: k.first.workload,
    count: k.count,
    operations: k.timeline?.operations ?? [],
    completedOps: k.timeline?.done ?? k.first.position?.done ?? 0,
    inFlight: k.timeline?.inFlight ?? k.first.position?.inFlight ?? false,
    token: k.first.token ?? null,
    shrunkToken: k.shrunk?.token ?? null,
    reproCommand: k.repro,
    diff: k.shrunk?.diff ?? k.first.diff,
    timeline: k.timeline,
  }));
  const r = report.run;
  return {
    title: 'daxcrash report',
    params: {
      seed: r.seeds.join(', '),
      suites: r.suites,
      setups: combinations.map((c) => c.setup),
      other: [
        ['points', r.options.points],
        ['states', JSON.stringify(r.options.states)],
        ['e2fsck', r.options.e2fsck],
        ['shard', r.shard === null ? 'none' : `${r.shard.index}/${r.shard.count}`],
        ['results digest', report.digest],
      ],
    },
    summary: {
      units: report.totals.units,
      statesChecked: report.totals.statesChecked,
      findingsTotal: report.totals.findings,
      verdict: report.totals.findings === 0 ? 'pass' : 'fail',
    },
    combinations,
    findings,
  };
}
