/**
 * The clock a package under test sees: `setTimeout`, `setInterval`, their clears, `Date` and
 * `node:timers/promises`' `setTimeout`, all on simulated milliseconds that move only when the
 * runner moves them. A package's retry delay, debounce or expiry sweep then fires at the same
 * point of its run every time, whatever the host's speed, and a crash test of it is
 * deterministic.
 *
 * Owns: the timer queue (due time, then arming order) and simulated time. `settle` drives an
 * operation to its end: it lets the event loop run (microtasks, nextTicks and immediates are
 * real: they carry no time), and when the operation is still pending after two turns and no
 * work registered with `whileBusy` (a module load) is in flight, fires the earliest timer,
 * moving the clock to its due time. `advance(ms)` fires every timer due within `ms` the same
 * way. Other real asynchronous work (the thread pool: zlib, crypto.pbkdf2) is not seen: a
 * timer may fire before it ends.
 *
 * Invariants: time never goes back; timers fire in (due, arming) order, one at a time, with
 * the event loop run between two; nothing here reads the wall clock (the start is a constant).
 *
 * Fault model: an operation that waits on something no timer will end (a real timer the
 * package took from elsewhere, a watcher, a socket) would hang: `settle` gives up after a
 * bounded number of idle turns and says so; one left with only unref'd timers is stopped
 * after UNREF_FIRINGS of them; a package that keeps re-arming timers forever is stopped after
 * MAX_FIRINGS.
 */

import { SIMULATED_EPOCH_SECONDS } from '../fs/operation';

/**
 * Simulated time starts where the file system's clock does (fs/operation.ts, 2023-11-14),
 * so a package comparing Date.now() with a file's mtime sees a file written now as new. The
 * two then move apart: the file system's clock ticks a second per call, this one only by the
 * timers it fires.
 */
export const FAKE_EPOCH_MS = SIMULATED_EPOCH_SECONDS * 1000;
/** Firings of unref'd timers alone (no ref'd one left) before `settle` says the operation waits on nothing. */
const UNREF_FIRINGS = 1000;
/** Event-loop turns with nothing to fire before `settle` gives up on a pending operation. */
const IDLE_TURNS = 50;
/** Timer firings in one `settle` or `advance` before it stops a run that never ends. */
export const MAX_FIRINGS = 100_000;
/** Node's bound on a delay; larger or invalid delays become 1 ms, as in Node. */
const TIMEOUT_MAX = 2 ** 31 - 1;

/** What `setTimeout` returns: Node's Timeout surface, enough for the code that keeps one. */
export class FakeTimer {
  private referenced = true;
  constructor(
    private readonly clock: FakeClock,
    readonly id: number,
    readonly callback: (...args: unknown[]) => void,
    readonly args: readonly unknown[],
    readonly delay: number,
    readonly repeat: boolean,
    public due: number,
    /** When it was last armed, among all timers of the clock: breaks ties of `due`. */
    public armed: number,
  ) {}

  ref(): this {
    this.referenced = true;
    return this;
  }

  unref(): this {
    this.referenced = false;
    return this;
  }

  hasRef(): boolean {
    return this.referenced;
  }

  /** Re-arms the timer for its delay from now, as Node's `refresh` does. */
  refresh(): this {
    this.clock.rearm(this);
    return this;
  }

  close(): this {
    this.clock.clear(this);
    return this;
  }

  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

export class FakeClock {
  private nowMs: number;
  private nextId = 1;
  private arming = 0;
  private readonly timers = new Map<number, FakeTimer>();
  /** Timers fired since the clock was made. */
  fired = 0;
  /** Real asynchronous work in progress (a module load): no timer fires and no turn counts as idle meanwhile. */
  private readonly busy = new Set<Promise<unknown>>();

  constructor(startMs: number = FAKE_EPOCH_MS) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  /** Timers armed and not yet fired or cleared. */
  pending(): number {
    return this.timers.size;
  }

  setTimeout = (callback: (...args: unknown[]) => void, delay?: unknown, ...args: unknown[]): FakeTimer => this.arm(callback, delay, args, false);

  setInterval = (callback: (...args: unknown[]) => void, delay?: unknown, ...args: unknown[]): FakeTimer => this.arm(callback, delay, args, true);

  clearTimeout = (timer: unknown): void => this.clear(timer);

  clearInterval = (timer: unknown): void => this.clear(timer);

  clear(timer: unknown): void {
    if (timer instanceof FakeTimer) this.timers.delete(timer.id);
    else if (typeof timer === 'number' || typeof timer === 'string') this.timers.delete(Number(timer));
  }

  rearm(timer: FakeTimer): void {
    timer.due = this.nowMs + timer.delay;
    timer.armed = this.arming++;
    this.timers.set(timer.id, timer);
  }

  /** Whether any armed timer is ref'd (would keep a Node process alive). */
  hasRefTimer(): boolean {
    for (const timer of this.timers.values()) if (timer.hasRef()) return true;
    return false;
  }

