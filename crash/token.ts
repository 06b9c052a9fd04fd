/**
 * Reproduction tokens (spec/crash-checking.md, "Findings and reproduction"): one short
 * printable string, `dx2-<base64url>`, that names everything which rebuilds one crash state:
 * the workload (a generator reference, or the operation list itself, deflated), the setup,
 * the engine seed, the device size, the crash point, the crash state and, when the engine
 * judged it there, the crash position. `repro.ts` turns a token back into the image.
 *
 * Payload, version 2 (integers are unsigned LEB128 varints; lists are a count, then each
 * value as a zigzag delta from the one before, starting at 0; strings are a byte count, then
 * UTF-8):
 *   revision     the model revision that judged it (MODEL_REVISION)
 *   flags        bit 0: the workload is an operation list; bit 1: the generator reference has
 *                a seed; bit 2: a crash position follows the crash point; bit 3: the base
 *                image is mkfs.ext4's default profile (`features: 'default'`), not the subset
 *   workload     suite code, index [, seed]  |  bytes: deflateRaw(JSON {name?, ops})
 *   setup        profile code, pmem API code, policy code, flush hint (0 or 1)
 *   seed         string (the engine seed: the unordered policy's order, sampled states)
 *   device       device size in 4 KiB pages
 *   crash point  instructions run before the power failed
 *   [position]   done * 2 + inFlight
 *   crash state  kind code, then: newest -; sampled seed; engine-sampled draw d (the seed is
 *                the unit stream tree's `crashDraw(crashPoint, d)`, core/streams.ts); bounded epochs,
 *                subset, units; cut epochs, subset, cut; explicit crash kind, completed,
 *                lines (line, versions)
 * The token's bytes are the payload followed by the first 4 bytes of its sha256. Format dx1
 * was this payload without the revision (model revision 1).
 *
 * The model revision names what a token's crash point and state mean: the file system, the
 * crash-point rule, the suites and the checks. A change that alters what a token would
 * rebuild or how it is judged moves MODEL_REVISION, and tokens of another revision are
 * refused with a message saying so, never rebuilt into a different state.
 *
 * Invariants: `decodeToken(encodeToken(s))` deep-equals `s` for every spec encode accepts
 * (both sides run the same validation, so encode refuses what decode would refuse); a token
 * depends on the spec only; the code tables below are append-only: reordering them would
 * silently change what every issued token means. A token that is mistyped, truncated, of an
 * unknown version or malformed is refused with a TokenError saying which.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { UsageError } from '../core/errors';
import { StreamTree } from '../core/streams';
import { PAGE_BYTES } from '../core/limits';
import type { CrashChoices, CrashState, LineChoice } from '../device/crash';
import type { CrashKind } from '../device/profiles';
import { SuiteName, workloadSpace } from '../workloads/generators';
import type { Op, OpName, Workload } from '../workloads/ops';
import type { CrashPosition } from './check';
import { MountSetup, SETUP_CODE_TABLES, setupCodes, setupOfCodes } from './setup';

export interface ReproSpec {
  readonly workload: WorkloadRef;
  readonly setup: MountSetup;
  /** The engine seed (`EngineOptions.seed`, '0' by default). */
  readonly seed: string;
  readonly deviceBytes: number;
  /** Instructions run before the power failed (`Finding.crashPoint`). */
  readonly crashPoint: number;
  readonly crashState: CrashState;
  /**
   * The position the engine judged the image at (`Finding.position`). One crash point can
   * be judged at two positions: from inside the next instruction (that operation in flight)
   * and at a persistence point or the end (the operation returned); without it, repro takes
   * the position where the power failed.
   */
  readonly position?: CrashPosition;
  /**
   * The feature profile of the base image the workload ran on (crash/setup.ts `baseImage`):
   * absent for the subset (`minimal`), which is every token written before the default
   * profile could be written; a spec with `'minimal'` writes the same token as one without.
   */
  readonly features?: 'default';
}

/** A generated workload by its generator and parameters, or the operation list itself. */
export type WorkloadRef =
  | { readonly suite: SuiteName; readonly index: number; readonly seed?: string }
  | { readonly ops: readonly Op[]; readonly name?: string };

