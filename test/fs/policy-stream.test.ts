/**
 * The write policies' stream (fs/policy.ts): the unordered policy builds it on its first draw
 * when given a factory, once, and then issues in exactly the order the stream itself would
 * give (so tokens rebuild byte for byte); the ordered policy never builds it (a mount no
 * longer pays for a seeded generator it does not use).
 */
import { StreamTree } from '../../core/streams';
import { PmemDevice } from '../../device/device';
import { pmemApi } from '../../device/pmem-api';
import { defaultPmemApi } from '../../fs/mount';
import { CommitWrites, writePolicy } from '../../fs/policy';

function setup(): { device: PmemDevice; api: ReturnType<typeof pmemApi> } {
  const device = new PmemDevice({ sizeBytes: 1 << 20, trace: false });
  return { device, api: pmemApi(defaultPmemApi(device), device) };
}

/** A commit of `n` log writes, each recording its index in `order`. */
function commit(n: number, order: number[]): CommitWrites {
  const log = Array.from({ length: n }, (_, i) => () => { order.push(i); });
  return { dataFlushes: [], log, commitBlock: () => { order.push(-1); } };
}

describe('the policy stream', () => {
  it('unordered: a factory is called once, on the first draw, and issues as the stream would', () => {
    const streams = StreamTree.of('policy-stream');
    let built = 0;
    const lazy = writePolicy('unordered', { ...setup(), flushHint: false, rng: () => { built++; return streams.policy(); } });
    const eager = writePolicy('unordered', { ...setup(), flushHint: false, rng: streams.policy() });
    expect(built).toBe(0);
    for (let round = 0; round < 5; round++) {
      const a: number[] = [];
      const b: number[] = [];
      lazy.commit(commit(8, a));
      eager.commit(commit(8, b));
      expect(a).toEqual(b);
      expect(a.slice().sort((x, y) => x - y)).toEqual([-1, 0, 1, 2, 3, 4, 5, 6, 7]);
    }
    expect(built).toBe(1);
  });

  it('ordered: never builds the stream', () => {
    const policy = writePolicy('ordered', { ...setup(), flushHint: false, rng: () => { throw new Error('built a stream'); } });
    const order: number[] = [];
    policy.commit(commit(4, order));
    policy.checkpoint({ homes: [() => order.push(10)], moveTail: () => order.push(11) });
    policy.syncEnd(false);
    expect(order).toEqual([0, 1, 2, 3, -1, 10, 11]);
  });
});
