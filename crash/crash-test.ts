/**
 * crashTest: crash-test a user's own file-writing code. The user's function runs once against
 * our file system on a recording pmem device; at every crash point the engine would choose
 * (points.ts, the same rule and the same seeded states), the crash states are materialised
 * and kept; afterwards each is recovered (journal replay), mounted, checked by our fsck, and
 * handed to the user's invariants. An invariant that throws or returns false is a finding.
 *
 * Why two phases: a crash image is a view over the running device and is valid only until its
 * next instruction, and the invariants may be async (callback and promise forms complete in
 * microtasks, which cannot run inside an instruction). So each image is frozen when taken:
 * its pages are kept by content digest in one pool, so thousands of images that differ in a
 * few pages cost those pages, not a device each. Identical images are recovered once per
 * distinct position (calls returned, call in flight, marks reached): invariants must be a
 * function of the recovered files and of that position, not of the crash point's number.
 *
 * The position: every call the user's code makes on the fs object is recorded (and marked in
 * the device trace), and `mark(label)` lets the code say what it has done ("old content
 * durable"). The context of a check says which calls had returned and which was in flight.
 * Crash points: the engine's (barriers, cleans, stores by choice), plus the return of every
 * fsync, fdatasync and sync, plus the end. After the function returns, the file system makes
 * the periodic commit ext4 would make within 5 s (`commitAfter`, on by default: what the
 * code left unsynced reaches the media without its help, as it does on Linux), and the power
 * fails during or after it; there is no unmount. Crash points during the mount count as
 * before any call.
 *
 * Determinism: results depend only on the function (which must itself be deterministic: no
 * wall clock, no entropy in what it writes), the options and the seed. `only` re-checks one
 * finding's crash point and state.
 *
 * Not checked: the user's code on another file system than ours; permissions; times;
 * crashes during recovery (G9, the engine's). The fs object is nodeFsModule's (fs/node-api.ts):
 * streams, FileHandle, copyFile, mkdtemp, rm and access go through the recorded calls; what
 * it does not offer fails in the user's code: watchers throw a clear error, calls it lacks
 * (cp, statfs, the l* and f* metadata calls, readv, writev) are absent, so calling one is a
 * TypeError.
 */
import { StreamTree } from '../core/streams';
import type { PmemDevice } from '../device/device';
import type { CrashState } from '../device/crash';
import type { OverlayImage } from '../device/image';
import type { MediaSource } from '../device/media';
import type { PmemApiName } from '../device/pmem-api';
import type { ProfileName } from '../device/profiles';
import { DaxFileSystem, FS_CONSTANTS } from '../fs/filesystem';
import { fsck } from '../fs/fsck';
import type { FlushPolicy } from '../fs/mount';
import { ASYNC_FORMS, AsyncFormName, NodeFsCore, NodeFsModule, nodeFsModule } from '../fs/node-api';
import { CrashPointChoice, StateChoice, statesAt } from './points';
import { Recording } from './record';
import { MountSetup, baseImage, boot, resolveSetup, setupLabel } from './setup';
import { DEFAULT_DEVICE_BYTES, PAGE_BYTES } from '../core/limits';
import type { FeatureProfile } from '../fs/mkfs';

/** The file system's sync methods the fs object offers (each recorded), with Node's names and signatures. */
export type CrashTestSyncName = `${AsyncFormName}Sync` | 'existsSync' | 'syncSync' | 'copyFileSync' | 'mkdtempSync' | 'rmSync' | 'accessSync';

/**
 * What the user's code and invariants receive: nodeFsModule over the recorded sync methods
 * (Node's sync, callback and promise forms, FileHandle, streams, constants), typed sync calls.
 */
export type CrashTestFs = NodeFsModule & Pick<DaxFileSystem, CrashTestSyncName> & {
  readonly constants: typeof FS_CONSTANTS;
};

/** The second argument of the function under test. */
export interface CrashTestTools {
  /** Record that the code reached a named step; invariants see the marks reached. */
  mark(label: string): void;
}

