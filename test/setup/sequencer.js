/**
 * Jest's test order for `npm test`: the longest files first, so neither worker is left with a
 * long file at the end while the other idles. Jest orders by the durations it cached from the
 * last run, and, on a clean checkout (CI) where there is no cache, by file size: a short file
 * that runs for minutes (the canary catalog) then starts halfway through. Here a file with no
 * cached duration takes its estimate from ESTIMATES (seconds, one full run on this project's
 * 2-core host; only their order matters), and one with neither comes after, by size, as in
 * Jest. Failed files still run first. Order decides nothing but wall time.
 */
'use strict';
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

const ESTIMATES = new Map([
  ['canary/catalog.test.ts', 500], ['cli/run.test.ts', 330],
  ['cli/demo.test.ts', 150], ['packaging/pack.test.ts', 134], ['crash/held.test.ts', 122],
  ['cli/image.test.ts', 111], ['cli/test-module.test.ts', 111], ['crash/shrink.test.ts', 109],
  ['crash/engine.test.ts', 90], ['ecosystem/ecosystem.test.ts', 90], ['scenarios/canary.test.ts', 86],
  ['crash/smoke.test.ts', 86], ['crash/reduction.test.ts', 78],
  ['crash/campaign.test.ts', 73], ['device/run-model.test.ts', 71],
  ['interop/jbd2-write-csum.test.ts', 65], ['crash/g7-atomic-rename.test.ts', 60],
  ['crash/judgement-cache.test.ts', 59], ['device/representation.test.ts', 53],
  ['crash/unseen-seeds.test.ts', 47], ['fs/read-default.test.ts', 45], ['api/crash-test.test.ts', 44],
  ['fs/trace-fingerprint.test.ts', 38], ['fuzz/hostile.test.ts', 36], ['cli/html-flag.test.ts', 36],
  ['cli/repro.test.ts', 35], ['crash/fake-clock.test.ts', 35], ['fs/mkfs-default.test.ts', 34],
  ['interop/jbd2-csum.test.ts', 32], ['cli/litmus.test.ts', 32],
]);
const TEST_ROOT = path.join(__dirname, '..');

class LongestFirst extends Sequencer {
  sort(tests) {
    const key = (test) => {
      const cached = this.time(test);
      if (cached != null) return cached / 1000;
      return ESTIMATES.get(path.relative(TEST_ROOT, test.path).split(path.sep).join('/'));
    };
    const size = (test) => test.context.hasteFS.getSize(test.path) ?? 0;
    const keyed = tests.map((test) => ({ test, failed: this.hasFailed(test), seconds: key(test), bytes: size(test) }));
    keyed.sort((a, b) => {
      if (a.failed !== b.failed) return a.failed ? -1 : 1;
      if ((a.seconds === undefined) !== (b.seconds === undefined)) return a.seconds === undefined ? 1 : -1;
      if (a.seconds !== undefined && a.seconds !== b.seconds) return b.seconds - a.seconds;
      return b.bytes - a.bytes;
    });
    return keyed.map((k) => k.test);
  }
}

module.exports = LongestFirst;
