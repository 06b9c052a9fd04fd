// write-file-atomic 7.0.1 (npm's own atomic writer, CommonJS).
// README: "Atomically and asynchronously writes data to a file, replacing the file if it
// already exists." Option `fsync` (default true) fsyncs the temporary file before the rename.
// It says nothing of durability once the promise resolves: the second scenario observes it.
'use strict';

const FILE = '/app/state.json';
const OLD = JSON.stringify({ version: 1, rows: Array.from({ length: 40 }, (_, i) => `old ${i}`) });
const NEW = JSON.stringify({ version: 2, rows: Array.from({ length: 40 }, (_, i) => `new ${i}`) });

async function setup({ fs, load }) {
  fs.mkdirSync('/app');
  const writeFileAtomic = await load('write-file-atomic');
  await writeFileAtomic(FILE, OLD);
}

async function run({ load, mark }) {
  const writeFileAtomic = await load('write-file-atomic');
  await writeFileAtomic(FILE, NEW);
  mark('resolved');
}

module.exports = [
  {
    name: 'write-file-atomic: the file holds the old or the new data, whole',
    promise: '"Atomically and asynchronously writes data to a file, replacing the file if it already exists." (README)',
    setup,
    run,
    check({ fs }) {
      const text = fs.readFileSync(FILE, 'utf8');
      if (text !== OLD && text !== NEW) throw new Error(`the file is neither old nor new: ${text.length} bytes`);
    },
  },
  {
    name: 'write-file-atomic: the new data survives once the promise resolved',
    promise: 'durability after the promise resolves (the README does not say; the directory is not fsynced after the rename)',
    promised: false,
    setup,
    run,
    check({ fs, reached }) {
      if (reached('resolved') && fs.readFileSync(FILE, 'utf8') !== NEW) throw new Error('the promise had resolved, and the old data came back');
    },
    crash: { commitAfter: false },
  },
];