/** A token that cannot be read (or a spec that cannot be written as one): bad input, not a bug. */
export class TokenError extends UsageError {
  override name = 'TokenError';
  readonly code = 'EBADTOKEN';
}

export const TOKEN_VERSION = 'dx2';
/**
 * The model a token belongs to. 1: daxcrash 0.2 and before (dx1 tokens). 2: crash points
 * before fences and at operation ends, the reduced exploration, fsynced data lost as G4, the
 * real e2fsck on recovered images. 3: the journal as jbd2 keeps it (lazy checkpoints, many
 * transactions in the log), ordered's two barriers a commit (fs/policy.ts), unordered's data
 * flushes in the seeded order, G9 explored once per replay.
 */
export const MODEL_REVISION = 3;
const TOKEN_PREFIX = `${TOKEN_VERSION}-`;
const CHECKSUM_BYTES = 4;
/** A token longer than this is refused before decoding (a pasted file, not a token). */
const MAX_TOKEN_CHARS = 1 << 20;
/** Inflated operation lists larger than this are refused (a named bound on what decode allocates). */
const MAX_OPS_JSON_BYTES = 16 << 20;

// Append-only code tables (version 1); a setup's are in setup.ts.
const SUITE_CODES: readonly SuiteName[] = ['bounded-1', 'bounded-2', 'bounded-3', 'random', 'apps', 'shapes'];
const CRASH_KIND_CODES: readonly CrashKind[] = ['power', 'instantaneous'];
/** The names every table can carry, for a test that the tables cover the project's lists. */
export const TOKEN_TABLES = { ...SETUP_CODE_TABLES, suites: SUITE_CODES, crashKinds: CRASH_KIND_CODES } as const;

const FLAG_OPS = 1;
const FLAG_REF_SEED = 2;
const FLAG_POSITION = 4;
const FLAG_DEFAULT_FEATURES = 8;
const FLAGS_KNOWN = FLAG_OPS | FLAG_REF_SEED | FLAG_POSITION | FLAG_DEFAULT_FEATURES;
/** position packs as done * 2 + inFlight, which must stay a safe integer. */
const MAX_POSITION_DONE = Math.floor(Number.MAX_SAFE_INTEGER / 2) - 1;

const STATE_NEWEST = 0;
const STATE_SAMPLED = 1;
const STATE_ENGINE_SAMPLED = 2;
const STATE_BOUNDED = 3;
const STATE_CUT = 4;
const STATE_EXPLICIT = 5;

// ------------------------------------------------------------------------ public API

export function encodeToken(spec: ReproSpec): string {
  const payload = encodePayload(spec);
  return TOKEN_PREFIX + Buffer.concat([payload, checksum(payload)]).toString('base64url');
}

export function decodeToken(token: string): ReproSpec {
  if (typeof token !== 'string') throw new TokenError('a token is a string');
  const text = token.trim();
  if (text.length > MAX_TOKEN_CHARS) throw new TokenError(`a token of ${text.length} characters is too long (at most ${MAX_TOKEN_CHARS})`);
  const version = /^(dx\d+)-/.exec(text);
  if (version === null) throw new TokenError(`not a daxcrash token: it should start with '${TOKEN_PREFIX}'`);
  if (version[1] === 'dx1') throw otherRevision(1);
  if (version[1] !== TOKEN_VERSION) {
    throw new TokenError(`unknown token version '${version[1]}': this daxcrash reads '${TOKEN_VERSION}' tokens`,
      'use the daxcrash version that printed the token');
  }
  const body = text.slice(TOKEN_PREFIX.length);
  const bytes = base64urlBytes(body);
  if (bytes.length <= CHECKSUM_BYTES) throw new TokenError(`the token is truncated: ${bytes.length} bytes, not even a checksum and a payload`);
  const payload = bytes.subarray(0, bytes.length - CHECKSUM_BYTES);
  const sum = bytes.subarray(bytes.length - CHECKSUM_BYTES);
  if (!sum.equals(checksum(payload))) {
    throw new TokenError('checksum mismatch: the token was mistyped or cut short', 'copy the token again, whole');
  }
  return decodePayload(payload);
}

