// Assertions that stay on in every build.
//
// Owns: the AssertionFailure type, which always means a bug in our code (STYLE.md convention
// 4), never bad input from a user or a fault on the simulated device. Operating errors are
// Node-style errors (errors.ts); checker findings are typed values.
//
// Invariants: nothing here is compiled out or gated by an environment flag, because a check
// that runs only in development cannot catch the run that matters. Messages may be passed as
// a function so that hot paths pay for building the text only when the check fails.

export class AssertionFailure extends Error {
  override name = 'AssertionFailure';
}

export function assert(condition: unknown, message?: string | (() => string)): asserts condition {
  if (condition) return;
  const text = typeof message === 'function' ? message() : (message ?? 'assertion failed');
  const failure = new AssertionFailure(text);
  // Point the stack at the caller's broken expectation, not at this helper.
  Error.captureStackTrace(failure, assert);
  throw failure;
}

/** For the default branch of an exhaustive switch: the type checker proves it unreachable. */
export function unreachable(value: never, message?: string): never {
  const failure = new AssertionFailure(message ?? `unreachable: got ${describe(value)}`);
  Error.captureStackTrace(failure, unreachable);
  throw failure;
}

/**
 * Asserts that `value` is a safe integer in [min, max]. Bounds default to the safe-integer
 * range, beyond which arithmetic on numbers silently rounds addresses and sizes.
 */
export function assertInteger(
  value: number,
  what: string,
  min: number = Number.MIN_SAFE_INTEGER,
  max: number = Number.MAX_SAFE_INTEGER,
): void {
  if (Number.isSafeInteger(value) && value >= min && value <= max) return;
  const failure = new AssertionFailure(
    `${what} must be a safe integer in [${min}, ${max}], got ${describe(value)}`,
  );
  Error.captureStackTrace(failure, assertInteger);
  throw failure;
}

// Values reaching these helpers are by definition unexpected, so formatting must not throw
// (JSON.stringify throws on bigint and cycles).
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}
