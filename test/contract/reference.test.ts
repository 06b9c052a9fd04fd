// The reference against Linux: every contract scenario runs on the real file system (through
// nodeFsAdapter in a fresh sandbox under the OS temporary directory) and on createReference();
// the step outcomes must be identical. Linux is the truth.
//
// Where the host file system does not count subdirectories in a directory's link count
// (overlayfs, btrfs), directory link counts are not compared, and the test named
// "directory link counts" says so in its name and in a warning.

import type { SyncFs } from '../../core';
import { createReference, nodeFsAdapter } from '../../workloads';
import { probeDirectoryLinks, makeSandboxes } from './host';
import { CONTRACT_SCENARIOS, runContract, runScenario } from './run';
import { FICLONE_FORCE_SCENARIO } from './scenarios';

const sandboxes = makeSandboxes('daxcrash-contract-');
afterAll(() => sandboxes.removeAll());

const dirLinks = probeDirectoryLinks(sandboxes.base);
if (!dirLinks.counted) {
  console.warn(`contract: directory link counts are NOT compared: ${dirLinks.detail}`);
}

describe('host', () => {
  const verdict = dirLinks.counted ? 'compared' : 'NOT compared (host does not count subdirectories)';
  test(`directory link counts: ${verdict}; ${dirLinks.detail}`, () => {
    expect(typeof dirLinks.counted).toBe('boolean');
  });
});

// Where the host's file system has reflinks (btrfs, xfs), Linux copies with FICLONE_FORCE.
const hostClone = probeFicloneForce(sandboxes.make());
if (hostClone !== 'ENOTSUP') console.warn(`contract: "${FICLONE_FORCE_SCENARIO}" is NOT compared: the host answers ${hostClone}`);

describe('reference equals Linux', () => {
  runContract(createReference, {
    expected: () => nodeFsAdapter(sandboxes.make()),
    compareDirNlink: dirLinks.counted,
    scenarios: CONTRACT_SCENARIOS.filter((s) => hostClone === 'ENOTSUP' || s.name !== FICLONE_FORCE_SCENARIO),
  });
});

function probeFicloneForce(root: string): string {
  const host = nodeFsAdapter(root);
  host.writeFileSync('/src', 'x');
  try {
    host.copyFileSync('/src', '/dst', 4);
    return 'a clone';
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
}

describe('the contract itself', () => {
  test('has broad coverage and unique names', () => {
    const names = CONTRACT_SCENARIOS.map((scenario) => scenario.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(60);
  });

  test('the reference is deterministic: two runs give the same outcomes', () => {
    for (const scenario of CONTRACT_SCENARIOS) {
      const first = runScenario(createReference(), scenario);
      const second = runScenario(createReference(), scenario);
      expect(second).toEqual(first);
    }
  });
});

describe('errors look like Node\'s', () => {
  // Each call fails; Linux's error and the reference's must agree on every own field Node
  // sets, and on the message.
  const failing: readonly [string, (fs: SyncFs) => unknown][] = [
    ['open of a missing file', (fs) => fs.openSync('/missing', 'r')],
    ['rename into a missing directory', (fs) => fs.renameSync('/f', '/missing/g')],
    ['unlink of a directory', (fs) => fs.unlinkSync('/d')],
    ['rmdir of the root', (fs) => fs.rmdirSync('/')],
    ['symlink onto an existing name', (fs) => fs.symlinkSync('target', '/f')],
    ['link of a directory', (fs) => fs.linkSync('/d', '/e')],
    ['write through a read-only descriptor', (fs) => fs.writeSync(fs.openSync('/f', 'r'), new Uint8Array(1))],
    ['readdir of a file', (fs) => fs.readdirSync('/f')],
    ['readFile of a directory', (fs) => fs.readFileSync('/d')],
    ['realpath through a file', (fs) => fs.realpathSync('/f/x')],
    ['a name past 255 bytes', (fs) => fs.mkdirSync(`/${'n'.repeat(256)}`)],
    ['rm of a directory without recursive (ERR_FS_EISDIR)', (fs) => fs.rmSync('/d')],
    ['rm of a missing name', (fs) => fs.rmSync('/missing')],
    ['copyFile onto a directory', (fs) => fs.copyFileSync('/f', '/d')],
    ['copyFile with COPYFILE_EXCL onto a file', (fs) => fs.copyFileSync('/f', '/f', 1)],
    ['mkdtemp under a file', (fs) => fs.mkdtempSync('/f/tmp-')],
    ['access X_OK of a file without execute bits', (fs) => fs.accessSync('/f', 1)],
    ['access with a mode past 7', (fs) => fs.accessSync('/f', 8)],
  ];

  function errorOf(fs: SyncFs, call: (fs: SyncFs) => unknown): Record<string, unknown> {
    fs.mkdirSync('/d');
    fs.writeFileSync('/f', 'x');
    try {
      call(fs);
    } catch (error) {
      const fields = error as Record<string, unknown> & { message: string };
      const own = Object.fromEntries(Object.keys(fields).map((key) => [key, fields[key]]));
      // A SystemError keeps a path set after its making as a Buffer in `info`, and the
      // adapter sets it when it maps the sandbox path back: compared as text.
      const info = own.info as Record<string, unknown> | undefined;
      if (info !== undefined) own.info = { ...info, path: String(info.path) };
      return { ...own, message: fields.message };
    }
    throw new Error('expected the call to fail');
  }

  test.each(failing)('%s', (_name, call) => {
    expect(errorOf(createReference(), call)).toEqual(errorOf(nodeFsAdapter(sandboxes.make()), call));
  });
});