/** The workload a reference names (a generated one is generated again). */
export function workloadOf(ref: WorkloadRef): Workload {
  if ('ops' in ref) return { name: ref.name ?? `ops(${ref.ops.length})`, ops: ref.ops };
  return workloadSpace({ suite: ref.suite }).workload(ref.index, ref.seed);
}

// ------------------------------------------------------------------------ payload

function encodePayload(spec: ReproSpec): Buffer {
  const w = new Writer();
  w.uint(MODEL_REVISION);
  const ref = spec.workload;
  const isOps = 'ops' in ref;
  const refSeed = isOps ? undefined : ref.seed;
  const features: unknown = spec.features;
  if (features !== undefined && features !== 'default' && features !== 'minimal') throw encodeError(`unknown feature profile ${JSON.stringify(features)}`);
  w.uint((isOps ? FLAG_OPS : 0) | (refSeed !== undefined ? FLAG_REF_SEED : 0) | (spec.position !== undefined ? FLAG_POSITION : 0)
    | (features === 'default' ? FLAG_DEFAULT_FEATURES : 0));
  if (isOps) {
    checkOps(ref.ops, encodeError);
    if (ref.name !== undefined && typeof ref.name !== 'string') throw encodeError('the workload name is a string');
    const json = JSON.stringify(ref.name === undefined ? { ops: ref.ops } : { name: ref.name, ops: ref.ops });
    w.bytes(deflateRawSync(Buffer.from(json, 'utf8'), { level: 9 }));
  } else {
    w.uint(codeOf(SUITE_CODES, ref.suite, 'suite'));
    w.uint(checkedUint(ref.index, 'workload index'));
    if (ref.suite === 'random' && refSeed === undefined) throw encodeError('the random suite needs a seed');
    if (refSeed !== undefined) w.string(checkedString(refSeed, 'workload seed'));
  }
  const setup = setupCodes(spec.setup);
  if ('missing' in setup) throw encodeError(`${setup.missing} has no code in token version ${TOKEN_VERSION}`);
  for (const code of setup.codes) w.uint(code);
  w.string(checkedString(spec.seed, 'engine seed'));
  const deviceBytes = checkedUint(spec.deviceBytes, 'device size');
  if (deviceBytes === 0 || deviceBytes % PAGE_BYTES !== 0) throw encodeError(`device size ${deviceBytes} is not a positive multiple of ${PAGE_BYTES} bytes`);
  w.uint(deviceBytes / PAGE_BYTES);
  w.uint(checkedUint(spec.crashPoint, 'crash point'));
  if (spec.position !== undefined) {
    const { done, inFlight } = spec.position;
    if (typeof inFlight !== 'boolean') throw encodeError('position.inFlight is a boolean');
    if (checkedUint(done, 'position.done') > MAX_POSITION_DONE) throw encodeError(`position.done ${done} is too large`);
    w.uint(done * 2 + (inFlight ? 1 : 0));
  }
  encodeState(w, spec);
  return w.finish();
}

function encodeState(w: Writer, spec: ReproSpec): void {
  const state = spec.crashState;
  switch (state.kind) {
    case 'newest':
      w.uint(STATE_NEWEST);
      return;
    case 'sampled': {
      const seed = checkedString(state.seed, 'sampled seed');
      const draw = engineDraw(seed, spec);
      if (draw !== undefined) {
        w.uint(STATE_ENGINE_SAMPLED);
        w.uint(draw);
      } else {
        w.uint(STATE_SAMPLED);
        w.string(seed);
      }
      return;
    }
    case 'bounded':
      w.uint(STATE_BOUNDED);
      w.uint(checkedUint(state.epochs, 'epochs'));
      w.list(checkedList(state.subset, 'subset'));
      w.list(checkedList(state.units, 'units'));
      return;
    case 'cut':
      w.uint(STATE_CUT);
      w.uint(checkedUint(state.epochs, 'epochs'));
      w.list(checkedList(state.subset, 'subset'));
      w.uint(checkedUint(state.cut, 'cut'));
      return;
    case 'explicit': {
      const c = state.choices;
      w.uint(STATE_EXPLICIT);
      w.uint(codeOf(CRASH_KIND_CODES, c.crashKind, 'crash kind'));
      w.list(checkedList(c.completed, 'completed'));
      if (!Array.isArray(c.lines)) throw encodeError('choices.lines is a list');
      w.uint(c.lines.length);
      for (const line of c.lines) {
        w.uint(checkedUint(line.line, 'line'));
        w.list(checkedList(line.versions, 'versions'));
      }
      return;
    }
    default:
      throw encodeError(`unknown crash state kind ${JSON.stringify((state as { kind: unknown }).kind)}`);
  }
}

