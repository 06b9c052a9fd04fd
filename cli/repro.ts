/**
 * `daxcrash repro TOKEN`: the reproduction view of one token. It rebuilds
 * the crash image byte for byte (crash/repro.ts) and prints, in reading order: the setup,
 * the workload with the operation in flight marked and the persistence points that had
 * returned, the device events before the crash point (each clean with the line version it
 * covers and whether it completed), which words kept which version at the power failure,
 * the transactions in the journal log (tid, log and home blocks, revokes, committed or not)
 * and the finding (promise and diff).
 *
 * `--image FILE` writes the crash image as a sparse file (through a temporary name, so a
 * failure leaves no half-written image); `--shrink` shrinks the workload first and shows
 * the smallest token. Exit 1 when the image breaks a promise, 0 when it is clean, 2 on a
 * bad token (one line and a hint), 3 internal.
 *
 * Not shown: G9 (crashes during recovery) is not reproduced by a token; the real e2fsck is
 * not run here (the printed commands run it on the written image).
 */
import { Command, Option } from 'commander';
import { UsageError } from '../core/errors';
import { LINE_BYTES, PAGE_BYTES } from '../core/limits';
import { InvalidCrashState } from '../device/crash';
import type { DeviceEvent } from '../device/trace';
import type { PromiseId } from '../crash/check';
import { LineOutcome, Reproduction, WordOutcome, findingToken, repro } from '../crash/repro';
import { shrink } from '../crash/shrink';
import { decodeToken } from '../crash/token';
import { isScenarioToken } from '../crash/scenario-token';
import { reproScenarioToken } from './test-module';
import type { ReproSpec } from '../crash/token';
import type { Op, OpResult } from '../workloads/ops';
import { CommandIo, EXIT_FINDINGS, EXIT_OK, configureCommand, guardUsage, parseCount, sizeText, writeAtomically } from './command-io';

/** Most lines `repro` lists one by one (all of them are in --json). */
const MAX_LINES_SHOWN = 24;
/** Most pending items listed one by one. */
const MAX_PENDING_SHOWN = 16;
const MAX_EVENTS = 100_000;

export const PROMISE_NAMES: Readonly<Record<PromiseId, string>> = {
  G0: 'same answers as the reference',
  G1: 'mountable',
  G2: 'consistent (fsck clean)',
  G3: 'a prefix of the operations',
  G4: 'durable after a persistence point',
  G5: 'no stale data',
  G6: 'committed appends carry their data',
  G7: 'atomic rename',
  G8: 'usable after recovery',
  G9: 'recovery survives a crash',
};

interface ReproFlags {
  readonly image?: string;
  readonly shrink?: boolean;
  readonly json?: boolean;
  readonly events: number;
}

interface ShrinkSummary {
  readonly from: string;
  readonly token: string;
  readonly promise: PromiseId;
  readonly tries: number;
  readonly operationsBefore: number;
  readonly operationsAfter: number;
  readonly steps: readonly string[];
}

export function reproCommand(io: CommandIo): Command {
  const command = configureCommand(new Command('repro'), io)
    .description('rebuild the crash image of a token and show what led to it and what it breaks')
    .argument('<token>', "a reproduction token (dx2-..., or dxs1-... from test-module), as a finding prints it")
    .option('--image <file>', 'write the crash image (before recovery) as a sparse file, for e2fsck and debugfs')
    .option('--shrink', 'shrink the workload first (drop operations, halve writes) and show the smallest token')
    .option('--json', 'print the reproduction as JSON')
    .addOption(new Option('--events <n>', 'device events to show before the crash point').argParser(parseCount(MAX_EVENTS)).default(20))
    .addHelpText('after', [
      '',
      'Exit codes: 1 the token reproduces a finding, 0 the image is clean, 2 bad token, 3 internal error.',
      '',
      'Examples:',
      '  daxcrash repro dx2-BVtdy0EO...',
      '  daxcrash repro dx2-BVtdy0EO... --image crash.img && e2fsck -fn crash.img',
      '  daxcrash repro dx2-BVtdy0EO... --shrink',
      '  daxcrash repro dx2-BVtdy0EO... --json --events 100',
    ].join('\n'))
    .action(async (token: string, flags: ReproFlags) => {
      if (isScenarioToken(token)) await reproScenarioToken(io, token, flags, writeAtomically);
      else guardUsage(io, 'repro', () => runRepro(io, token, flags));
    });
  return command;
}

