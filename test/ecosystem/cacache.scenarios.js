// cacache 20.0.4 (npm's content-addressable cache; CommonJS). README: "it will never give you
// corrupted data, even if cache files get corrupted or manipulated"; Features: "Fault
// tolerance (immune to corruption, partial writes, process races, etc)" and "Consistency
// guarantees on read and write (full data verification)". Content is written to a temporary
// file and moved into place; the index is an append-only file of hashed lines. No fsync.
'use strict';

const CACHE = '/home/user/.cache/app';
const OLD = Buffer.from('old tarball '.repeat(200));
const NEW = Buffer.from('new tarball '.repeat(200));

async function setup({ fs, load }) {
  const cacache = await load('cacache');
  await cacache.put(CACHE, 'pkg@1', OLD);
  fs.syncSync();
}

async function run({ load, mark }) {
  const cacache = await load('cacache');
  await cacache.put(CACHE, 'pkg@1', NEW);
  mark('resolved');
}

/** get: the old data, the new data, or an error (a missing entry); never other bytes. */
async function got(load) {
  const cacache = await load('cacache');
  try {
    return (await cacache.get(CACHE, 'pkg@1')).data;
  } catch (err) {
    return err;
  }
}

module.exports = [
  {
    name: 'cacache: get returns the data put (old or new) or an error, never corrupted data',
    promise: '"it will never give you corrupted data, even if cache files get corrupted or manipulated" (README)',
    setup,
    run,
    async check({ load }) {
      const data = await got(load);
      if (data instanceof Error) return;
      if (!data.equals(OLD) && !data.equals(NEW)) throw new Error(`get returned ${data.length} bytes that are neither the old data nor the new`);
    },
  },
  {
    name: 'cacache: an entry put before the crash is still there (old or new)',
    promise: 'that an entry survives a crash (not stated: a cache may lose entries)',
    promised: false,
    setup,
    run,
    async check({ load }) {
      const data = await got(load);
      if (data instanceof Error) throw new Error(`the entry is gone: ${data.code ?? data.message}`);
    },
  },
  {
    name: 'cacache: the new data survives once put resolved',
    promise: 'durability after put resolves (not stated: it never fsyncs)',
    promised: false,
    setup,
    run,
    async check({ load, reached }) {
      if (!reached('resolved')) return;
      const data = await got(load);
      if (data instanceof Error || !data.equals(NEW)) throw new Error(`put had resolved, and get ${data instanceof Error ? `failed (${data.code ?? data.message})` : 'returned the old data'}`);
    },
    crash: { commitAfter: false },
  },
];