/** The draw number when `seed` is the engine's name for a sampled draw at this point (core/streams.ts). */
function engineDraw(seed: string, spec: ReproSpec): number | undefined {
  return StreamTree.of(checkedString(spec.seed, 'engine seed')).crashDrawOf(seed, spec.crashPoint);
}

function decodePayload(payload: Buffer): ReproSpec {
  const r = new Reader(payload);
  const revision = r.uint('model revision');
  if (revision !== MODEL_REVISION) throw otherRevision(revision);
  const flags = r.uint('flags');
  if ((flags & ~FLAGS_KNOWN) !== 0) throw malformed(`unknown flags ${flags}`);
  let workload: WorkloadRef;
  if (flags & FLAG_OPS) {
    if (flags & FLAG_REF_SEED) throw malformed('an operation list has no generator seed');
    workload = decodeOps(r.bytes('operations'));
  } else {
    const suite = r.code(SUITE_CODES, 'suite');
    const index = r.uint('workload index');
    workload = flags & FLAG_REF_SEED ? { suite, index, seed: r.string('workload seed') } : { suite, index };
    if (suite === 'random' && !(flags & FLAG_REF_SEED)) throw malformed('a random workload without its seed');
  }
  const setup = setupOfCodes([r.uint('profile'), r.uint('pmem API'), r.uint('policy'), r.uint('flush hint')]);
  if (typeof setup === 'string') throw malformed(setup);
  const seed = r.string('engine seed');
  const pages = r.uint('device size');
  if (pages === 0 || !Number.isSafeInteger(pages * PAGE_BYTES)) throw malformed(`device size of ${pages} pages`);
  const crashPoint = r.uint('crash point');
  const packed = flags & FLAG_POSITION ? r.uint('position') : undefined;
  const position = packed === undefined ? undefined : { done: Math.floor(packed / 2), inFlight: packed % 2 === 1 };
  const base = {
    workload, setup, seed, deviceBytes: pages * PAGE_BYTES, crashPoint,
    ...(flags & FLAG_DEFAULT_FEATURES ? { features: 'default' as const } : {}),
  };
  const crashState = decodeState(r, seed, crashPoint);
  r.end();
  return position === undefined ? { ...base, crashState } : { ...base, crashState, position };
}

function decodeState(r: Reader, seed: string, crashPoint: number): CrashState {
  const kind = r.uint('crash state kind');
  switch (kind) {
    case STATE_NEWEST:
      return { kind: 'newest' };
    case STATE_SAMPLED:
      return { kind: 'sampled', seed: r.string('sampled seed') };
    case STATE_ENGINE_SAMPLED:
      return { kind: 'sampled', seed: StreamTree.of(seed).crashDraw(crashPoint, r.uint('draw')) };
    case STATE_BOUNDED:
      return { kind: 'bounded', epochs: r.uint('epochs'), subset: r.list('subset'), units: r.list('units') };
    case STATE_CUT:
      return { kind: 'cut', epochs: r.uint('epochs'), subset: r.list('subset'), cut: r.uint('cut') };
    case STATE_EXPLICIT: {
      const crashKind = r.code(CRASH_KIND_CODES, 'crash kind');
      const completed = r.list('completed');
      const count = r.uint('line count');
      if (count > r.remaining()) throw malformed(`${count} lines in ${r.remaining()} bytes`);
      const lines: LineChoice[] = [];
      for (let i = 0; i < count; i++) lines.push({ line: r.uint('line'), versions: r.list('versions') });
      const choices: CrashChoices = { crashKind, completed, lines };
      return { kind: 'explicit', choices };
    }
    default:
      throw malformed(`unknown crash state kind ${kind}`);
  }
}