/** Where the power failed, as an invariant sees it. */
export interface CrashContext {
  /** Ordinal of the crash point in the run, from 0. */
  readonly point: number;
  /** Instructions the device had run when the power failed. */
  readonly instruction: number;
  /** What the last instruction was ('dsb sy', 'dc cvap', ...), or 'returned fsyncSync', 'end'. */
  readonly event: string;
  /** The fs calls that had returned (or thrown), in order, as `name(args)`. */
  readonly calls: readonly string[];
  /** The call in progress, if the power failed inside one. */
  readonly inFlight: string | undefined;
  /** The marks the code had reached. */
  readonly marks: readonly string[];
  readonly state: CrashState;
  /** One line naming the setup, the point and the state (what a token would carry). */
  readonly description: string;
  /** The crash image's content digest (before recovery): equal digests, equal images. */
  readonly imageDigest: string;
}

export type CrashInvariant = (fs: CrashTestFs, ctx: CrashContext) => boolean | void | Promise<boolean | void>;

export interface CrashTestOptions {
  /** The invariants held after every recovery. */
  readonly check: CrashInvariant | readonly CrashInvariant[];
  /** Runs before recording (no crash there), then the file system is unmounted cleanly. */
  readonly setup?: (fs: CrashTestFs) => void | Promise<void>;
  /** Default 'armv8.2'. */
  readonly profile?: ProfileName;
  /** Default: the profile's Linux flavour (linux-arm64 or linux-x86). */
  readonly pmemApi?: PmemApiName;
  /** Default 'ordered'. */
  readonly policy?: FlushPolicy;
  readonly flushHint?: boolean;
  /** Default 1 GiB (DEFAULT_DEVICE_BYTES, pmem0). */
  readonly deviceBytes?: number;
  /** The file system mkfs makes on the device: 'minimal' (the ext4 subset, the default) or 'default' (mkfs.ext4's default features). */
  readonly features?: FeatureProfile;
  /** Default '0'. */
  readonly seed?: string;
  /** Default 'flushes'. */
  readonly points?: CrashPointChoice;
  /** States per crash point; default the k = 2 bound, at most 16 a point. */
  readonly states?: StateChoice;
  /** At most this many crash states are checked (default 20000); the rest are counted as skipped. */
  readonly limit?: number;
  /** Run our fsck on every recovered image (default true); a problem is a finding. */
  readonly fsck?: boolean;
  /** Findings kept (all are counted); default 20. */
  readonly keepFindings?: number;
  /**
   * After the function returns, the file system makes its periodic commit (ext4 commits every
   * 5 s) and the power fails after that, or during it (default true). False: the power fails
   * at the latest right after the function returns.
   */
  readonly commitAfter?: boolean;
  /** Check only this crash point (and state): a finding's `replay`. */
  readonly only?: CrashReplay;
}

export interface CrashReplay {
  /** The crash point's ordinal in the run. */
  readonly point: number;
  readonly state?: CrashState;
}

export type CrashFindingKind = 'mount' | 'fsck' | 'invariant';

export interface CrashTestFinding {
  readonly kind: CrashFindingKind;
  readonly message: string;
  readonly point: number;
  readonly instruction: number;
  readonly event: string;
  readonly state: CrashState;
  /** Calls that had returned, and the one in flight. */
  readonly callsDone: number;
  readonly inFlight: string | undefined;
  readonly marks: readonly string[];
  readonly description: string;
  /** Pass as `options.only` to check this crash state alone. */
  readonly replay: CrashReplay;
  /** The crash image (before recovery), e.g. for `writeSparseFile`. */
  readonly image: MediaSource;
}

export interface CrashTestResult {
  readonly seed: string;
  readonly profile: ProfileName;
  readonly pmemApi: PmemApiName;
  readonly policy: FlushPolicy;
  readonly crashPoints: number;
  readonly statesChecked: number;
  /** States not checked because of `limit`. */
  readonly statesSkipped: number;
  readonly uniqueImages: number;
  /** Recoveries run (one per distinct image and position). */
  readonly recoveries: number;
  /** Every call the function made, in order. */
  readonly calls: readonly string[];
  readonly findingCount: number;
  readonly findingCounts: Readonly<Partial<Record<CrashFindingKind, number>>>;
  readonly findings: readonly CrashTestFinding[];
}

