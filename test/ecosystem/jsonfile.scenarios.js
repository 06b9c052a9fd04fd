// jsonfile 6.2.1 (read and write JSON files; CommonJS, through graceful-fs when installed).
// README: "Easily read/write JSON files." writeFile(filename, obj) serializes and calls
// fs.writeFile: the README promises nothing about crashes, so both scenarios are observations.
'use strict';

const FILE = '/app/settings.json';
const OLD = { version: 1, theme: 'light', recent: Array.from({ length: 30 }, (_, i) => `old-${i}`) };
const NEW = { version: 2, theme: 'dark', recent: Array.from({ length: 30 }, (_, i) => `new-${i}`) };

async function setup({ fs, load }) {
  fs.mkdirSync('/app');
  const jsonfile = await load('jsonfile');
  await jsonfile.writeFile(FILE, OLD);
  fs.syncSync();
}

async function run({ load, mark }) {
  const jsonfile = await load('jsonfile');
  await jsonfile.writeFile(FILE, NEW);
  mark('resolved');
}

module.exports = [
  {
    name: 'jsonfile: after a crash the file parses, as the old object or the new',
    promise: 'none stated for crashes ("Easily read/write JSON files.", README); writeFile is fs.writeFile in place',
    promised: false,
    setup,
    run,
    async check({ load }) {
      const jsonfile = await load('jsonfile');
      const value = await jsonfile.readFile(FILE);
      if (value.version !== 1 && value.version !== 2) throw new Error(`unexpected version ${value.version}`);
      const expected = value.version === 1 ? OLD : NEW;
      if (JSON.stringify(value) !== JSON.stringify(expected)) throw new Error('the object parsed but mixes the old and the new');
    },
  },
  {
    name: 'jsonfile: the new object survives once writeFile resolved',
    promise: 'durability after writeFile resolves (not stated: it never fsyncs)',
    promised: false,
    setup,
    run,
    async check({ load, reached }) {
      if (!reached('resolved')) return;
      const jsonfile = await load('jsonfile');
      const value = await jsonfile.readFile(FILE);
      if (value.version !== 2) throw new Error(`writeFile had resolved, and version ${value.version} came back`);
    },
    crash: { commitAfter: false },
  },
];