function runRepro(io: CommandIo, token: string, flags: ReproFlags): void {
  const spec = decodeToken(token);
  let r = reproduce(spec, flags.events);
  let shrunk: ShrinkSummary | undefined;
  if (flags.shrink) {
    shrunk = shrinkSpec(spec, r, token.trim());
    if (shrunk !== undefined) r = reproduce(decodeToken(shrunk.token), flags.events);
  }
  const usedToken = shrunk?.token ?? token.trim();
  let imagePath: string | undefined;
  if (flags.image !== undefined) {
    const image = r.image;
    writeAtomically(flags.image, (temporary) => image.writeImage(temporary));
    imagePath = flags.image;
  }
  if (flags.json) {
    io.out(JSON.stringify(reproJson(r, usedToken, shrunk, imagePath, flags.shrink === true), null, 2));
  } else {
    if (flags.shrink) io.out(formatShrink(shrunk));
    io.out(formatReproduction(r, usedToken, imagePath));
  }
  io.setExit(r.violations.length > 0 ? EXIT_FINDINGS : EXIT_OK);
}

/** repro, with a crash state the crash point does not have reported as bad input. */
function reproduce(spec: ReproSpec, eventsBefore: number): Reproduction {
  try {
    return repro(spec, { eventsBefore });
  } catch (err) {
    if (err instanceof InvalidCrashState) {
      throw new UsageError(`the token names a crash state this crash point does not have (${err.message})`,
        'the token belongs to another version of the file system or the workload');
    }
    throw err;
  }
}

function shrinkSpec(spec: ReproSpec, first: Reproduction, from: string): ShrinkSummary | undefined {
  const promise = first.violations[0]?.promise;
  if (promise === undefined) return undefined;
  const result = shrink(first.workload, promise, {
    setup: spec.setup, deviceBytes: spec.deviceBytes, features: spec.features, seed: spec.seed, e2fsck: 'none', recoveryStates: 0,
  });
  return {
    from, token: findingToken(result.finding, { seed: spec.seed, deviceBytes: spec.deviceBytes, features: spec.features }), promise, tries: result.tries,
    operationsBefore: first.workload.ops.length, operationsAfter: result.workload.ops.length, steps: result.steps,
  };
}

// ------------------------------------------------------------------------ text

export function formatReproduction(r: Reproduction, token: string, imagePath?: string): string {
  const out: string[] = [];
  out.push(...formatSetup(r, token), '');
  out.push(...formatWorkload(r), '');
  out.push(...formatEvents(r), '');
  out.push(...formatKept(r), '');
  out.push(...formatLog(r), '');
  out.push(...formatFinding(r));
  if (imagePath !== undefined) out.push('', ...formatImage(r, imagePath));
  return out.join('\n');
}

function formatSetup(r: Reproduction, token: string): string[] {
  const { spec } = r;
  const s = spec.setup;
  return [
    `daxcrash repro ${token}`,
    `setup      profile ${s.profile}, pmem API ${s.pmemApi}, policy ${s.policy}, flush hint ${s.flushHint ? 'on' : 'off'}`,
    `engine     seed '${spec.seed}', device ${sizeText(spec.deviceBytes)}${spec.features === 'default' ? ' (mkfs.ext4\'s default features)' : ''}, power failed before instruction ${spec.crashPoint}`,
    `state      ${stateText(r)}`,
    `image      sha256 ${r.digest}`,
  ];
}