const PERSISTENCE_CALLS = new Set(['fsyncSync', 'fdatasyncSync', 'syncSync']);
const SYNC_NAMES: readonly CrashTestSyncName[] = [
  ...ASYNC_FORMS.map((n) => `${n}Sync` as const), 'existsSync', 'syncSync', 'copyFileSync', 'mkdtempSync', 'rmSync', 'accessSync',
];
const ARG_CHARS = 48;
/** The in-flight "call" of crash points in the commit after the function returned. */
export const PERIODIC_COMMIT = '(the periodic commit after the function returned)';
const DEFAULT_LIMIT = 20000;

/** One crash state taken during the recording, judged afterwards. */
interface Taken {
  readonly point: number;
  readonly instruction: number;
  readonly event: string;
  readonly state: CrashState;
  readonly digest: string;
  readonly callsDone: number;
  readonly inFlight: string | undefined;
  readonly marksDone: number;
}

/** Run `fn` on our file system, crash it at every chosen point, and hold the invariants after recovery. */
export async function crashTest(
  fn: (fs: CrashTestFs, tools: CrashTestTools) => unknown,
  options: CrashTestOptions,
): Promise<CrashTestResult> {
  const seed = options.seed ?? '0';
  const streams = StreamTree.of(seed);
  const points = options.points ?? 'flushes';
  const states = options.states ?? { kind: 'bounded', k: 2, limit: 16 };
  const limit = options.limit ?? DEFAULT_LIMIT;
  const setup = resolveSetup({ profile: options.profile, pmemApi: options.pmemApi, policy: options.policy, flushHint: options.flushHint });
  const invariants = typeof options.check === 'function' ? [options.check] : [...options.check];

  const start = await startImage(options, setup, streams, options.deviceBytes ?? DEFAULT_DEVICE_BYTES);
  const pool = new Map<string, Uint8Array>();
  const images = new Map<string, MediaSource>();
  const taken: Taken[] = [];
  const calls: string[] = [];
  const marks: string[] = [];
  let inFlight: string | undefined;
  let crashPoints = 0;
  let skipped = 0;
  const only = options.only;

  const takeStates = (device: PmemDevice, event: string) => {
    const point = crashPoints++;
    const here = device.instructionCount;
    if (only !== undefined && only.point !== point) return;
    const crash = device.crashPoint();
    // A replay checks exactly the state it names, whether or not `states` would enumerate it.
    for (const state of only?.state !== undefined ? [only.state] : statesAt(crash, states, streams).list) {
      if (taken.length >= limit) {
        skipped++;
        continue;
      }
      const image = crash.image(state);
      const digest = image.digest();
      if (!images.has(digest)) images.set(digest, freeze(image, pool));
      taken.push({ point, instruction: here, event, state, digest, callsDone: calls.length, inFlight, marksDone: marks.length });
    }
  };

  const recording = new Recording({ setup, media: start, streams, points, onCrashPoint: (device, _at, event) => takeStates(device, event) });
  const device = recording.device;
  const fs = recording.mount();
  const recorded = fsObject(fs, {
    before: (name, args) => {
      inFlight = callText(name, args);
      recording.begin({ call: inFlight });
    },
    after: (name, ok) => {
      calls.push(inFlight as string);
      inFlight = undefined;
      recording.finish({ ok }, ok && PERSISTENCE_CALLS.has(name), name);
    },
  });
  await fn(recorded, {
    mark: (label: string) => {
      marks.push(label);
      device.mark('user', { label });
    },
  });
  if (options.commitAfter ?? true) {
    inFlight = PERIODIC_COMMIT;
    fs.syncSync();
    inFlight = undefined;
  }
  recording.end();

  const judged = await judgeTaken(taken, { options, setup, streams, invariants, images, calls, marks, label: `crashTest seed=${seed} ${setupLabel(setup)} points=${points}` });
  return {
    seed, profile: setup.profile, pmemApi: setup.pmemApi, policy: setup.policy, crashPoints, statesChecked: taken.length, statesSkipped: skipped,
    uniqueImages: images.size, recoveries: judged.recoveries, calls,
    findingCount: Object.values(judged.counts).reduce((a, b) => a + (b ?? 0), 0), findingCounts: judged.counts, findings: judged.findings,
  };
}

