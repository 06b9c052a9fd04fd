/**
 * A setup (profile, pmem API flavour, flush policy, flush hint) and the one way to boot it:
 * `boot(setup, media, options)` makes the device and mounts our file system on it. The
 * engine, repro, crashTest, the checks and the CLI all boot through here, so a token
 * rebuilds exactly the device and mount the engine judged.
 *
 * Also here, once: a setup's label (`armv8.2/linux-arm64/ordered+hint`) and its parsing,
 * the code tables a token writes a setup with, the policy list, and the base image every
 * unit starts from.
 *
 * Invariants: `parseSetupLabel(setupLabel(s))` deep-equals `s`; the code tables are
 * append-only (a token written with them must read back the same setup forever); a device
 * booted for a setup has the setup's profile and, when given, the unit's stream tree, so its
 * own draws (DC IVAC) come from the unit seed.
 */
import { UsageError } from '../core/errors';
import { StreamTree } from '../core/streams';
import { PmemDevice } from '../device/device';
import type { MediaSource } from '../device/media';
import type { ReadTrace } from '../device/read-trace';
import type { EventKind } from '../device/trace';
import { PMEM_API_NAMES, PmemApiName, isPmemApiName } from '../device/pmem-api';
import { PROFILE_NAMES, ProfileName, isProfileName } from '../device/profiles';
import type { DaxFileSystem } from '../fs/filesystem';
import { FeatureProfile, mkfs } from '../fs/mkfs';
import { FLUSH_POLICIES, FlushPolicy, MountReport, defaultPmemApi, mount, mountWithReport } from '../fs/mount';

export interface MountSetup {
  readonly profile: ProfileName;
  readonly pmemApi: PmemApiName;
  readonly policy: FlushPolicy;
  readonly flushHint: boolean;
}

/** The flush policies, in the order the CLI's `all` lists them. */
export const POLICY_NAMES: readonly FlushPolicy[] = FLUSH_POLICIES;
const HINT_SUFFIX = '+hint';

/** `ordered`, or `ordered+hint` when every barrier is a flush hint. */
export function policyLabel(s: Pick<MountSetup, 'policy' | 'flushHint'>): string {
  return `${s.policy}${s.flushHint ? HINT_SUFFIX : ''}`;
}

/** `profile/pmemApi/policy[+hint]`: a setup's name in unit ids, reports and tables. */
export function setupLabel(s: MountSetup): string {
  return `${s.profile}/${s.pmemApi}/${policyLabel(s)}`;
}

/** The setup a label names; a UsageError saying which part is wrong otherwise. */
export function parseSetupLabel(label: string): MountSetup {
  const parts = label.split('/');
  if (parts.length !== 3) throw new UsageError(`setup '${label}' is not of the form profile/pmemApi/policy[${HINT_SUFFIX}]`);
  const [profile, pmemApi, policyPart] = parts;
  const flushHint = policyPart.endsWith(HINT_SUFFIX);
  const policy = flushHint ? policyPart.slice(0, -HINT_SUFFIX.length) : policyPart;
  if (!isProfileName(profile)) throw new UsageError(`setup '${label}': unknown profile '${profile}'`);
  if (!isPmemApiName(pmemApi)) throw new UsageError(`setup '${label}': unknown pmem API '${pmemApi}'`);
  if (!(POLICY_NAMES as readonly string[]).includes(policy)) throw new UsageError(`setup '${label}': unknown policy '${policy}'`);
  return { profile, pmemApi, policy: policy as FlushPolicy, flushHint };
}

/** A whole setup from the parts a caller gave: armv8.2, the profile's Linux flavour, ordered, no hint. */
export function resolveSetup(partial: Partial<MountSetup>): MountSetup {
  const profile = partial.profile ?? 'armv8.2';
  const pmemApi = partial.pmemApi ?? defaultPmemApi(profile);
  return { profile, pmemApi, policy: partial.policy ?? 'ordered', flushHint: partial.flushHint ?? false };
}

// ------------------------------------------------------------------------ token codes

// Append-only: a token's setup is these indices.
const PROFILE_CODES: readonly ProfileName[] = ['armv8.2', 'armv8.0-adr', 'armv8.0', 'armv8.5', 'x86-adr', 'x86-eadr'];
const PMEM_API_CODES: readonly PmemApiName[] = [
  'linux-arm64', 'linux-arm64-nosync', 'rfc-2016', 'rfc-2016-poc', 'pmdk-arm64-2020', 'pmdk-arm64-2021', 'linux-x86',
];
const POLICY_CODES: readonly FlushPolicy[] = ['ordered', 'unordered'];

/** The tables, for a test that every profile, flavour and policy has a code. */
export const SETUP_CODE_TABLES = { profiles: PROFILE_CODES, pmemApis: PMEM_API_CODES, policies: POLICY_CODES } as const;

/** The four numbers a token writes for a setup; undefined names the part that has no code. */
export function setupCodes(s: MountSetup): { readonly codes: readonly number[] } | { readonly missing: string } {
  const table: Array<[readonly string[], string, string]> = [[PROFILE_CODES, s.profile, 'profile'], [PMEM_API_CODES, s.pmemApi, 'pmem API'], [POLICY_CODES, s.policy, 'policy']];
  const codes: number[] = [];
  for (const [names, value, what] of table) {
    const code = names.indexOf(value);
    if (code < 0) return { missing: `${what} ${JSON.stringify(value)}` };
    codes.push(code);
  }
  if (typeof s.flushHint !== 'boolean') return { missing: 'flushHint (not a boolean)' };
  codes.push(s.flushHint ? 1 : 0);
  return { codes };
}

