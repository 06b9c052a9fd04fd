/**
 * Report files: each format is a renderer from the Report object (crash/report.ts) to text,
 * written atomically (atomic.ts): JSON (the schema, docs/report-schema.md), JUnit XML, and
 * one self-contained HTML file (cli/html.ts, docs/report-html.md).
 */
import type { Report } from '../crash/report';
import { writeFileAtomic } from './atomic';
import { renderHtmlReport, reportToHtmlInput } from './html';
import { junitXml } from './summary';

export type ReportFormat = 'json' | 'junit' | 'html';

export const REPORT_RENDERERS: Readonly<Record<ReportFormat, (report: Report) => string>> = {
  json: (report) => `${JSON.stringify(report, null, 2)}\n`,
  junit: junitXml,
  html: (report) => renderHtmlReport(reportToHtmlInput(report)),
};

/** Write each requested report; returns what was written, for the summary. */
export function writeReports(report: Report, files: Partial<Record<ReportFormat, string>>): string[] {
  const written: string[] = [];
  for (const format of Object.keys(REPORT_RENDERERS) as ReportFormat[]) {
    const file = files[format];
    if (file === undefined) continue;
    writeFileAtomic(file, REPORT_RENDERERS[format](report));
    written.push(`${format} report: ${file}`);
  }
  return written;
}