function stateText(r: Reproduction): string {
  const st = r.spec.crashState;
  const how = `${r.crash.crashKind} failure, ${r.crash.granularity} granularity`;
  switch (st.kind) {
    case 'newest': return `newest: every store and clean completed (${how})`;
    case 'sampled': return `sampled from seed '${st.seed}' (${how})`;
    case 'bounded': return `bounded: ${st.epochs} DMB epoch(s) complete, extra items [${st.subset.join(', ')}], units raised [${st.units.join(', ')}] (${how})`;
    case 'cut': return `store-buffer cut: ${st.epochs} epoch(s), extra items [${st.subset.join(', ')}], ${st.cut} piece(s) drained (${how})`;
    case 'explicit': return `explicit: ${st.choices.completed.length} item(s) completed, ${st.choices.lines.length} line(s) chosen (${how})`;
  }
}

function formatWorkload(r: Reproduction): string[] {
  const ops = r.workload.ops;
  const out = [`workload   ${r.workload.name}: ${ops.length} operation${ops.length === 1 ? '' : 's'}, ${r.opsBefore} returned${r.inFlight ? `, operation ${r.opsBefore + 1} in flight` : ''}`];
  const width = Math.max(...ops.map((op) => describeOp(op).length), 10);
  ops.forEach((op, i) => {
    const index = i + 1;
    const marker = r.inFlight && index === r.opsBefore + 1 ? '>>' : '  ';
    let status: string;
    if (index <= r.opsBefore) {
      status = resultText(r.results[i] as OpResult);
      if (r.persistencePoints.includes(index)) status += ', a persistence point: everything it covers must survive';
    } else if (r.inFlight && index === r.opsBefore + 1) {
      status = 'IN FLIGHT: the power failed inside it';
    } else {
      status = 'not started';
    }
    out.push(`  ${marker} ${String(index).padStart(3)}  ${describeOp(op).padEnd(width)}  ${status}`);
  });
  const points = r.persistencePoints;
  out.push(`  persistence points returned: ${points.length === 0 ? 'none' : points.map((p) => `operation ${p}`).join(', ')}`);
  return out;
}

export function describeOp(op: Op): string {
  switch (op.op) {
    case 'write': return `write ${op.path} ${op.length} B at ${op.offset} (tag ${op.tag})`;
    case 'pwrite': return `pwrite [${op.handle}] ${op.length} B at ${op.offset} (tag ${op.tag})`;
    case 'read': return `read ${op.path} ${op.length} B at ${op.offset}`;
    case 'truncate': return `truncate ${op.path} to ${op.length} B`;
    case 'link':
    case 'rename': return `${op.op} ${op.from} -> ${op.to}`;
    case 'symlink': return `symlink ${op.path} -> ${op.target}`;
    case 'open': return `open [${op.handle}] ${op.path} '${op.flags}'`;
    case 'close':
    case 'hfsync': return `${op.op} [${op.handle}]`;
    case 'sync': return 'sync';
    default: return `${op.op} ${op.path}`;
  }
}

function resultText(result: OpResult): string {
  if (!result.ok) return `returned ${result.code}`;
  return result.value === undefined ? 'returned' : `returned ${JSON.stringify(result.value)}`;
}

function formatEvents(r: Reproduction): string[] {
  const first = r.events[0];
  const out = [first === undefined
    ? 'device events: none recorded before the crash point'
    : `device events before the crash point (trace #${first.index} to #${r.events[r.events.length - 1]?.index})`];
  const fates = wordsByNewestUnit(r);
  const pendingIds = new Map(r.crash.pending.map((p) => [p.id, p]));
  for (const e of r.events) out.push(`  ${eventText(e, fates, pendingIds, r)}`);
  out.push(`  ${'-'.repeat(8)} power failure before instruction ${r.spec.crashPoint}`);
  return out;
}

