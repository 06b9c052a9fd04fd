// steno 4.0.2 (ES module; the writer under lowdb). README, Features: "Safe: No partial
// writes (writes are atomic)". Writer.write(data) writes a temporary file with fs.writeFile
// and renames it over the target; no fsync.
const FILE = '/app/db.json';
const OLD = JSON.stringify({ version: 1, posts: Array.from({ length: 40 }, (_, i) => `old post ${i}`) });
const NEW = JSON.stringify({ version: 2, posts: Array.from({ length: 40 }, (_, i) => `new post ${i}`) });

async function setup({ fs, load }) {
  fs.mkdirSync('/app');
  const { Writer } = await load('steno');
  await new Writer(FILE).write(OLD);
  fs.syncSync();
}

async function run({ load, mark }) {
  const { Writer } = await load('steno');
  await new Writer(FILE).write(NEW);
  mark('resolved');
}

/** Three writes started without waiting, as an app saving on every keystroke would. */
const A = JSON.stringify({ version: 'a', pad: 'a'.repeat(500) });
const B = JSON.stringify({ version: 'b', pad: 'b'.repeat(500) });
const C = JSON.stringify({ version: 'c', pad: 'c'.repeat(500) });

export default [
  {
    name: 'steno Writer.write: no partial writes (old or new, whole)',
    promise: '"Safe: No partial writes (writes are atomic)" (README, Features)',
    setup,
    run,
    check({ fs }) {
      const text = fs.readFileSync(FILE, 'utf8');
      if (text !== OLD && text !== NEW) throw new Error(`the file is neither old nor new: ${text.length} bytes`);
    },
  },
  {
    name: 'steno Writer.write: the new data survives once write resolved',
    promise: 'durability after write resolves (not stated: it never fsyncs)',
    promised: false,
    setup,
    run,
    check({ fs, reached }) {
      if (reached('resolved') && fs.readFileSync(FILE, 'utf8') !== NEW) throw new Error('write had resolved, and the old data came back');
    },
    crash: { commitAfter: false },
  },
  {
    name: 'steno Writer.write: concurrent writes leave one value whole at every crash, and the last one once all resolved and committed',
    promise: '"Safe: No race conditions (writes are ordered even if they\'re async)" (README, Features)',
    setup,
    async run({ load, mark }) {
      const { Writer } = await load('steno');
      const writer = new Writer(FILE);
      await Promise.all([writer.write(A), writer.write(B), writer.write(C)]);
      mark('all resolved');
    },
    check({ fs, crash }) {
      const text = fs.readFileSync(FILE, 'utf8');
      if (![OLD, A, B, C].includes(text)) throw new Error(`the file is none of the values written, whole: ${text.length} bytes`);
      // Ordering is judged on the final state only: after every write resolved and the periodic
      // commit, the last write must be the one kept.
      if (crash.event === 'end' && crash.inFlight === undefined && crash.marks.includes('all resolved') && text !== C) {
        throw new Error(`after every write resolved and the periodic commit, the file holds version ${JSON.parse(text).version}, not the last write`);
      }
    },
  },
];