function decodeOps(deflated: Buffer): WorkloadRef {
  let json: string;
  try {
    json = inflateRawSync(deflated, { maxOutputLength: MAX_OPS_JSON_BYTES }).toString('utf8');
  } catch (err) {
    throw malformed(`the operation list does not inflate (${(err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw malformed('the operation list is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw malformed('the workload is not an object');
  const { name, ops, ...rest } = parsed as { name?: unknown; ops?: unknown };
  if (Object.keys(rest).length > 0) throw malformed(`the workload has unknown fields ${Object.keys(rest).join(', ')}`);
  if (name !== undefined && typeof name !== 'string') throw malformed('the workload name is not a string');
  checkOps(ops, malformed);
  return name === undefined ? { ops } : { name, ops };
}

// ------------------------------------------------------------------------ operations

type FieldKind = 'string' | 'int' | 'offset';
const OP_FIELDS: Readonly<Record<OpName, Readonly<Record<string, FieldKind>>>> = {
  creat: { path: 'string' },
  write: { path: 'string', offset: 'offset', length: 'int', tag: 'int' },
  read: { path: 'string', offset: 'int', length: 'int' },
  truncate: { path: 'string', length: 'int' },
  fsync: { path: 'string' },
  fdatasync: { path: 'string' },
  sync: {},
  mkdir: { path: 'string' },
  rmdir: { path: 'string' },
  unlink: { path: 'string' },
  link: { from: 'string', to: 'string' },
  rename: { from: 'string', to: 'string' },
  symlink: { target: 'string', path: 'string' },
  open: { handle: 'string', path: 'string', flags: 'string' },
  close: { handle: 'string' },
  pwrite: { handle: 'string', offset: 'int', length: 'int', tag: 'int' },
  hfsync: { handle: 'string' },
};

/** Every operation has exactly the fields of its kind, of their types (JSON keeps them exactly). */
export function checkOps(ops: unknown, fail: (why: string) => TokenError): asserts ops is Op[] {
  if (!Array.isArray(ops)) throw fail('the operation list is not a list');
  ops.forEach((op: unknown, index) => {
    const where = `operation ${index}`;
    if (typeof op !== 'object' || op === null || Array.isArray(op)) throw fail(`${where} is not an object`);
    const record = op as Record<string, unknown>;
    const kind = record.op;
    if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(OP_FIELDS, kind)) throw fail(`${where}: unknown op ${JSON.stringify(kind)}`);
    const fields = OP_FIELDS[kind as OpName];
    for (const key of Object.keys(record)) {
      if (key !== 'op' && !Object.prototype.hasOwnProperty.call(fields, key)) throw fail(`${where} (${kind}): unknown field '${key}'`);
    }
    for (const [key, type] of Object.entries(fields)) {
      const value = record[key];
      const ok = type === 'string' ? typeof value === 'string'
        : isExactInt(value) || (type === 'offset' && value === 'append');
      if (!ok) throw fail(`${where} (${kind}): field '${key}' is not ${type === 'string' ? 'a string' : 'an integer'}`);
    }
  });
}

// ------------------------------------------------------------------------ bytes

function checksum(payload: Uint8Array): Buffer {
  return createHash('sha256').update(payload).digest().subarray(0, CHECKSUM_BYTES);
}

function base64urlBytes(body: string): Buffer {
  const bad = /[^A-Za-z0-9_-]/.exec(body);
  if (bad !== null) throw new TokenError(`bad base64: character ${JSON.stringify(bad[0])} at ${TOKEN_PREFIX.length + bad.index} is not base64url`);
  if (body.length % 4 === 1) throw new TokenError(`bad base64: ${body.length} characters cannot be base64url (a character lost or added?)`);
  const bytes = Buffer.from(body, 'base64url');
  // the last character carries unused low bits: a token has exactly one spelling
  if (bytes.toString('base64url') !== body) throw new TokenError('bad base64: the last character is not one an encoder writes (mistyped?)');
  return bytes;
}

class Writer {
  private readonly out: number[] = [];

  uint(value: number): void {
    this.bigUint(BigInt(value));
  }

  /** Zigzag deltas: ascending lists of small ids cost a byte each. */
  list(values: readonly number[]): void {
    this.uint(values.length);
    let previous = 0n;
    for (const value of values) {
      const delta = BigInt(value) - previous;
      previous = BigInt(value);
      this.bigUint(delta >= 0n ? delta * 2n : -delta * 2n - 1n);
    }
  }

  string(value: string): void {
    this.bytes(Buffer.from(value, 'utf8'));
  }

  bytes(value: Uint8Array): void {
    this.uint(value.length);
    for (const b of value) this.out.push(b);
  }

  finish(): Buffer {
    return Buffer.from(this.out);
  }

  private bigUint(v: bigint): void {
    while (v >= 0x80n) {
      this.out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.out.push(Number(v));
  }
}

/** Varints longer than this cannot be a safe integer (or a zigzag delta of two). */
const MAX_VARINT_BYTES = 9;

class Reader {
  private at = 0;

  constructor(private readonly data: Buffer) {}

  remaining(): number {
    return this.data.length - this.at;
  }

  uint(what: string): number {
    const v = this.bigUint(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${what} is too large`);
    return Number(v);
  }

  code<T>(table: readonly T[], what: string): T {
    const code = this.uint(what);
    if (code >= table.length) throw malformed(`unknown ${what} code ${code}`);
    return table[code] as T;
  }

  list(what: string): number[] {
    const count = this.uint(`${what} count`);
    if (count > this.remaining()) throw malformed(`${what}: ${count} values in ${this.remaining()} bytes`);
    const out: number[] = [];
    let previous = 0n;
    for (let i = 0; i < count; i++) {
      const z = this.bigUint(what);
      const value = previous + (z % 2n === 0n ? z / 2n : -(z + 1n) / 2n);
      if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`${what}: value ${value} is out of range`);
      out.push(Number(value));
      previous = value;
    }
    return out;
  }

  string(what: string): string {
    const bytes = this.bytes(what);
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) throw malformed(`${what} is not UTF-8`);
    return text;
  }

  bytes(what: string): Buffer {
    const length = this.uint(`${what} length`);
    if (length > this.remaining()) throw malformed(`${what}: ${length} bytes, ${this.remaining()} left`);
    const out = this.data.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  end(): void {
    if (this.at !== this.data.length) throw malformed(`${this.data.length - this.at} bytes left over`);
  }

  private bigUint(what: string): bigint {
    let v = 0n;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.at >= this.data.length) throw malformed(`cut short while reading ${what}`);
      const b = this.data[this.at++];
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw malformed(`${what}: a varint with a redundant zero byte`);
        return v;
      }
    }
    throw malformed(`${what}: a varint longer than ${MAX_VARINT_BYTES} bytes`);
  }
}

