/**
 * The HTML report (cli/html.ts): escaping, determinism, the sections of a report of a real
 * small campaign (bounded-1 workloads on armv8.2: the unordered policy and the 2016 RFC give
 * findings, linux-x86 is skipped), the fates of uncertain words, and the report opened in
 * headless Chromium (Debian's chromium driven by playwright-core): the charts draw the
 * expected bars with non-zero size, the findings show their tokens, and the page logs no
 * error and loads nothing.
 *
 * A missing chromium fails the browser test with an install hint, never skips it (as
 * test/helpers/e2fsprogs.ts does for e2fsprogs): a report nobody opened would pass for the
 * wrong reason. `.ci/run` installs it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { CampaignSpec, runCampaign } from '../../crash/campaign';
import { PROMISES } from '../../crash/check';
import type { Report } from '../../crash/report';
import { repro } from '../../crash/repro';
import { MAX_SHRINK_TRIES } from '../../crash/shrink';
import { reproductionTimeline, timelineEvent } from '../../crash/timeline';
import type { DeviceEvent } from '../../device/trace';
import { workloadSpace } from '../../workloads/generators';
import { HtmlReportInput, esc, renderHtmlReport, reportToHtmlInput } from '../../cli/html';

const CHROMIUM = '/usr/bin/chromium';
const SEED = 'html-report';
const DEVICE_BYTES = 16 << 20;
const bounded1 = workloadSpace({ suite: 'bounded-1' });
const spec: CampaignSpec = {
  seeds: [SEED], workloads: [1, 11].map((i) => bounded1.workload(i)), profiles: ['armv8.2'],
  pmemApis: ['linux-arm64', 'rfc-2016', 'linux-x86'], policies: ['ordered', 'unordered'],
  points: 'flushes', states: { kind: 'bounded', k: 1, limit: 12 }, deviceBytes: DEVICE_BYTES, shrinkTries: MAX_SHRINK_TRIES,
};

function smallCampaign(): Promise<Report> {
  return runCampaign(spec);
}

function reportOf(result: Report, generatedAt?: string): { input: HtmlReportInput; html: string } {
  const input = reportToHtmlInput(result);
  const dated = generatedAt === undefined ? input : { ...input, params: { ...input.params, generatedAt } };
  return { input: dated, html: renderHtmlReport(dated) };
}

let campaign: Report;
let report: { input: HtmlReportInput; html: string };

beforeAll(async () => {
  campaign = await smallCampaign();
  report = reportOf(campaign);
});

/** The input's count of findings chart bars: one per promise with findings, per setup that ran. */
function expectedFindingBars(input: HtmlReportInput): number {
  return input.combinations.filter((c) => c.skipped === undefined)
    .reduce((n, c) => n + PROMISES.filter((p) => (c.findings[p] ?? 0) > 0).length, 0);
}

function countOf(html: string, re: RegExp): number {
  return (html.match(re) ?? []).length;
}

