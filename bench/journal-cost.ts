/**
 * The device cost of the journal and the flush policies on the apps suite: its 13 workloads
 * (apps#0 to apps#12) run on the 1 GiB base image of the crash engine, no crash, summing
 * `fs.costReport()` (the counters behind `daxcrash compare`'s cost column): barriers and
 * cleans per operation, and barriers per fsync or fdatasync, for each flavour and policy,
 * with lazy checkpoints (the default) and with `checkpoint: 'eager'` (every commit written
 * home at once, the journal of daxcrash 0.3). Counts, not times: the same on any machine.
 *
 * Then the price of jbd2 checksum v3 (`journalChecksum: true`: every tag, descriptor and
 * revoke tail and commit block checksummed, 16-byte tags): the same workloads with and
 * without it (linux-arm64-nosync, ordered, lazy), counts and CPU time, the plain journal's
 * time the reference measured in the same run (alternating, median of the timed runs).
 */
import { PmemDevice } from '../device/device';
import type { PmemApiName } from '../device/pmem-api';
import { baseImage } from '../crash/setup';
import { mount } from '../fs/mount';
import type { CheckpointMode } from '../fs/journal';
import type { FlushPolicy } from '../fs/policy';
import { appsSpace } from '../workloads/apps';
import { Handles, applyOp } from '../workloads/ops';
import { formatTable, repeat, timeNanos } from './harness';

const WORKLOADS = 13;

function cost(api: PmemApiName, policy: FlushPolicy, checkpoint: CheckpointMode, journalChecksum = false): string[] {
  const base = baseImage(1 << 30);
  let ops = 0;
  let cleans = 0;
  let barriers = 0;
  let syncs = 0;
  let syncBarriers = 0;
  for (let i = 0; i < WORKLOADS; i++) {
    const device = new PmemDevice({ media: base, profile: api === 'linux-x86' ? 'x86-adr' : 'armv8.2', trace: false });
    const fs = mount(device, { policy, pmemApi: api, checkpoint, seed: 'cost', journalChecksum });
    const handles: Handles = new Map();
    for (const op of appsSpace().workload(i).ops) {
      applyOp(fs, op, handles);
      ops++;
    }
    for (const [name, c] of fs.costReport()) {
      cleans += c.cleans;
      barriers += c.barriers;
      if (name === 'fsync' || name === 'fdatasync') {
        syncs += c.calls;
        syncBarriers += c.barriers;
      }
    }
  }
  return [api, policy, checkpoint, String(ops), (barriers / ops).toFixed(2), (cleans / ops).toFixed(2), (syncBarriers / syncs).toFixed(2)];
}

const rows: string[][] = [];
for (const api of ['linux-arm64-nosync', 'linux-arm64', 'linux-x86'] as const) {
  for (const policy of ['ordered', 'unordered'] as const) {
    for (const checkpoint of ['lazy', 'eager'] as const) rows.push(cost(api, policy, checkpoint));
  }
}
console.log(`journal cost on apps#0..${WORKLOADS - 1}, 1 GiB, per operation (fsync: per fsync or fdatasync call)`);
console.log(formatTable(['pmem API', 'policy', 'checkpoint', 'ops', 'barriers/op', 'cleans/op', 'barriers/fsync'], rows));

// jbd2 checksum v3 against the plain journal
const csumRows: string[][] = [];
const variants = [['plain', false], ['checksum v3', true]] as const;
for (const [name, on] of variants) csumRows.push([name, ...cost('linux-arm64-nosync', 'ordered', 'lazy', on).slice(3)]);
const timing = repeat({ warmups: 1, reps: 5 }, () => ({
  plain: timeNanos(() => cost('linux-arm64-nosync', 'ordered', 'lazy', false)),
  v3: timeNanos(() => cost('linux-arm64-nosync', 'ordered', 'lazy', true)),
}));
csumRows[0].push((timing.plain.medianNanos / 1e6).toFixed(0), '1.00');
csumRows[1].push((timing.v3.medianNanos / 1e6).toFixed(0), (timing.v3.medianNanos / timing.plain.medianNanos).toFixed(2));
console.log('\njbd2 checksum v3 on the same workloads (linux-arm64-nosync, ordered, lazy); CPU: median of 5 runs of all 13, alternating');
console.log(formatTable(['journal', 'ops', 'barriers/op', 'cleans/op', 'barriers/fsync', 'CPU ms', 'ratio'], csumRows));
