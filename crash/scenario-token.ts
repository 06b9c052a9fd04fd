/**
 * Tokens of scenario findings: `dxs1-<base64url>`, one printable string that names what
 * rebuilds one finding of `daxcrash test-module`: the scenario file (as the user named it,
 * resolved from the directory `repro` runs in), the scenario's name, the setup, the seed, the
 * device size, the crash-point choice and the periodic commit, and the crash point (its
 * ordinal in the run) and state. The package's own files are not in the token: a token
 * reproduces on the same installed versions.
 *
 * Payload: deflateRaw of a JSON object, followed by the first 4 bytes of the payload's
 * sha256. The JSON carries the model revision (crash/token.ts MODEL_REVISION): a token of
 * another revision is refused, never rebuilt into a different state.
 *
 * Invariants: `decodeScenarioToken(encodeScenarioToken(s))` deep-equals `s`; a mistyped,
 * truncated or malformed token is refused with a TokenError saying which.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CrashState } from '../device/crash';
import type { CrashPointChoice } from './points';
import { MountSetup, parseSetupLabel, setupLabel } from './setup';
import { MODEL_REVISION, TokenError } from './token';

export interface ScenarioReproSpec {
  /** The scenario file, as it was named on the command line. */
  readonly file: string;
  /** The scenario's name in that file. */
  readonly scenario: string;
  readonly setup: MountSetup;
  readonly seed: string;
  readonly deviceBytes: number;
  /** Present when the file system was mkfs.ext4's default profile; absent: the subset. */
  readonly features?: 'default';
  readonly points: CrashPointChoice;
  readonly commitAfter: boolean;
  /** The crash point's ordinal in the run (crashTest's `point`). */
  readonly point: number;
  readonly state: CrashState;
}

export const SCENARIO_TOKEN_PREFIX = 'dxs1-';
const CHECKSUM_BYTES = 4;
const MAX_TOKEN_CHARS = 1 << 16;
const MAX_JSON_BYTES = 1 << 20;
const POINT_CHOICES: readonly CrashPointChoice[] = ['barriers', 'flushes', 'stores'];

export function isScenarioToken(token: string): boolean {
  return typeof token === 'string' && token.trim().startsWith(SCENARIO_TOKEN_PREFIX);
}

export function encodeScenarioToken(spec: ScenarioReproSpec): string {
  const json = JSON.stringify({
    r: MODEL_REVISION, f: spec.file, n: spec.scenario, s: setupLabel(spec.setup), seed: spec.seed, d: spec.deviceBytes,
    pts: spec.points, c: spec.commitAfter ? 1 : 0, p: spec.point, st: spec.state,
    ...(spec.features === 'default' ? { ft: 'default' } : {}),
  });
  const payload = deflateRawSync(Buffer.from(json, 'utf8'));
  return SCENARIO_TOKEN_PREFIX + Buffer.concat([payload, checksum(payload)]).toString('base64url');
}

export function decodeScenarioToken(token: string): ScenarioReproSpec {
  const text = String(token).trim();
  if (!text.startsWith(SCENARIO_TOKEN_PREFIX)) throw new TokenError(`not a scenario token: it should start with '${SCENARIO_TOKEN_PREFIX}'`);
  if (text.length > MAX_TOKEN_CHARS) throw new TokenError(`a token of ${text.length} characters is too long`);
  const body = text.slice(SCENARIO_TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(body)) throw new TokenError('the token has characters base64url does not use: it was mistyped');
  const bytes = Buffer.from(body, 'base64url');
  if (bytes.length <= CHECKSUM_BYTES) throw new TokenError('the token is truncated');
  const payload = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
  if (!bytes.subarray(bytes.length - CHECKSUM_BYTES).equals(checksum(payload))) {
    throw new TokenError('checksum mismatch: the token was mistyped or cut short', 'copy the token again, whole');
  }
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(inflateRawSync(payload, { maxOutputLength: MAX_JSON_BYTES }).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new TokenError('the token does not decode to a scenario finding');
  }
  if (value.r !== MODEL_REVISION) {
    throw new TokenError(`the token belongs to model revision ${String(value.r)}; this daxcrash is revision ${MODEL_REVISION}`,
      'use the daxcrash version that printed the token');
  }
  const bad = (field: string): never => {
    throw new TokenError(`the token's ${field} is malformed`);
  };
  const file = typeof value.f === 'string' && value.f !== '' ? value.f : bad('file');
  const scenario = typeof value.n === 'string' && value.n !== '' ? value.n : bad('scenario name');
  let setup: MountSetup;
  try {
    setup = parseSetupLabel(String(value.s));
  } catch {
    return bad('setup');
  }
  const seed = typeof value.seed === 'string' ? value.seed : bad('seed');
  const deviceBytes = Number.isSafeInteger(value.d) && (value.d as number) > 0 ? (value.d as number) : bad('device size');
  const points = POINT_CHOICES.includes(value.pts as CrashPointChoice) ? (value.pts as CrashPointChoice) : bad('crash-point choice');
  const commitAfter = value.c === 1 ? true : value.c === 0 ? false : bad('periodic commit flag');
  const point = Number.isSafeInteger(value.p) && (value.p as number) >= 0 ? (value.p as number) : bad('crash point');
  const state = value.st !== null && typeof value.st === 'object' && typeof (value.st as { kind?: unknown }).kind === 'string' ? (value.st as CrashState) : bad('crash state');
  if (value.ft !== undefined && value.ft !== 'default') bad('feature profile');
  return { file, scenario, setup, seed, deviceBytes, ...(value.ft === 'default' ? { features: 'default' as const } : {}), points, commitAfter, point, state };
}

function checksum(payload: Uint8Array): Buffer {
  return createHash('sha256').update(payload).digest().subarray(0, CHECKSUM_BYTES);
}