// ------------------------------------------------------------------------ checks

/** A token of another model revision: it would rebuild another state, so it is refused. */
function otherRevision(revision: number): TokenError {
  return new TokenError(`this token belongs to model revision ${revision}; this daxcrash rebuilds model revision ${MODEL_REVISION}, where its crash point and state would name another crash image`,
    revision < MODEL_REVISION ? 'reproduce it with the daxcrash version that printed it (revision 1: daxcrash 0.2 and before; revision 2: before jbd2\'s lazy checkpoints), or run the campaign again' : 'reproduce it with the newer daxcrash that printed it');
}

function malformed(why: string): TokenError {
  return new TokenError(`malformed payload: ${why}`);
}

function encodeError(why: string): TokenError {
  return new TokenError(`cannot make a token: ${why}`);
}

function codeOf<T>(table: readonly T[], value: T, what: string): number {
  const code = table.indexOf(value);
  if (code < 0) throw encodeError(`${what} ${JSON.stringify(value)} has no code in token version ${TOKEN_VERSION}`);
  return code;
}

function isExactInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && !Object.is(value, -0);
}

function checkedUint(value: number, what: string): number {
  if (!isExactInt(value) || value < 0) throw encodeError(`${what} ${String(value)} is not a non-negative safe integer`);
  return value;
}

function checkedList(values: readonly number[], what: string): readonly number[] {
  if (!Array.isArray(values)) throw encodeError(`${what} is not a list`);
  for (const v of values) checkedUint(v, what);
  return values;
}

function checkedString(value: string, what: string): string {
  if (typeof value !== 'string') throw encodeError(`${what} is not a string`);
  if (/[\uD800-\uDFFF]/u.test(value)) {
    throw encodeError(`${what} ${JSON.stringify(value)} is not valid Unicode (a lone surrogate)`);
  }
  return value;
}
