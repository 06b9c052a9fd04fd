/**
 * The callback and promise forms of the API, as thin layers over the sync core (as memfs
 * does), so code written against Node's `fs` runs unchanged. Each call runs the sync method
 * and reports through a microtask: deterministic order, no timers.
 */
import type { DaxFileSystem } from './filesystem';

/** Sync methods that get a callback form `name(...args, cb)` and `promises.name(...args)`. */
export const ASYNC_FORMS = [
  'open', 'close', 'read', 'write', 'fsync', 'fdatasync', 'ftruncate', 'truncate', 'rename', 'unlink', 'link',
  'symlink', 'readlink', 'mkdir', 'rmdir', 'readdir', 'stat', 'lstat', 'fstat', 'readFile', 'writeFile',
  'appendFile', 'chmod', 'chown', 'utimes', 'realpath',
] as const;
export type AsyncFormName = (typeof ASYNC_FORMS)[number];

type Callback = (err: Error | null, result?: unknown) => void;
export type CallbackForm = (...args: unknown[]) => void;
export type PromiseForm = (...args: unknown[]) => Promise<unknown>;

export interface AsyncApi {
  readonly callbacks: Record<AsyncFormName, CallbackForm>;
  readonly promises: Record<AsyncFormName, PromiseForm>;
}

export function asyncApi(fs: DaxFileSystem): AsyncApi {
  const callbacks = {} as Record<AsyncFormName, CallbackForm>;
  const promises = {} as Record<AsyncFormName, PromiseForm>;
  for (const name of ASYNC_FORMS) {
    const sync = (fs as unknown as Record<string, (...a: unknown[]) => unknown>)[`${name}Sync`].bind(fs);
    callbacks[name] = (...args: unknown[]) => {
      const cb = args.pop();
      if (typeof cb !== 'function') throw new TypeError(`fs.${name}: the last argument must be a callback`);
      let result: unknown;
      let error: Error | null = null;
      try {
        result = sync(...args);
      } catch (err) {
        error = err as Error;
      }
      queueMicrotask(() => (cb as Callback)(error, result));
    };
    promises[name] = async (...args: unknown[]) => sync(...args);
  }
  return { callbacks, promises };
}
