// lowdb 7.0.1 (ES module; a JSON database on steno). README, Features: "Safe atomic writes".
// db.update(fn) changes db.data and writes the whole file through steno's Writer.
const FILE = '/app/db.json';

async function open(load) {
  const { JSONFilePreset } = await load('lowdb/node');
  // A fresh default each time: lowdb keeps (and mutates) the object it is given, and this
  // file, unlike the package, is loaded once for every phase.
  return JSONFilePreset(FILE, { posts: [] });
}

async function setup({ fs, load }) {
  fs.mkdirSync('/app');
  const db = await open(load);
  await db.update(({ posts }) => { for (let i = 0; i < 20; i++) posts.push({ id: i, title: `first ${i}` }); });
  fs.syncSync();
}

async function run({ load, mark }) {
  const db = await open(load);
  await db.update(({ posts }) => { for (let i = 20; i < 40; i++) posts.push({ id: i, title: `second ${i}` }); });
  mark('resolved');
}

export default [
  {
    name: 'lowdb update: the database reads back as before or after the update, whole',
    promise: '"Safe atomic writes" (README, Features)',
    setup,
    run,
    async check({ load }) {
      const db = await open(load);
      const n = db.data.posts.length;
      if (n !== 20 && n !== 40) throw new Error(`the database has ${n} posts: neither before (20) nor after (40) the update`);
    },
  },
  {
    name: 'lowdb update: the update survives once it resolved',
    promise: 'durability after update resolves (not stated: steno never fsyncs)',
    promised: false,
    setup,
    run,
    async check({ load, reached }) {
      if (!reached('resolved')) return;
      const db = await open(load);
      if (db.data.posts.length !== 40) throw new Error(`update had resolved, and the database has ${db.data.posts.length} posts`);
    },
    crash: { commitAfter: false },
  },
];