function eventText(
  e: DeviceEvent, fates: ReadonlyMap<number, WordOutcome[]>, pending: ReadonlyMap<number, Reproduction['crash']['pending'][number]>, r: Reproduction,
): string {
  const head = `#${String(e.index).padEnd(6)} ${e.instruction < 0 ? '      ' : `i${String(e.instruction).padEnd(5)}`}`;
  const name = `${e.kind}${e.op ? ` ${e.op}` : ''}`.padEnd(10);
  switch (e.kind) {
    case 'mark': return `${head} ${markerText(e)}`;
    case 'store':
    case 'movnti': return `${head} ${name} ${where(e.addr, e.length)}  units ${e.ref}..${e.detail}: ${storeFate(e, fates, r)}`;
    case 'dc':
      if (e.op === 'zva') return `${head} ${name} ${where(e.addr, e.length)}  unit ${e.ref}: ${storeFate(e, fates, r)}`;
      if (e.op === 'ivac') return `${head} ${name} ${where(e.addr, e.length)}  invalidate${e.detail === 1 ? ': discarded the unpersisted versions' : ''}`;
      return `${head} ${name} ${where(e.addr, e.length)}  ${cleanFate(e, pending)}`;
    case 'clwb':
    case 'clflushopt':
    case 'clflush': return `${head} ${name} ${where(e.addr, e.length)}  ${e.kind === 'clflush' ? `covers unit ${e.detail}` : cleanFate(e, pending)}`;
    case 'dmb': return `${head} ${name} orders the cleans before it (epoch ${e.detail} begins)`;
    case 'dsb': return `${head} ${name} ${e.op === 'sy' || e.op === 'osh' || e.op === 'ish' ? 'waits for every clean issued before it' : 'completes no clean (a store-only or load barrier)'}`;
    case 'sfence':
    case 'mfence': return `${head} ${name} completes the write-backs issued before it`;
    case 'hint': return `${head} ${name} flush hint (nvdimm_flush)${e.ref >= 0 ? `: ${cleanFate(e, pending)}` : ''}`;
  }
}

function markerText(e: DeviceEvent): string {
  const data = (e.data ?? {}) as { index?: number; op?: Op; result?: OpResult };
  const n = data.index ?? 0;
  switch (e.label) {
    case 'op-start': return `== operation ${n} starts: ${data.op ? describeOp(data.op) : '?'}`;
    case 'op-end': return `== operation ${n} ${data.result ? resultText(data.result) : 'returned'}`;
    case 'persistence-point': return `== operation ${n} is a persistence point: what it covers must now survive`;
    default: return `== ${e.label ?? 'marker'}`;
  }
}

function where(addr: number, length: number): string {
  const line = Math.floor(addr / LINE_BYTES);
  const block = Math.floor(addr / PAGE_BYTES);
  return `0x${addr.toString(16).padStart(6, '0')} ${String(length).padStart(4)} B  line ${line} (block ${block})`;
}

/** What happened to the words a store's units wrote. */
function storeFate(e: DeviceEvent, fates: ReadonlyMap<number, WordOutcome[]>, r: Reproduction): string {
  const counts = { newest: 0, older: 0, lost: 0 };
  let superseded = false;
  for (let unit = e.ref; unit <= e.detail && unit > 0; unit++) {
    const words = fates.get(unit);
    if (words === undefined) {
      superseded ||= isTracked(r, e.addr, e.length);
      continue;
    }
    for (const w of words) counts[w.kept]++;
  }
  const parts: string[] = [];
  if (counts.newest) parts.push(`${counts.newest} word(s) kept`);
  if (counts.older) parts.push(`${counts.older} word(s) kept an OLDER value`);
  if (counts.lost) parts.push(`${counts.lost} word(s) LOST`);
  if (parts.length > 0) return `uncertain at the failure: ${parts.join(', ')}`;
  return superseded ? 'persisted, or overwritten by a later store' : 'persisted before the failure';
}

