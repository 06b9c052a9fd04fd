// node-persist 4.0.4 (localStorage-like key/value store, one file per key; CommonJS).
// README (init options): "instead of writing to file immediately, each "file" will have its
// own mini queue to avoid corrupted files" (writeQueue, default true): a promise about
// concurrent writes, not crashes, so both scenarios are observations. setItem writes the
// key's file with fs.writeFile: no temporary file, no fsync.
'use strict';

const DIR = '/data/persist';
const OLD = { version: 1, items: Array.from({ length: 40 }, (_, i) => `old-${i}`) };
const NEW = { version: 2, items: Array.from({ length: 40 }, (_, i) => `new-${i}`) };

async function storage(load) {
  const persist = await load('node-persist');
  const store = persist.create({ dir: DIR });
  await store.init();
  return store;
}

async function setup({ fs, load }) {
  const store = await storage(load);
  await store.setItem('profile', OLD);
  fs.syncSync();
}

async function run({ load, mark }) {
  const store = await storage(load);
  await store.setItem('profile', NEW);
  mark('resolved');
}

module.exports = [
  {
    name: 'node-persist: getItem returns the old value or the new, never a corrupted one',
    promise: 'not a crash promise: "each \\"file\\" will have its own mini queue to avoid corrupted files" (README, writeQueue) is about concurrent writes in one process',
    promised: false,
    setup,
    run,
    async check({ load }) {
      const store = await storage(load);
      const value = await store.getItem('profile');
      if (value === undefined) throw new Error('the key is gone');
      const expected = value.version === 1 ? OLD : NEW;
      if (JSON.stringify(value) !== JSON.stringify(expected)) throw new Error(`getItem returned neither the old value nor the new: ${JSON.stringify(value).slice(0, 60)}`);
    },
  },
  {
    name: 'node-persist: the new value survives once setItem resolved',
    promise: 'durability after setItem resolves (not stated: it never fsyncs)',
    promised: false,
    setup,
    run,
    async check({ load, reached }) {
      if (!reached('resolved')) return;
      const store = await storage(load);
      const value = await store.getItem('profile');
      if (value === undefined || value.version !== 2) throw new Error(`setItem had resolved, and ${value === undefined ? 'the key is gone' : `version ${value.version} came back`}`);
    },
    crash: { commitAfter: false },
  },
];
