// conf 15.1.0 (ES module; app configuration, writes through atomically's writeFileSync).
// README: "Changes are written to disk atomically, so if the process crashes during a write,
// it will not corrupt the existing config."
const CWD = '/home/user/.config/app';

async function open(load) {
  const { default: Conf } = await load('conf');
  return new Conf({ cwd: CWD, projectName: 'app', configName: 'config' });
}

async function setup({ load }) {
  const config = await open(load);
  config.set('theme', 'light');
  config.set('recent', Array.from({ length: 30 }, (_, i) => `old-${i}`));
}

async function run({ load, mark }) {
  const config = await open(load);
  config.set('recent', Array.from({ length: 30 }, (_, i) => `new-${i}`));
  mark('set');
}

export default [
  {
    name: 'conf set: a crash during the write does not corrupt the existing config',
    promise: '"Changes are written to disk atomically, so if the process crashes during a write, it will not corrupt the existing config." (README)',
    setup,
    run,
    async check({ load }) {
      const config = await open(load);
      if (config.get('theme') !== 'light') throw new Error(`the config lost a key the write did not touch: theme is ${JSON.stringify(config.get('theme'))}`);
      const recent = config.get('recent');
      if (!Array.isArray(recent) || recent.length !== 30) throw new Error(`recent is ${JSON.stringify(recent)?.slice(0, 60)}`);
    },
  },
  {
    name: 'conf set: the change survives once set returned',
    promise: 'durability after set returns (not stated)',
    promised: false,
    setup,
    run,
    async check({ load, reached }) {
      if (!reached('set')) return;
      const config = await open(load);
      if (config.get('recent')?.[0] !== 'new-0') throw new Error('set had returned, and the old value came back');
    },
    crash: { commitAfter: false },
  },
];
