/**
 * Named scenarios: failures the comparison found once, shrunk, each replayed from its token.
 * A scenario breaking a different promise (or none) means the file system, the device model
 * or the checker changed what it does on that exact crash state: look before updating it.
 * Made by shrinking the first failing bounded-1 workload of each setup (k=1, limit 12,
 * seed 'scenario'): every one shrank to two operations (create, fdatasync).
 */
import { repro } from '../../crash/repro';

const SCENARIOS: ReadonlyArray<{ name: string; promise: string; token: string }> = [
  {
    name: 'unordered policy on armv8.2: a new file whose commit is out of order (G3)',
    promise: 'G3',
    token: 'dx2-AgVbXctBDkAwEEbhqzS_bRvEbhxFuhhasdFptCIi7i5ELKzf9w4Enj0IvazBeWfqolHdsHjOJvhNlaNIq0bHmdMeBmsqaEhMoO6ARBAeC43IeQLhHnDqN37jH9jzAgAAAQAIc2NlbmFyaW-AIDQDAwAAAPJ0klU',
  },
  {
    name: 'the 2016 RFC on armv8.2: fdatasync returns, the new file is gone (G4)',
    promise: 'G4',
    token: 'dx2-AgVbXctBDkAwEEbhqzS_bRvEbhxFuhhasdFptCIi7i5ELKzf9w4Enj0IvazBeWfqolHdsHjOJvhNlaNIq0bHmdMeBmsqaEhMoO6ARBAeC43IeQLhHnDqN37jH9jzAgACAAAIc2NlbmFyaW-AIBsEAwAAAJ-KbnA',
  },
  {
    name: 'linux-arm64 on armv8.0 without the flush hint: fdatasync returns, the new file is gone (G4)',
    promise: 'G4',
    token: 'dx2-AgVbXctBDkAwEEbhqzS_bRvEbhxFuhhasdFptCIi7i5ELKzf9w4Enj0IvazBeWfqolHdsHjOJvhNlaNIq0bHmdMeBmsqaEhMoO6ARBAeC43IeQLhHnDqN37jH9jzAgIAAAAIc2NlbmFyaW-AIIsBBAMAAACmEnzS',
  },
];

describe('scenarios found by the comparison', () => {
  test.each(SCENARIOS.map((s) => [s.name, s]))('%s', (_name, s) => {
    const r = repro(s.token);
    expect(r.violations.map((v) => v.promise)).toContain(s.promise);
    expect(r.workload.ops.length).toBeLessThanOrEqual(3);
  });
});