function isTracked(r: Reproduction, addr: number, length: number): boolean {
  const first = Math.floor(addr / LINE_BYTES);
  const last = Math.floor((addr + Math.max(length, 1) - 1) / LINE_BYTES);
  return r.crash.lines.some((l) => l.line >= first && l.line <= last);
}

function cleanFate(e: DeviceEvent, pending: ReadonlyMap<number, Reproduction['crash']['pending'][number]>): string {
  if (e.ref < 0) return 'nothing to clean (the line had persisted, or the clean stops short of persistence)';
  const covers = e.kind === 'hint' ? 'the lines cleaned so far' : `line versions up to unit ${e.detail}`;
  const p = pending.get(e.ref);
  if (p === undefined) return `clean #${e.ref} covers ${covers}: completed before the failure`;
  return `clean #${e.ref} covers ${covers}: pending at the failure, ${p.completed ? 'completed in this crash state' : 'DID NOT complete'}`;
}

function wordsByNewestUnit(r: Reproduction): Map<number, WordOutcome[]> {
  const map = new Map<number, WordOutcome[]>();
  for (const line of r.crash.lines) {
    for (const w of line.words) {
      const list = map.get(w.newestUnit) ?? [];
      list.push(w);
      map.set(w.newestUnit, list);
    }
  }
  return map;
}

function formatKept(r: Reproduction): string[] {
  const { lines, counts, pending } = r.crash;
  if (lines.length === 0 && pending.length === 0) {
    return ['at the power failure: no line was uncertain; every store before it had persisted'];
  }
  const out = [`at the power failure: ${lines.length} line(s) uncertain; words kept the newest value ${counts.newest}, an older one ${counts.older}, lost ${counts.lost}`];
  for (const line of lines.slice(0, MAX_LINES_SHOWN)) out.push(`  ${lineText(line)}`);
  if (lines.length > MAX_LINES_SHOWN) out.push(`  ... ${lines.length - MAX_LINES_SHOWN} more line(s) (--json lists them all)`);
  if (pending.length > 0) {
    out.push(`  pending cleans at the failure: ${pending.length}, ${pending.filter((p) => p.completed).length} completed in this crash state`);
    for (const p of pending.slice(0, MAX_PENDING_SHOWN)) {
      const covers = p.kind === 'hint' ? 'every line cleaned to the PoC before it' : p.covers < 0 ? 'nothing (its versions were discarded)' : `line ${p.line} up to unit ${p.covers}`;
      out.push(`    ${p.kind} #${p.id} (trace #${p.event}, epoch ${p.epoch}) covers ${covers}: ${p.completed ? 'completed' : 'did not complete'}`);
    }
    if (pending.length > MAX_PENDING_SHOWN) out.push(`    ... ${pending.length - MAX_PENDING_SHOWN} more`);
  }
  return out;
}

/** One line: its address, then runs of words with the same fate. */
function lineText(line: LineOutcome): string {
  const runs: string[] = [];
  let i = 0;
  while (i < line.words.length) {
    const w = line.words[i] as WordOutcome;
    let j = i + 1;
    while (j < line.words.length) {
      const n = line.words[j] as WordOutcome;
      if (n.word !== (line.words[j - 1] as WordOutcome).word + 1 || n.kept !== w.kept || n.keptUnit !== w.keptUnit || n.newestUnit !== w.newestUnit) break;
      j++;
    }
    const last = line.words[j - 1] as WordOutcome;
    const span = w.word === last.word ? `word ${w.word}` : `words ${w.word}-${last.word}`;
    runs.push(`${span} ${fateText(w)}`);
    i = j;
  }
  const chosen = line.chosen ? 'chosen' : 'at its guaranteed version';
  return `line ${line.line} (0x${line.addr.toString(16)}, ${chosen}): ${runs.join('; ')}`;
}

function fateText(w: WordOutcome): string {
  const newest = `unit ${w.newestUnit} (trace #${w.newestEvent})`;
  switch (w.kept) {
    case 'newest': return `kept the newest, ${newest}`;
    case 'older': return `kept OLDER unit ${w.keptUnit} (trace #${w.keptEvent}), not ${newest}`;
    case 'lost': return `LOST ${newest}: kept what had persisted before`;
  }
}

