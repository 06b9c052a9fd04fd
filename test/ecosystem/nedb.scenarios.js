// @seald-io/nedb 4.1.2 (an embedded database, CommonJS; the maintained fork of nedb). Its
// persistence documentation (lib/persistence.js, rendered in API.md): "compaction forces the
// OS to physically flush data to disk, while appends to the data file do not [...] That
// guarantees that a server crash can never cause complete data loss [...] The worst that can
// happen is a crash between two syncs, causing a loss of all data between the two syncs."
// Inserts append lines; compaction rewrites the file (temporary file, fsync, rename, fsync of
// the directory: "immune to crashes during the write operation (data will not be lost)").
'use strict';

const FILE = '/data/app.db';

async function open(load) {
  const Datastore = await load('@seald-io/nedb');
  const db = new Datastore({ filename: FILE });
  await db.loadDatabaseAsync();
  return db;
}

async function setup({ load }) {
  const db = await open(load);
  for (let i = 0; i < 20; i++) await db.insertAsync({ _id: `a${String(i).padStart(3, '0')}`, n: i, text: 'first batch' });
  await db.compactDatafileAsync();
}

async function run({ load, mark }) {
  const db = await open(load); // loading compacts the file again
  mark('loaded');
  for (let i = 20; i < 40; i++) await db.insertAsync({ _id: `b${String(i).padStart(3, '0')}`, n: i, text: 'second batch' });
  mark('inserted');
  await db.compactDatafileAsync();
  mark('compacted');
}

module.exports = [
  {
    name: 'nedb: a crash never loses the data of the last compaction, and the database loads',
    promise: '"compaction forces the OS to physically flush data to disk [...] That guarantees that a server crash can never cause complete data loss" (lib/persistence.js)',
    setup,
    run,
    async check({ load, reached }) {
      const db = await open(load);
      const count = await db.countAsync({});
      const first = await db.countAsync({ text: 'first batch' });
      if (first !== 20) throw new Error(`${first} of the 20 documents compacted before the run survived`);
      if (reached('compacted') && count !== 40) throw new Error(`the second compaction had returned, and ${count} of 40 documents survived`);
    },
  },
  {
    name: 'nedb: inserts survive once insertAsync resolved (appends are not flushed)',
    promise: 'durability of an insert when its promise resolves (documented as not guaranteed: "appends to the data file do not" force a flush)',
    promised: false,
    setup,
    async run({ load, mark }) {
      const db = await open(load);
      await db.insertAsync({ _id: 'z', n: 99, text: 'late' });
      mark('inserted');
    },
    async check({ load, reached }) {
      if (!reached('inserted')) return;
      const db = await open(load);
      if ((await db.countAsync({ _id: 'z' })) !== 1) throw new Error('insertAsync had resolved, and the document is gone');
    },
    crash: { commitAfter: false },
  },
  {
    name: 'nedb: a crash loses only the inserts after the last sync, never one in the middle',
    promise: '"The worst that can happen is a crash between two syncs, causing a loss of all data between the two syncs." (lib/persistence.js): what survives of a run of inserts is a prefix of it',
    setup,
    async run({ load, mark }) {
      const db = await open(load);
      for (let i = 0; i < 12; i++) {
        await db.insertAsync({ _id: `c${String(i).padStart(3, '0')}`, n: i, text: 'in order' });
        mark(`inserted ${i}`);
      }
    },
    async check({ load }) {
      const db = await open(load);
      const kept = (await db.findAsync({ text: 'in order' })).map((d) => d.n).sort((a, b) => a - b);
      const prefix = kept.every((n, i) => n === i);
      if (!prefix) throw new Error(`the inserts that survived are [${kept.join(',')}]: not a prefix of the 12 inserted in order`);
      if ((await db.countAsync({ text: 'first batch' })) !== 20) throw new Error('documents compacted before the run were lost');
    },
  },
];
