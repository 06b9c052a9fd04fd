// atomically 2.1.1 (ES module; a rewrite of write-file-atomic with retries). README: "Writes
// are atomic, meaning that first a temporary file containing the new content is written, then
// this file is renamed to the final path, this way it's impossible to get a
// corrupt/partially-written file." fsync (default on) of the temporary file: "increasing the
// chances that the file will actually be written to disk in case of imminent catastrophic
// failures, like power outages." The directory is not fsynced after the rename.
const FILE = '/app/config.json';
const OLD = JSON.stringify({ version: 1, keys: Array.from({ length: 40 }, (_, i) => `old-${i}`) });
const NEW = JSON.stringify({ version: 2, keys: Array.from({ length: 40 }, (_, i) => `new-${i}`) });

async function setup({ fs, load }) {
  fs.mkdirSync('/app');
  const { writeFile } = await load('atomically');
  await writeFile(FILE, OLD);
}

async function run({ load, mark }) {
  const { writeFile } = await load('atomically');
  await writeFile(FILE, NEW);
  mark('resolved');
}

export default [
  {
    name: 'atomically writeFile: never a corrupt or partially-written file',
    promise: '"it\'s impossible to get a corrupt/partially-written file" (README, Reliability)',
    setup,
    run,
    async check({ load }) {
      const { readFile } = await load('atomically');
      const text = await readFile(FILE, 'utf8');
      if (text !== OLD && text !== NEW) throw new Error(`the file is neither old nor new: ${text.length} bytes`);
    },
  },
  {
    name: 'atomically writeFile: the new data survives once the promise resolved',
    promise: 'durability after writeFile resolves (the README promises better chances through fsync of the file, not durability: the rename is not fsynced)',
    promised: false,
    setup,
    run,
    async check({ load, reached }) {
      if (!reached('resolved')) return;
      const { readFile } = await load('atomically');
      if ((await readFile(FILE, 'utf8')) !== NEW) throw new Error('writeFile had resolved, and the old data came back');
    },
    crash: { commitAfter: false },
  },
];