function formatLog(r: Reproduction): string[] {
  if ('error' in r.log) return [`journal log: unreadable: ${r.log.error}`];
  const txs = r.log.transactions;
  if (r.log.start === 0) return ['journal log: empty (s_start 0): recovery replays nothing'];
  const committed = txs.filter((t) => t.committed).length;
  const out = [`journal log: from block ${r.log.start} expecting tid ${r.log.sequence}: ${txs.length} transaction(s), ${committed} committed (recovery replays those)`];
  const list = (blocks: readonly number[]) => (blocks.length <= 12 ? blocks.join(', ') : `${blocks.slice(0, 12).join(', ')}, ... (${blocks.length})`);
  for (const t of txs.slice(-MAX_PENDING_SHOWN)) {
    const revokes = t.revokes.length === 0 ? '' : `, revokes ${list(t.revokes)}`;
    out.push(`  tid ${t.tid} ${t.committed ? 'committed' : 'NOT committed'}: log blocks ${t.logBlocks[0]}..${t.logBlocks[t.logBlocks.length - 1]} (${t.logBlocks.length}), home blocks ${list(t.homeBlocks)}${revokes}`);
  }
  if (txs.length > MAX_PENDING_SHOWN) out.splice(1, 0, `  ... ${txs.length - MAX_PENDING_SHOWN} older transaction(s) (--json lists them all)`);
  return out;
}

function formatFinding(r: Reproduction): string[] {
  if (r.violations.length === 0) {
    return ['finding    none: the recovered image keeps every promise at this position (exit 0)'];
  }
  const out: string[] = [];
  for (const v of r.violations) {
    out.push(`finding    ${v.promise} ${PROMISE_NAMES[v.promise]}`);
    for (const l of v.diff.split('\n')) out.push(`    ${l}`);
  }
  return out;
}

function formatImage(r: Reproduction, path: string): string[] {
  return [
    `image written: ${path} (${sizeText(r.image.sizeBytes)}, sparse; the crash image before recovery)`,
    `  cp --sparse=always ${path} copy.img && e2fsck -E journal_only -y copy.img && e2fsck -fn copy.img`,
    '      # replay the journal on a copy, then check it (what the engine\'s e2fsck option does)',
    `  e2fsck -fn ${path}                  # as it is, journal not replayed`,
    `  debugfs -R 'ls -l /' ${path}        # the directory as on the media`,
    `  debugfs -R 'logdump' ${path}        # the journal`,
    `  daxcrash image fsck ${path}         # our fsck, on the same bytes`,
  ];
}

function formatShrink(s: ShrinkSummary | undefined): string {
  if (s === undefined) return 'shrink: nothing to shrink, the token reproduces no finding\n';
  return [
    `shrink     ${s.promise}: ${s.operationsBefore} -> ${s.operationsAfter} operation(s) in ${s.tries} engine run(s)`,
    ...s.steps.map((step) => `  ${step}`),
    `smallest token: ${s.token}`,
    `  (${s.token.length} characters, was ${s.from.length})`,
    '',
  ].join('\n');
}

// ------------------------------------------------------------------------ JSON

function reproJson(r: Reproduction, token: string, shrunk: ShrinkSummary | undefined, image: string | undefined, askedShrink: boolean): unknown {
  return {
    token,
    ...(askedShrink ? { shrink: shrunk ?? null } : {}),
    spec: r.spec,
    digest: r.digest,
    workload: r.workload,
    opsBefore: r.opsBefore,
    inFlight: r.inFlight,
    results: r.results,
    persistencePoints: r.persistencePoints,
    events: r.events,
    crash: r.crash,
    log: r.log,
    violations: r.violations,
    ...(image !== undefined ? { image } : {}),
  };
}