interface TakenContext {
  readonly options: CrashTestOptions;
  readonly setup: MountSetup;
  readonly streams: StreamTree;
  readonly invariants: readonly CrashInvariant[];
  readonly images: ReadonlyMap<string, MediaSource>;
  readonly calls: readonly string[];
  readonly marks: readonly string[];
  /** `crashTest seed=... setup points=...`: how each description starts. */
  readonly label: string;
}

/** Judge every state taken: one recovery per distinct image and position, findings counted per state. */
async function judgeTaken(taken: readonly Taken[], c: TakenContext): Promise<{ findings: CrashTestFinding[]; counts: Partial<Record<CrashFindingKind, number>>; recoveries: number }> {
  const findings: CrashTestFinding[] = [];
  const counts: Partial<Record<CrashFindingKind, number>> = {};
  const keep = c.options.keepFindings ?? 20;
  const verdicts = new Map<string, Array<{ kind: CrashFindingKind; message: string }>>();
  const fsckDone = new Set<string>();
  for (const t of taken) {
    const key = `${t.digest}|${t.callsDone}|${t.inFlight ?? ''}|${t.marksDone}`;
    const description = `${c.label}: point ${t.point}, before instruction ${t.instruction} (after ${t.event}), `
      + `state ${stateText(t.state)}; ${t.callsDone} call(s) returned${t.inFlight ? `, in ${t.inFlight}` : ''}`;
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      const ctx: CrashContext = {
        point: t.point, instruction: t.instruction, event: t.event, calls: c.calls.slice(0, t.callsDone), inFlight: t.inFlight,
        marks: c.marks.slice(0, t.marksDone), state: t.state, description, imageDigest: t.digest,
      };
      const runFsck = (c.options.fsck ?? true) && !fsckDone.has(t.digest);
      fsckDone.add(t.digest);
      verdict = await judgeImage(c.images.get(t.digest) as MediaSource, { setup: c.setup, streams: c.streams, invariants: c.invariants, ctx, runFsck });
      verdicts.set(key, verdict);
    }
    for (const v of verdict) {
      counts[v.kind] = (counts[v.kind] ?? 0) + 1;
      if (findings.length < keep) {
        findings.push({
          kind: v.kind, message: v.message, point: t.point, instruction: t.instruction, event: t.event, state: t.state,
          callsDone: t.callsDone, inFlight: t.inFlight, marks: c.marks.slice(0, t.marksDone), description,
          replay: { point: t.point, state: t.state }, image: c.images.get(t.digest) as MediaSource,
        });
      }
    }
  }
  return { findings, counts, recoveries: verdicts.size };
}

/** The image the recording starts from: the empty base, or the base after `setup` and a clean unmount. */
async function startImage(options: CrashTestOptions, setup: MountSetup, streams: StreamTree, deviceBytes: number): Promise<MediaSource> {
  const base = baseImage(deviceBytes, options.features);
  if (options.setup === undefined) return base;
  const { device, fs } = boot(setup, base, { streams, trace: false });
  await options.setup(fsObject(fs));
  fs.unmount();
  return freeze(device.guaranteedMedia(), new Map());
}

interface JudgeInputs {
  readonly setup: MountSetup;
  readonly streams: StreamTree;
  readonly invariants: readonly CrashInvariant[];
  readonly ctx: CrashContext;
  readonly runFsck: boolean;
}