  /** Fire the earliest timer, moving the clock to its due time; false when none is armed. */
  fireNext(limitMs = Number.POSITIVE_INFINITY): boolean {
    let next: FakeTimer | undefined;
    for (const timer of this.timers.values()) {
      if (next === undefined || timer.due < next.due || (timer.due === next.due && timer.armed < next.armed)) next = timer;
    }
    if (next === undefined || next.due > limitMs) return false;
    if (next.due > this.nowMs) this.nowMs = next.due;
    if (next.repeat) this.rearm(next);
    else this.timers.delete(next.id);
    this.fired++;
    next.callback(...next.args);
    return true;
  }

  /**
   * Await real asynchronous work (an ES module's load crosses to Node's loader thread) without
   * `settle` taking its wait for idleness.
   */
  async whileBusy<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(() => undefined, () => undefined);
    this.busy.add(settled);
    try {
      return await work;
    } finally {
      this.busy.delete(settled);
    }
  }

  /**
   * Run `operation` to its end: the event loop turns freely; when it is idle and the
   * operation still pending, the earliest timer fires. Rejects as the operation does.
   */
  async settle<T>(operation: Promise<T> | T): Promise<T> {
    let done = false;
    let failed = false;
    let value: T | undefined;
    let error: unknown;
    Promise.resolve(operation).then((v) => { done = true; value = v; }, (e) => { done = true; failed = true; error = e; });
    const firedAtStart = this.fired;
    let idle = 0;
    let unrefOnly = 0;
    for (;;) {
      await turn();
      if (done) break;
      if (this.fired - firedAtStart >= MAX_FIRINGS) throw new Error(`the operation fired ${MAX_FIRINGS} timers without settling: it re-arms timers forever`);
      // Two quiet turns before a timer fires: work the package queued with setImmediate runs first.
      await turn();
      if (done) break;
      if (this.busy.size > 0) {
        await Promise.race(this.busy);
        idle = 0;
        continue;
      }
      // Only unref'd timers left: a Node process would exit rather than wait for them; fire
      // them (the operation may wait on one), but not forever.
      unrefOnly = this.pending() > 0 && !this.hasRefTimer() ? unrefOnly + 1 : 0;
      if (unrefOnly > UNREF_FIRINGS) {
        throw new Error(`the operation did not settle: only unref'd timers are left (fired ${UNREF_FIRINGS} of them), which would not keep a Node process alive`);
      }
      if (this.fireNext()) {
        idle = 0;
        continue;
      }
      if (++idle >= IDLE_TURNS) {
        throw new Error('the operation neither settled nor left a timer to fire: it waits on something the simulation does not drive (a real timer taken from elsewhere, a watcher, a socket)');
      }
    }
    if (failed) throw error;
    return value as T;
  }

  /** Move the clock `ms` forward, firing every timer due by then in order (the loop turns between). */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance: ${ms} is not a duration in milliseconds`);
    const until = this.nowMs + ms;
    let firings = 0;
    await turn();
    while (this.fireNext(until)) {
      if (++firings >= MAX_FIRINGS) throw new Error(`advance(${ms}) fired ${MAX_FIRINGS} timers: they re-arm forever`);
      await turn();
    }
    this.nowMs = until;
    await turn();
  }

  /** A `Date` whose `now()` and argument-less construction read this clock. */
  dateClass(): DateConstructor {
    const clock = this;
    const RealDate = Date;
    class SimulatedDate extends RealDate {
      constructor(...args: unknown[]) {
        if (args.length === 0) super(clock.now());
        else super(...(args as [string]));
      }

      static override now(): number {
        return clock.now();
      }

      /** The host's Dates (a Stats' mtime, say) are Dates here too. */
      static override [Symbol.hasInstance](value: unknown): boolean {
        return value instanceof RealDate;
      }
    }
    // Date() without new is a string of now, as the host's is
    return new Proxy(SimulatedDate, { apply: () => new RealDate(clock.now()).toString() }) as unknown as DateConstructor;
  }

  /** The `timers` module a package imports: these timers, and the host's setImmediate (it carries no time). */
  timersModule(): Record<string, unknown> {
    return {
      setTimeout: this.setTimeout, clearTimeout: this.clearTimeout, setInterval: this.setInterval, clearInterval: this.clearInterval,
      setImmediate, clearImmediate, promises: this.timersPromises(),
    };
  }

  /** `timers/promises`: `setTimeout(ms, value)` on this clock; `setImmediate` the host's. */
  timersPromises(): Record<string, unknown> {
    return {
      setTimeout: (delay?: unknown, value?: unknown) => new Promise((resolve) => this.setTimeout(() => resolve(value), delay)),
      setImmediate: (value?: unknown) => new Promise((resolve) => setImmediate(() => resolve(value))),
    };
  }

  private arm(callback: (...args: unknown[]) => void, delay: unknown, args: unknown[], repeat: boolean): FakeTimer {
    if (typeof callback !== 'function') {
      throw Object.assign(new TypeError('The "callback" argument must be of type function'), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    const asked = Number(delay); // Node coerces the delay ('100' is 100 ms)
    const ms = asked >= 1 && asked <= TIMEOUT_MAX ? Math.trunc(asked) : 1;
    const timer = new FakeTimer(this, this.nextId++, callback, args, ms, repeat, this.nowMs + ms, this.arming++);
    this.timers.set(timer.id, timer);
    return timer;
  }
}

/** One turn of the host's event loop: every microtask and nextTick queued before it has run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
