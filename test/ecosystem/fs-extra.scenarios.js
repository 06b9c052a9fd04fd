// fs-extra 11.4.1 (CommonJS; graceful-fs underneath). outputJson(file, obj) makes the parent
// directories and writes the JSON with fs.writeFile. Its README documents what the calls do,
// not what survives a crash: both scenarios are observations.
'use strict';

const FILE = '/app/cache/index.json';
const OLD = { version: 1, entries: Array.from({ length: 30 }, (_, i) => ({ id: i, name: `old-${i}` })) };
const NEW = { version: 2, entries: Array.from({ length: 30 }, (_, i) => ({ id: i, name: `new-${i}` })) };

async function setup({ fs, load }) {
  const fse = await load('fs-extra');
  await fse.outputJson(FILE, OLD);
  fs.syncSync();
}

async function run({ load, mark }) {
  const fse = await load('fs-extra');
  await fse.outputJson(FILE, NEW);
  mark('resolved');
}

module.exports = [
  {
    name: 'fs-extra outputJson: after a crash the file parses, as the old object or the new',
    promise: 'none stated for crashes: "Writes an object to a JSON file" / "Almost the same as writeJson, except that if the directory does not exist, it\'s created." (docs/outputJson.md)',
    promised: false,
    setup,
    run,
    async check({ load }) {
      const fse = await load('fs-extra');
      const value = await fse.readJson(FILE);
      const expected = value.version === 1 ? OLD : NEW;
      if (JSON.stringify(value) !== JSON.stringify(expected)) throw new Error('the object parsed but is neither the old nor the new');
    },
  },
  {
    name: 'fs-extra outputJson: the new object survives once the promise resolved',
    promise: 'durability after the promise resolves (not stated: it never fsyncs)',
    promised: false,
    setup,
    run,
    async check({ load, reached }) {
      if (!reached('resolved')) return;
      const fse = await load('fs-extra');
      const value = await fse.readJson(FILE);
      if (value.version !== 2) throw new Error(`outputJson had resolved, and version ${value.version} came back`);
    },
    crash: { commitAfter: false },
  },
];
