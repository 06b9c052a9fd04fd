import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { repro } from '../../crash/repro';

const BIN = path.join(__dirname, '..', '..', 'bin', 'daxcrash.js');

describe('daxcrash demo (npm start)', () => {
  test('compares the four setups, shows one shrunk finding with a token that reproduces it, exits 0', () => {
    const r = spawnSync(process.execPath, [BIN, 'demo'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const row of [/linux-arm64\s+ordered\s+no finding/, /linux-arm64\s+unordered\s+\d+ findings in \d+ of 26 workloads/,
      /rfc-2016\s+ordered\s+\d+ findings/, /rfc-2016\s+unordered\s+\d+ findings/]) expect(r.stdout).toMatch(row);
    expect(r.stdout).toMatch(/^profile\s+pmem API\s+policy\s+workloads\s+states\s+coverage/m);
    const found = /One finding, shrunk from (\d+) to (\d+) operations[\s\S]*?\n {2}(G\d) on armv8\.2, rfc-2016, ordered[\s\S]*?daxcrash repro (dx2-\S+)/.exec(r.stdout);
    expect(found).not.toBeNull();
    const [, from, to, promise, token] = found as RegExpExecArray;
    expect(Number(to)).toBeLessThanOrEqual(Number(from));
    expect(repro(token).violations.map((v) => v.promise)).toContain(promise);
  });
});
