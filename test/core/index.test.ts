import * as fs from 'node:fs';
import * as path from 'node:path';
import * as core from '../../core';

const CORE_DIR = path.join(__dirname, '..', '..', 'core');

function coreSources(): Array<{ file: string; text: string }> {
  return fs
    .readdirSync(CORE_DIR)
    .filter((file) => file.endsWith('.ts'))
    .sort()
    .map((file) => ({ file, text: fs.readFileSync(path.join(CORE_DIR, file), 'utf8') }));
}

describe('core/index', () => {
  // A name listed with `export` instead of `export type` (or missing from a module) would
  // come through as undefined at run time while still type-checking.
  test('every value export is defined', () => {
    for (const [name, value] of Object.entries(core)) expect([name, value === undefined]).toEqual([name, false]);
  });

  test('the limits hold their documented relations', () => {
    expect(core.LINE_BYTES % core.WORD_BYTES).toBe(0);
    expect(core.PAGE_BYTES % core.LINE_BYTES).toBe(0);
    expect(core.DEFAULT_DEVICE_BYTES).toBe(2 ** 30);
    expect(core.MAX_DEVICE_BYTES).toBe(2 ** 40);
  });

  test('re-exports by name only', () => {
    const index = fs.readFileSync(path.join(CORE_DIR, 'index.ts'), 'utf8');
    expect(index).not.toMatch(/^\s*export\s*\*/m);
  });
});

// STYLE.md convention 1: core/ never reads the clock or fresh entropy.
describe('core/ determinism', () => {
  const banned = [/Math\.random/, /Date\.now/, /new Date\b/, /performance\.now/, /set(Timeout|Interval|Immediate)\s*\(/, /process\.hrtime/];

  test.each(coreSources())('$file uses no clock, timer or ambient randomness', ({ text }) => {
    for (const pattern of banned) expect(text).not.toMatch(pattern);
  });

  test.each(coreSources())('$file starts with a header comment', ({ text }) => {
    expect(text.startsWith('//') || text.startsWith('/*')).toBe(true);
  });
});