describe('escaping', () => {
  test('esc escapes the five characters that matter in content and attributes', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(esc('plain /path-1')).toBe('plain /path-1');
  });

  test('user data in names, paths, diffs and labels never becomes markup', () => {
    const hostile = `<script>alert(1)</script><img src=x onerror="y"> & 'q'`;
    const input: HtmlReportInput = {
      title: `report ${hostile}`,
      params: { seed: hostile, suites: [hostile], setups: [hostile], other: [[hostile, hostile]] },
      summary: { units: 1, statesChecked: 2, findingsTotal: 1, verdict: 'fail' },
      combinations: [{
        setup: hostile, units: 1, statesChecked: 2, coverage: 0.5, findings: { G3: 1 }, costNanosPerOp: 10, cleansPerOp: 1, barriersPerOp: 1,
      }],
      findings: [{
        promise: 'G3', setup: hostile, workload: hostile, operations: [hostile, hostile], completedOps: 1, inFlight: true,
        token: hostile, shrunkToken: hostile, reproCommand: hostile, diff: `</pre>${hostile}`,
        timeline: {
          crashPoint: 3, events: [{ index: 0, kind: 'marker', address: null, line: null, label: hostile }], words: [], done: 1, inFlight: true,
          operations: [hostile],
        },
      }],
    };
    const html = renderHtmlReport(input);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;y&quot;&gt; &amp; &#39;q&#39;');
    // every tag is well formed, one the renderer writes itself, with attributes it writes itself
    const tagNames = ['html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'h2', 'h3', 'h4', 'p', 'section', 'table', 'thead',
      'tbody', 'tr', 'th', 'td', 'figure', 'figcaption', 'svg', 'rect', 'text', 'tspan', 'line', 'ol', 'li', 'a', 'span', 'code',
      'pre', 'details', 'summary', 'article'];
    const attributeNames = ['lang', 'charset', 'http-equiv', 'content', 'name', 'class', 'id', 'href', 'colspan', 'style', 'xmlns',
      'role', 'aria-label', 'width', 'height', 'viewBox', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'dy', 'fill', 'text-anchor',
      'data-setup', 'data-promise'];
    const strictTag = /<\/?([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z][a-zA-Z0-9-]*="[^"<>]*")*)\s*>/y;
    let tags = 0;
    for (let at = html.indexOf('<'); at >= 0; at = html.indexOf('<', at + 1)) {
      if (html.startsWith('<!DOCTYPE html>', at)) continue;
      strictTag.lastIndex = at;
      const m = strictTag.exec(html);
      expect(m === null ? html.slice(at, at + 80) : 'well formed').toBe('well formed');
      const [, name, attrs] = m as RegExpExecArray;
      expect(tagNames).toContain(name);
      for (const a of (attrs as string).matchAll(/\s+([a-zA-Z][a-zA-Z0-9-]*)="/g)) expect(attributeNames).toContain(a[1]);
      tags++;
    }
    expect(tags).toBeGreaterThan(50);
    expect(html).not.toMatch(/<script|<img/i);
  });
});

describe('a report of a small campaign', () => {
  test('the campaign has what the report must show: findings, a clean setup and a skipped one', () => {
    const ran = campaign.combos;
    expect(ran.length).toBe(4);
    // the plan skips a flavour of the other ISA once per profile (both its policies)
    expect(campaign.run.skipped.map((s) => s.setup)).toEqual(['armv8.2 linux-x86']);
    expect(Object.values(ran.find((c) => c.setup.pmemApi === 'linux-arm64' && c.setup.policy === 'ordered')?.findingCounts ?? {}).every((n) => n === 0)).toBe(true);
    expect(report.input.findings.length).toBeGreaterThanOrEqual(3);
    expect(report.input.summary.verdict).toBe('fail');
  });

  test('the summary carries the run parameters and totals', () => {
    const { input, html } = report;
    expect(input.summary.units).toBe(8);
    expect(input.summary.statesChecked).toBe(campaign.combos.reduce((n, c) => n + c.statesChecked, 0));
    expect(input.summary.findingsTotal).toBe(campaign.combos.reduce((n, c) => n + Object.values(c.findingCounts).reduce((a, b) => a + b, 0), 0));
    expect(html).toContain('<section id="summary">');
    expect(html).toContain(`<td>${SEED}</td>`);
    expect(html).toContain('armv8.2/linux-arm64/unordered');
    expect(html).toMatch(/<p class="verdict verdict-fail">FAIL: [\d,]+ finding\(s\)<\/p>/);
    expect(countOf(html, /<tr class="skipped">/g)).toBe(campaign.run.skipped.length);
  });

  test('the comparison charts: one bar per datum', () => {
    const { input, html } = report;
    const ran = input.combinations.filter((c) => c.skipped === undefined).length;
    const chart = (id: string) => html.slice(html.indexOf(`<figure class="chart" id="${id}">`), html.indexOf('</figure>', html.indexOf(`id="${id}"`)));
    expect(countOf(chart('chart-findings'), /<rect class="bar"/g)).toBe(expectedFindingBars(input));
    expect(countOf(chart('chart-cost'), /<rect class="bar"/g)).toBe(ran);
    expect(countOf(chart('chart-coverage'), /<rect class="bar"/g)).toBe(ran);
    expect(chart('chart-findings')).toContain('no findings');
  });

  test('each finding: its promise, operations with the one in flight, tokens, repro command, diff and timeline', () => {
    const { input, html } = report;
    input.findings.forEach((f, i) => {
      const article = html.slice(html.indexOf(`<article class="finding" id="finding-${i + 1}"`), html.indexOf('</article>', html.indexOf(`id="finding-${i + 1}"`)));
      expect(f.token).toMatch(/^dx2-/);
      expect(f.shrunkToken).toMatch(/^dx2-/);
      expect(f.reproCommand).toBe(`daxcrash repro ${f.shrunkToken}`);
      expect(article).toContain(`<code>${esc(f.token as string)}</code>`);
      expect(article).toContain(esc(f.diff));
      expect(countOf(article, /<li class="op op-in-flight">/g)).toBe(f.inFlight ? 1 : 0);
      expect(countOf(article, /<li class="op op-done">/g)).toBe(f.completedOps);
      expect(article).toContain('<svg xmlns="http://www.w3.org/2000/svg" class="timeline-strip"');
      expect(countOf(article, /<rect class="event /g)).toBe(f.timeline?.events.length);
    });
    // the tokens reproduce the promise they stand for
    for (const f of input.findings.slice(0, 3)) {
      expect(repro(f.shrunkToken as string).violations.map((v) => v.promise)).toContain(f.promise);
    }
  });

  test('the 2016 RFC finding of G4 shows words lost at the power failure', () => {
    const g4 = report.input.findings.find((f) => f.promise === 'G4' && f.setup.includes('rfc-2016'));
    expect(g4?.timeline?.words.some((w) => w.kept === 'lost')).toBe(true);
    expect(report.html).toMatch(/<rect class="word word-lost"/);
    expect(report.html).toMatch(/<rect class="event event-store touches-lost"/);
  });

  test('self-contained: no script, no external resource', () => {
    const { html } = report;
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\ssrc=|url\(|@import|<link/i);
    expect([...html.matchAll(/href="([^"]*)"/g)].every((m) => (m[1] as string).startsWith('#'))).toBe(true);
  });

  test('deterministic: the same campaign gives the same bytes; a date appears only when given', async () => {
    const again = reportOf(await smallCampaign());
    expect(again.html).toBe(report.html);
    expect(renderHtmlReport(JSON.parse(JSON.stringify(report.input)) as HtmlReportInput)).toBe(report.html);
    expect(report.html).not.toContain('generated');
    const dated = reportOf(campaign, '2030-01-02T03:04:05Z').html;
    expect(dated).toContain('<tr><th>generated</th><td>2030-01-02T03:04:05Z</td></tr>');
  });

  test('a campaign without findings is a pass with an empty findings section', async () => {
    const clean = await runCampaign({ ...spec, pmemApis: ['linux-arm64'], policies: ['ordered'] });
    expect(clean.combos.length).toBe(1);
    const input = reportToHtmlInput(clean);
    expect(input.summary.verdict).toBe('pass');
    const html = renderHtmlReport(input);
    expect(html).toContain('PASS: no findings');
    expect(html).toContain('<section id="findings"><h2>Findings</h2><p>None.</p></section>');
  });
});

describe('the timeline', () => {
  test('device events map to the five kinds, with the line of addressed ones', () => {
    const base = { instruction: 5, op: '', length: 8, ref: 0, detail: 0 } as const;
    const ev = (kind: DeviceEvent['kind'], extra: Partial<DeviceEvent> = {}): DeviceEvent => ({ ...base, index: 9, kind, addr: 130, ...extra });
    expect(timelineEvent(ev('store'))).toEqual({ index: 9, kind: 'store', address: 130, line: 2, label: 'store 8 B' });
    expect(timelineEvent(ev('dc', { op: 'cvap' }))).toMatchObject({ kind: 'clean', line: 2, label: 'dc cvap' });
    expect(timelineEvent(ev('clwb'))).toMatchObject({ kind: 'clean', line: 2 });
    expect(timelineEvent(ev('dsb', { op: 'sy' }))).toMatchObject({ kind: 'barrier', address: null, line: null, label: 'dsb sy' });
    expect(timelineEvent(ev('sfence'))).toMatchObject({ kind: 'fence', line: null });
    expect(timelineEvent(ev('mark', { label: 'op-start', data: { index: 2, op: { op: 'sync' } } })))
      .toMatchObject({ kind: 'marker', label: 'operation 2 starts {"op":"sync"}' });
  });

  test('word fates: the newest state keeps every uncertain word, the least-persisting state loses them all', () => {
    const g4 = campaign.kinds.find((k) => k.promise === 'G4' && k.setup.includes('rfc-2016'));
    expect(g4?.first.token).toBeDefined();
    const spec = repro(g4?.first.token as string).spec;
    const newest = reproductionTimeline(repro({ ...spec, crashState: { kind: 'newest' } }));
    const least = reproductionTimeline(repro({ ...spec, crashState: { kind: 'bounded', epochs: 0, subset: [], units: [] } }));
    expect(newest.words.length).toBeGreaterThan(0);
    expect(newest.words.every((w) => w.kept === 'newest')).toBe(true);
    expect(least.words.every((w) => w.kept === 'lost')).toBe(true);
    expect(least.words.map((w) => w.address)).toEqual(newest.words.map((w) => w.address));
    expect(newest.words.every((w) => w.line === Math.floor(w.address / 64) && w.address % 8 === 0)).toBe(true);
  });
});

/** The setup labels under the findings chart: one per setup, each box apart from every other. */
async function expectLabelsApart(page: import('playwright-core').Page): Promise<void> {
  const boxes = await Promise.all((await page.locator('#chart-findings svg text.label').all()).map((l) => l.boundingBox()));
  expect(boxes.length).toBeGreaterThan(1);
  const rects = boxes.map((b) => b as NonNullable<typeof b>);
  for (let i = 0; i < rects.length; i++) {
    for (let j = i + 1; j < rects.length; j++) {
      const a = rects[i];
      const b = rects[j];
      const overlap = a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
      expect({ i, j, overlap }).toEqual({ i, j, overlap: false });
    }
  }
}

/** Debian's chromium; missing, the test fails with the install hint (never skips). */
function chromiumPath(): string {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
    return CHROMIUM;
  } catch {
    throw new Error(`chromium was not found at ${CHROMIUM}. The HTML report test opens the report in a real browser and cannot `
      + 'run without it: install the Debian package chromium (apt-get install chromium); .ci/run does so.');
  }
}

describe('the report in headless Chromium', () => {
  test('the charts render with the expected bars, the findings show their tokens, no console error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxcrash-html-'));
    const file = path.join(dir, 'report.html');
    // the directory goes whatever happens, also when the browser does not start
    let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
    try {
      fs.writeFileSync(file, report.html);
      browser = await chromium.launch({ executablePath: chromiumPath() });
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${file}`, { waitUntil: 'load' });

      const { input } = report;
      const ran = input.combinations.filter((c) => c.skipped === undefined).length;
      const expectBars = async (selector: string, expected: number) => {
        const bars = page.locator(selector);
        expect(await bars.count()).toBe(expected);
        for (let i = 0; i < expected; i++) {
          const box = await bars.nth(i).boundingBox();
          expect(box !== null && box.width > 0 && box.height > 0).toBe(true);
        }
      };
      for (const id of ['chart-findings', 'chart-cost', 'chart-coverage']) {
        const box = await page.locator(`#${id} svg`).boundingBox();
        expect(box !== null && box.width > 100 && box.height > 20).toBe(true);
      }
      await expectBars('#chart-findings rect.bar', expectedFindingBars(input));
      await expectBars('#chart-cost rect.bar', ran);
      await expectBars('#chart-coverage rect.bar', ran);
      // a taller bar for a larger count
      const heights = await Promise.all((await page.locator('#chart-findings rect.bar').all()).map(async (b) => ({
        h: (await b.boundingBox())?.height ?? 0,
        setup: await b.getAttribute('data-setup'), promise: await b.getAttribute('data-promise'),
      })));
      const valueOf = (setup: string | null, promise: string | null) =>
        input.combinations.find((c) => c.setup === setup)?.findings[promise as (typeof PROMISES)[number]] ?? 0;
      const sorted = [...heights].sort((a, b) => valueOf(a.setup, a.promise) - valueOf(b.setup, b.promise));
      for (let i = 1; i < sorted.length; i++) expect(sorted[i].h).toBeGreaterThanOrEqual(sorted[i - 1].h);

      expect(await page.locator('article.finding').count()).toBe(input.findings.length);
      for (let i = 0; i < input.findings.length; i++) {
        const f = input.findings[i];
        const article = page.locator(`#finding-${i + 1}`);
        expect(await article.locator('td.token code').first().innerText()).toBe(f.token);
        expect(await article.locator('td.shrunk-token code').innerText()).toBe(f.shrunkToken);
        expect(await article.locator('td.command code').innerText()).toBe(f.reproCommand);
        const strip = await article.locator('svg.timeline-strip').boundingBox();
        expect(strip !== null && strip.width > 0 && strip.height > 0).toBe(true);
        expect(await article.locator('svg.timeline-strip rect.event').count()).toBe(f.timeline?.events.length);
      }
      const lost = page.locator('svg.timeline-strip rect.word-lost');
      expect(await lost.count()).toBeGreaterThan(0);
      const lostBox = await lost.first().boundingBox();
      expect(lostBox !== null && lostBox.width > 0).toBe(true);

      await expectLabelsApart(page);

      // a two-setup report: its labels stay apart too
      const two = await runCampaign({ ...spec, pmemApis: ['linux-arm64'], policies: ['ordered', 'unordered'], shrinkTries: 0 });
      expect(two.combos.length).toBe(2);
      const twoFile = path.join(dir, 'two.html');
      fs.writeFileSync(twoFile, renderHtmlReport(reportToHtmlInput(two)));
      await page.goto(`file://${twoFile}`, { waitUntil: 'load' });
      await expectLabelsApart(page);

      expect(problems).toEqual([]);
      expect(requests).toEqual([`file://${file}`, `file://${twoFile}`]);
    } finally {
      await browser?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