/** Recover one image, fsck it when asked, and hold every invariant. */
async function judgeImage(image: MediaSource, inputs: JudgeInputs): Promise<Array<{ kind: CrashFindingKind; message: string }>> {
  let booted: ReturnType<typeof boot>;
  try {
    booted = boot(inputs.setup, image, { streams: inputs.streams, trace: false });
  } catch (err) {
    return [{ kind: 'mount', message: `mount failed: ${(err as Error).message}` }];
  }
  const { device, fs } = booted;
  const out: Array<{ kind: CrashFindingKind; message: string }> = [];
  if (inputs.runFsck) {
    const problems = fsck(device, { afterRecovery: true });
    if (problems.length > 0) {
      out.push({ kind: 'fsck', message: `fsck after recovery: ${problems.length} problem(s); first: ${problems[0].kind} ${problems[0].where}: ${problems[0].what}` });
    }
  }
  const view = fsObject(fs);
  for (const [i, invariant] of inputs.invariants.entries()) {
    const name = invariant.name || `invariant ${i + 1}`;
    try {
      if ((await invariant(view, inputs.ctx)) === false) out.push({ kind: 'invariant', message: `${name} returned false` });
    } catch (err) {
      out.push({ kind: 'invariant', message: `${name}: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  return out;
}

interface CallHooks {
  before(name: CrashTestSyncName, args: readonly unknown[]): void;
  after(name: CrashTestSyncName, ok: boolean): void;
}

/** The Node-like fs object over a mounted file system; `hooks` see every call. */
export function fsObject(fs: DaxFileSystem, hooks?: CallHooks): CrashTestFs {
  const sync: Record<string, (...args: unknown[]) => unknown> = {};
  for (const name of SYNC_NAMES) {
    const method = (fs as unknown as Record<string, (...args: unknown[]) => unknown>)[name].bind(fs);
    sync[name] = hooks === undefined ? method : (...args: unknown[]) => {
      hooks.before(name, args);
      let ok = false;
      try {
        const result = method(...args);
        ok = true;
        return result;
      } finally {
        hooks.after(name, ok);
      }
    };
  }
  return nodeFsModule(sync as unknown as NodeFsCore, { description: 'crashTest\'s file system' }) as CrashTestFs;
}

/** A media whose pages were copied out of a crash image, shared by digest with other frozen images. */
class FrozenImage implements MediaSource {
  private readonly order: number[];
  constructor(readonly sizeBytes: number, private readonly pages: ReadonlyMap<number, Uint8Array>) {
    this.order = [...pages.keys()].sort((a, b) => a - b);
  }

  readPage(pageIndex: number): Uint8Array | undefined {
    return this.pages.get(pageIndex);
  }

  pageIndices(): number[] {
    return this.order.slice();
  }
}

/** Copy an image out of its device: each page once per distinct content across `pool`. */
function freeze(image: OverlayImage, pool: Map<string, Uint8Array>): MediaSource {
  const pages = new Map<number, Uint8Array>();
  for (const pageIndex of image.pageIndices()) {
    const digest = image.pageDigest(pageIndex);
    if (digest === undefined) continue; // all zeros
    let page = pool.get(digest);
    if (page === undefined) {
      page = (image.readPage(pageIndex) as Uint8Array).slice(0, PAGE_BYTES);
      pool.set(digest, page);
    }
    pages.set(pageIndex, page);
  }
  return new FrozenImage(image.sizeBytes, pages);
}

function callText(name: string, args: readonly unknown[]): string {
  return `${name}(${args.filter((a) => typeof a !== 'function').map(argText).join(', ')})`;
}

function argText(arg: unknown): string {
  if (arg instanceof Uint8Array) return `<${arg.length} bytes>`;
  const text = typeof arg === 'string' ? JSON.stringify(arg) : String(JSON.stringify(arg) ?? arg);
  return text.length > ARG_CHARS ? `${text.slice(0, ARG_CHARS - 3)}...` : text;
}

/** A crash state in one line, as descriptions and reports print it. */
export function stateText(state: CrashState): string {
  switch (state.kind) {
    case 'sampled': return `sampled ${state.seed}`;
    case 'newest': return 'newest';
    case 'bounded': return `bounded epochs ${state.epochs} subset [${state.subset.join(',')}] units [${state.units.join(',')}]`;
    case 'cut': return `cut epochs ${state.epochs} subset [${state.subset.join(',')}] cut ${state.cut}`;
    case 'explicit': return `explicit ${JSON.stringify(state.choices)}`;
  }
}