/** The setup of four token numbers, or a reason they name none. */
export function setupOfCodes(codes: readonly number[]): MountSetup | string {
  const [profile, pmemApi, policy, hint] = codes;
  if (profile >= PROFILE_CODES.length) return `unknown profile code ${profile}`;
  if (pmemApi >= PMEM_API_CODES.length) return `unknown pmem API code ${pmemApi}`;
  if (policy >= POLICY_CODES.length) return `unknown policy code ${policy}`;
  if (hint > 1) return `flush hint ${hint} is neither 0 nor 1`;
  return { profile: PROFILE_CODES[profile], pmemApi: PMEM_API_CODES[pmemApi], policy: POLICY_CODES[policy], flushHint: hint === 1 };
}

// ------------------------------------------------------------------------ booting

export interface BootOptions {
  /** The unit's stream tree: the device's own draws and the unordered policy's order (default seed '0'). */
  readonly streams?: StreamTree;
  /** Keep the event trace (default true: crash points are found in it). */
  readonly trace?: boolean;
  /** Throw PowerFailure when this many instructions have run. */
  readonly powerFailAt?: number;
  /** Called before each instruction (crash-point watchers). */
  readonly onInstruction?: (instruction: number, device: PmemDevice, next: EventKind, nextQueues: boolean) => void;
  /** Record which lines of `media` the run reads (the reduction's evidence). */
  readonly readTrace?: ReadTrace;
}

export interface Booted {
  readonly device: PmemDevice;
  readonly fs: DaxFileSystem;
  readonly report: MountReport;
}

/** The device a setup runs on, over `media`. */
export function setupDevice(setup: MountSetup, media: MediaSource, options: BootOptions = {}): PmemDevice {
  return new PmemDevice({
    media, profile: setup.profile, seed: (options.streams ?? DEFAULT_STREAMS).seed, trace: options.trace ?? true,
    ...(options.powerFailAt === undefined ? {} : { powerFailAt: options.powerFailAt }),
    ...(options.onInstruction === undefined ? {} : { onInstruction: options.onInstruction }),
    ...(options.readTrace === undefined ? {} : { readTrace: options.readTrace }),
  });
}

/** Mount our file system on a setup's device (journal recovery and orphans included). */
export function mountSetup(device: PmemDevice, setup: MountSetup, streams: StreamTree = DEFAULT_STREAMS): { fs: DaxFileSystem; report: MountReport } {
  return mountWithReport(device, { policy: setup.policy, pmemApi: setup.pmemApi, flushHint: setup.flushHint, seed: streams.seed });
}

/** Make the device and mount it: the one way every part of daxcrash boots a setup. */
export function boot(setup: MountSetup, media: MediaSource, options: BootOptions = {}): Booted {
  const device = setupDevice(setup, media, options);
  return { device, ...mountSetup(device, setup, options.streams) };
}

const DEFAULT_STREAMS = StreamTree.of('0');

// ------------------------------------------------------------------------ the base image

const baseImages = new Map<string, MediaSource>();
/** Seed of the base image's mkfs (its UUID and hash seed): fixed, so every unit starts alike. */
const BASE_MKFS_SEED = 'daxcrash-base';

/** The feature profiles a base image is made with (fs/mkfs.ts): `minimal` unless a caller names another. */
export const FEATURE_PROFILES: readonly FeatureProfile[] = ['minimal', 'default'];

export function isFeatureProfile(value: unknown): value is FeatureProfile {
  return (FEATURE_PROFILES as readonly unknown[]).includes(value);
}

/**
 * The `features` field of a spec, a report's options or a unit's engine options: present only
 * off the subset, so that what the subset writes (tokens, records, reports) keeps its shape.
 */
export function featuresField(features: FeatureProfile | undefined): { features?: 'default' } {
  return features === 'default' ? { features } : {};
}

/**
 * A freshly made, empty file system image of `features` (mkfs.ext4's subset by default, or its
 * default profile), shared by every unit of the same size and features (read-only).
 */
export function baseImage(deviceBytes: number, features: FeatureProfile = 'minimal'): MediaSource {
  if (!isFeatureProfile(features)) throw new UsageError(`unknown feature profile '${String(features)}' (expected ${FEATURE_PROFILES.join(' or ')})`);
  const key = `${deviceBytes}/${features}`;
  let image = baseImages.get(key);
  if (image === undefined) {
    const device = new PmemDevice({ sizeBytes: deviceBytes, trace: false });
    mkfs(device, { seed: BASE_MKFS_SEED, features });
    // The reference starts empty: lost+found goes (e2fsck -n accepts an image without it).
    const fs = mount(device);
    fs.rmdirSync('/lost+found');
    fs.unmount();
    image = device.guaranteedMedia().detach();
    baseImages.set(key, image);
  }
  return image;
}

/** For a caller that lists the names (usage hints). */
export const SETUP_NAMES = { profiles: PROFILE_NAMES, pmemApis: PMEM_API_NAMES, policies: POLICY_NAMES } as const;
