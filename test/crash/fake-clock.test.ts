/**
 * The simulated clock a package under test sees: timers fire in (due, arming) order, only when
 * the clock is moved; `settle` fires them when the operation is otherwise idle, and gives up,
 * saying why, on an operation nothing will end; `Date` reads the clock.
 */
import { FAKE_EPOCH_MS, FakeClock, MAX_FIRINGS } from '../../crash/fake-clock';

describe('FakeClock', () => {
  test('timers fire by due time, then in the order they were armed; the clock jumps to each', async () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now() - FAKE_EPOCH_MS}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now() - FAKE_EPOCH_MS}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now() - FAKE_EPOCH_MS}`), 20);
    const cleared = clock.setTimeout(() => fired.push('never'), 5);
    clock.clearTimeout(cleared);
    expect(clock.pending()).toBe(3);
    await clock.advance(15);
    expect(fired).toEqual(['a@10']);
    expect(clock.now()).toBe(FAKE_EPOCH_MS + 15);
    await clock.advance(100);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(clock.pending()).toBe(0);
  });

  test('an interval re-arms after each firing; refresh moves a timer; numbers clear as objects do', async () => {
    const clock = new FakeClock();
    let ticks = 0;
    const interval = clock.setInterval(() => ticks++, 100);
    await clock.advance(350);
    expect(ticks).toBe(3);
    clock.clearInterval(Number(interval));
    await clock.advance(1000);
    expect(ticks).toBe(3);
    const fired: number[] = [];
    const t = clock.setTimeout(() => fired.push(clock.now() - FAKE_EPOCH_MS), 100);
    await clock.advance(60);
    t.refresh();
    await clock.advance(99);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([1350 + 60 + 100]);
  });

  test('settle runs a pending operation to its end by firing its timers when nothing else moves', async () => {
    const clock = new FakeClock();
    const order: string[] = [];
    const op = (async () => {
      order.push('start');
      await new Promise((resolve) => clock.setTimeout(resolve, 5000));
      order.push(`after 5 s: ${clock.now() - FAKE_EPOCH_MS}`);
      await new Promise((resolve) => setImmediate(resolve)); // host immediates run, not timers
      await new Promise((resolve) => clock.setTimeout(resolve, 1));
      return 'done';
    })();
    await expect(clock.settle(op)).resolves.toBe('done');
    expect(order).toEqual(['start', 'after 5 s: 5000']);
    expect(clock.fired).toBe(2);
  });

  test('settle rejects as the operation does, and gives up on one that waits on nothing it drives', async () => {
    const clock = new FakeClock();
    await expect(clock.settle(Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(clock.settle(new Promise(() => undefined))).rejects.toThrow(/neither settled nor left a timer/);
  });

  test('settle stops an operation that re-arms timers forever', async () => {
    const clock = new FakeClock();
    clock.setInterval(() => undefined, 1);
    await expect(clock.settle(new Promise(() => undefined))).rejects.toThrow(`fired ${MAX_FIRINGS} timers`);
  });

  test('whileBusy keeps settle from firing timers while real work is in progress', async () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(1), 10);
    const op = clock.whileBusy(new Promise<string>((resolve) => setTimeout(() => resolve('loaded'), 30)));
    await expect(clock.settle(op)).resolves.toBe('loaded');
    expect(fired).toEqual([]);
  });

  test('Date reads the clock when built without arguments; with arguments it is the host Date', async () => {
    const clock = new FakeClock();
    const SimDate = clock.dateClass();
    expect(SimDate.now()).toBe(FAKE_EPOCH_MS);
    await clock.advance(1234);
    expect(new SimDate().getTime()).toBe(FAKE_EPOCH_MS + 1234);
    expect(new SimDate(0).toISOString()).toBe('1970-01-01T00:00:00.000Z');
    expect(new SimDate() instanceof Date).toBe(true);
  });
});

describe('FakeClock, host-like edges', () => {
  test("an operation left with only unref'd timers is reported, not fired forever", async () => {
    const clock = new FakeClock();
    clock.setInterval(() => undefined, 10).unref();
    await expect(clock.settle(new Promise(() => undefined))).rejects.toThrow(/only unref'd timers are left/);
  });

  test('delays coerce as Node\'s do; Date() without new is a string; host Dates are Dates', async () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now() - FAKE_EPOCH_MS), '100' as unknown as number);
    await clock.advance(1000);
    expect(fired).toEqual([100]);
    const SimDate = clock.dateClass();
    expect(typeof (SimDate as unknown as () => string)()).toBe('string');
    expect(new Date(0) instanceof SimDate).toBe(true);
  });
});
