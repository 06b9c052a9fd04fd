/**
 * The container image the scale-out example runs (Dockerfile, docs/examples/
 * k8s-indexed-job.yaml), held to the project without building it (no Docker engine runs on
 * the project's machines, so this test says so and lints instead): the base is Node 20 on
 * Debian, e2fsprogs is installed, dependencies come from `npm install` as the README's
 * set-up does, the user is not root, the manifest's image is the one the Dockerfile's build
 * line tags (the package's version), its working directory is the Dockerfile's, and every
 * `node bin/daxcrash.js` command in it uses a subcommand and flags the CLI defines.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/main';

const ROOT = path.join(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const VERSION = (JSON.parse(read('package.json')) as { version: string }).version;

/** The Dockerfile's instructions, continuation lines joined, comments left out. */
function instructions(text: string): Array<{ op: string; args: string }> {
  const out: Array<{ op: string; args: string }> = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const whole = `${pending}${line}`.trim();
    pending = '';
    const space = whole.indexOf(' ');
    out.push({ op: whole.slice(0, space).toUpperCase(), args: whole.slice(space + 1).trim() });
  }
  return out;
}

/** The `node bin/daxcrash.js ...` command lines of the manifest, $CAMPAIGN and $where
 * expanded (the shell variables holding flags; $where takes both of its values). */
function cliCalls(manifest: string): string[][] {
  const campaign = /name: CAMPAIGN\s*\n\s*value: "([^"]*)"/.exec(manifest)?.[1] ?? '';
  const where = [...manifest.matchAll(/where="([^"]*)"/g)].map((m) => m[1]).join(' ');
  const joined = manifest.replace(/\\\n\s*/g, ' ');
  const calls: string[][] = [];
  for (const match of joined.matchAll(/node bin\/daxcrash\.js ([^\n]*)/g)) {
    const line = match[1].replace(/\$CAMPAIGN/g, campaign).replace(/\$where/g, where);
    calls.push(line.split(/\s+/).filter((w) => w !== ''));
  }
  return calls;
}

/** Each call's subcommand when the CLI lacks it, and each flag its subcommand lacks. */
function unknownToCli(manifest: string): string[] {
  const program = buildProgram(() => undefined, () => undefined);
  const unknown: string[] = [];
  for (const [sub, ...words] of cliCalls(manifest)) {
    const cmd = program.commands.find((c) => c.name() === sub);
    if (cmd === undefined) {
      unknown.push(`subcommand ${sub}`);
      continue;
    }
    const known = optionNames(cmd);
    for (const w of words) if (w.startsWith('-') && !known.has(w.split('=')[0])) unknown.push(`${sub} ${w}`);
  }
  return unknown;
}

function optionNames(cmd: Command): Set<string> {
  const names = new Set<string>();
  for (const o of cmd.options) {
    if (o.long) names.add(o.long);
    if (o.short) names.add(o.short);
  }
  return names;
}

describe('the container image of the scale-out example', () => {
  const docker = instructions(read('Dockerfile'));
  const manifest = read('docs/examples/k8s-indexed-job.yaml');

  it('is Node 20 on Debian with e2fsprogs, npm install and a user that is not root', () => {
    const from = docker.filter((i) => i.op === 'FROM');
    expect(from).toHaveLength(1);
    expect(from[0].args).toMatch(/^node:20-(bookworm|bullseye)(-slim)?$/);
    const runs = docker.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /apt-get install\b.*\be2fsprogs\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm install\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(false);
    const users = docker.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0']).not.toContain(users[users.length - 1].args.split(':')[0]);
    // the lock file goes in before `npm install`, so the pinned versions are the ones installed
    const copyLock = docker.findIndex((i) => i.op === 'COPY' && i.args.includes('package-lock.json'));
    const install = docker.findIndex((i) => i.op === 'RUN' && /\bnpm install\b/.test(i.args));
    expect(copyLock).toBeGreaterThanOrEqual(0);
    expect(copyLock).toBeLessThan(install);
    expect(read('.dockerignore').split('\n')).toContain('node_modules');
  });

  it('is the image, working directory and commands the Kubernetes example uses', () => {
    const tag = `daxcrash:${VERSION}`;
    expect(read('Dockerfile')).toContain(`docker build -t ${tag} .`);
    const images = [...manifest.matchAll(/^\s*image:\s*(\S+)/gm)].map((m) => m[1]);
    expect(images.length).toBeGreaterThan(0);
    expect(new Set(images)).toEqual(new Set([tag]));
    const workdir = docker.filter((i) => i.op === 'WORKDIR').map((i) => i.args).pop();
    const workingDirs = [...manifest.matchAll(/^\s*workingDir:\s*(\S+)/gm)].map((m) => m[1]);
    expect(workingDirs.length).toBe(images.length);
    expect(new Set(workingDirs)).toEqual(new Set([workdir]));

    const calls = cliCalls(manifest);
    expect(calls.map((c) => c[0])).toEqual(['run', 'merge']);
    const flags = calls.flatMap((c) => c.filter((w) => w.startsWith('-')));
    expect(flags).toEqual(expect.arrayContaining(['--seed', '--suite', '--shard', '--resume', '--out', '--json', '--no-progress', '--junit']));
    expect(unknownToCli(manifest)).toEqual([]);
  });

  it('catches a manifest flag or subcommand the CLI does not have (the check can fail)', () => {
    expect(unknownToCli(manifest.replace('--shard ', '--shards '))).toEqual(['run --shards']);
    expect(unknownToCli(manifest.replace('--resume $dir', '--continue $dir'))).toEqual(['run --continue']);
    expect(unknownToCli(manifest.replace('daxcrash.js merge', 'daxcrash.js join'))).toEqual(['subcommand join']);
  });

  it('says that it is not built here', () => {
    // eslint-disable-next-line no-console
    console.log('Dockerfile linted, not built: no Docker engine runs on these machines (docker build -t daxcrash:VERSION . elsewhere)');
  });
});
