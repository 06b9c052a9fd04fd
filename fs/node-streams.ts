/**
 * Node's fs.ReadStream and fs.WriteStream, as `node:stream` Readable and Writable subclasses
 * over the callback forms of an fs object (`options.fs`), as Node 20's are: open in
 * `_construct` ('open' then 'ready' once the descriptor is there), reads of at most
 * highWaterMark bytes at `pos` up to the inclusive `end`, writes at `pos` when `start` was
 * given (else at the descriptor's offset), and on destroy an fsync first when `flush` is set,
 * then the close (the stream's 'close' event follows). `autoClose: false` keeps the descriptor
 * open at the end (no automatic destroy), as in Node.
 *
 * Invariants: every byte goes through `options.fs`'s open, read, write, fsync and close, so
 * a facade over a recorded core sees each call. The descriptor is never closed while a read
 * or write is in flight: destroy waits for it. Nothing here reads the clock or sets a timer;
 * the callbacks' own order (microtasks in nodeFsModule) decides everything.
 *
 * Not offered: a FileHandle as `fd`, `_writev` (each chunk is one write call), URL or Buffer
 * paths, `signal`.
 */
import { Readable, Writable, finished } from 'node:stream';

type Callback<T = void> = (err: Error | null, value?: T) => void;

/** The callback calls the streams are built from. */
export interface StreamFs {
  open(path: string, flags: string | number, mode: number, cb: (err: Error | null, fd?: number) => void): void;
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null, cb: (err: Error | null, bytesRead?: number) => void): void;
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null, cb: (err: Error | null, bytesWritten?: number) => void): void;
  fsync(fd: number, cb: (err: Error | null) => void): void;
  close(fd: number, cb: (err: Error | null) => void): void;
}

export interface ReadStreamOptions {
  readonly flags?: string | number;
  readonly encoding?: BufferEncoding | null;
  readonly fd?: number | null;
  readonly mode?: number;
  readonly autoClose?: boolean;
  readonly emitClose?: boolean;
  readonly start?: number;
  readonly end?: number;
  readonly highWaterMark?: number;
  readonly fs?: StreamFs;
}

export interface WriteStreamOptions {
  readonly flags?: string | number;
  readonly encoding?: BufferEncoding | null;
  readonly fd?: number | null;
  readonly mode?: number;
  readonly autoClose?: boolean;
  readonly emitClose?: boolean;
  readonly start?: number;
  readonly flush?: boolean;
  readonly highWaterMark?: number;
  readonly fs?: StreamFs;
}

const DEFAULT_READ_HIGH_WATER_MARK = 64 * 1024;
/** Node retries a write that wrote nothing at most this many times. */
const MAX_EMPTY_WRITES = 5;

/** What both streams share: the descriptor, its opening, and the close at destroy. */
interface FileStreamState {
  fd: number | null;
  readonly path: string;
  readonly flags: string | number;
  readonly mode: number;
  readonly flush: boolean;
  busy: boolean;
  afterIo: (() => void) | undefined;
}

export class ReadStream extends Readable {
  readonly path: string;
  readonly flags: string | number;
  readonly mode: number;
  readonly start: number | undefined;
  readonly end: number;
  pos: number | undefined;
  bytesRead = 0;
  private readonly io: StreamFs;
  private readonly state: FileStreamState;

  constructor(path: string, options?: ReadStreamOptions | BufferEncoding) {
    const o: ReadStreamOptions = typeof options === 'string' ? { encoding: options } : options ?? {};
    super({
      highWaterMark: o.highWaterMark ?? DEFAULT_READ_HIGH_WATER_MARK,
      encoding: o.encoding ?? undefined,
      emitClose: o.emitClose ?? true,
      autoDestroy: o.autoClose ?? true,
    });
    this.io = requireFs(o.fs);
    this.path = path;
    this.flags = o.flags ?? 'r';
    this.mode = o.mode ?? 0o666;
    this.start = o.start;
    this.end = o.end ?? Infinity;
    if (this.start !== undefined && this.start > this.end) {
      throw rangeError(`The value of "start" is out of range. It must be <= "end" (here: ${this.end}). Received ${this.start}`);
    }
    this.pos = this.start;
    this.state = { fd: o.fd ?? null, path, flags: this.flags, mode: this.mode, flush: false, busy: false, afterIo: undefined };
  }

  get fd(): number | null {
    return this.state.fd;
  }

  get pending(): boolean {
    return this.state.fd === null;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    openFor(this, this.io, this.state, callback);
  }

  override _read(size: number): void {
    const want = Math.min(this.end - (this.pos ?? this.bytesRead) + 1, size);
    if (want <= 0) {
      this.push(null);
      return;
    }
    const buffer = Buffer.alloc(want);
    this.state.busy = true;
    this.io.read(this.state.fd as number, buffer, 0, want, this.pos ?? null, (err, bytesRead = 0) => {
      this.state.busy = false;
      if (this.destroyed) {
        this.state.afterIo?.();
        return;
      }
      if (err) {
        this.destroy(err);
      } else if (bytesRead > 0) {
        if (this.pos !== undefined) this.pos += bytesRead;
        this.bytesRead += bytesRead;
        this.push(bytesRead === buffer.length ? buffer : Buffer.from(buffer.subarray(0, bytesRead)));
      } else {
        this.push(null);
      }
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    closeFor(this.io, this.state, error, callback);
  }

  close(callback?: (err?: Error | null) => void): void {
    if (typeof callback === 'function') finished(this, callback);
    this.destroy();
  }
}

export class WriteStream extends Writable {
  readonly path: string;
  readonly flags: string | number;
  readonly mode: number;
  readonly start: number | undefined;
  pos: number | undefined;
  bytesWritten = 0;
  private readonly io: StreamFs;
  private readonly state: FileStreamState;
  private readonly autoClose: boolean;

  constructor(path: string, options?: WriteStreamOptions | BufferEncoding) {
    const o: WriteStreamOptions = typeof options === 'string' ? { encoding: options } : options ?? {};
    super({
      highWaterMark: o.highWaterMark,
      decodeStrings: true,
      emitClose: o.emitClose ?? true,
      autoDestroy: o.autoClose ?? true,
    });
    if (o.encoding) this.setDefaultEncoding(o.encoding);
    this.io = requireFs(o.fs);
    this.path = path;
    this.flags = o.flags ?? 'w';
    this.mode = o.mode ?? 0o666;
    this.start = o.start;
    this.pos = o.start;
    this.autoClose = o.autoClose ?? true;
    this.state = { fd: o.fd ?? null, path, flags: this.flags, mode: this.mode, flush: o.flush ?? false, busy: false, afterIo: undefined };
  }

  get fd(): number | null {
    return this.state.fd;
  }

  get pending(): boolean {
    return this.state.fd === null;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    openFor(this, this.io, this.state, callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const at = this.pos;
    if (this.pos !== undefined) this.pos += chunk.length;
    this.writeAll(chunk, at, 0, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    closeFor(this.io, this.state, error, callback);
  }

  /** Ends the stream; the callback runs at 'close'. Without autoClose, destroys at 'finish'. */
  close(callback?: (err?: Error | null) => void): void {
    if (callback) {
      if (this.closed) {
        process.nextTick(callback);
        return;
      }
      this.on('close', callback);
    }
    if (!this.autoClose) this.on('finish', () => this.destroy());
    this.end();
  }

  destroySoon(): void {
    this.end();
  }

  private writeAll(data: Buffer, at: number | undefined, emptyWrites: number, callback: Callback): void {
    this.state.busy = true;
    this.io.write(this.state.fd as number, data, 0, data.length, at ?? null, (err, written = 0) => {
      this.state.busy = false;
      if (this.destroyed) this.state.afterIo?.();
      if (err || this.destroyed) {
        callback(err ?? streamDestroyed());
        return;
      }
      this.bytesWritten += written;
      const empty = written === 0 ? emptyWrites + 1 : 0;
      if (empty > MAX_EMPTY_WRITES) callback(new Error('write failed'));
      else if (written < data.length) this.writeAll(data.subarray(written), at === undefined ? undefined : at + written, empty, callback);
      else callback(null);
    });
  }
}

// ---- helpers shared by both streams ----------------------------------------------------------

/** Opens unless a descriptor was given; 'open' and 'ready' follow the construct callback, as in Node. */
function openFor(stream: Readable | Writable, io: StreamFs, state: FileStreamState, callback: (error?: Error | null) => void): void {
  if (typeof state.fd === 'number') {
    callback();
    return;
  }
  io.open(state.path, state.flags, state.mode, (err, fd) => {
    if (err) {
      callback(err);
      return;
    }
    state.fd = fd as number;
    callback();
    stream.emit('open', fd);
    stream.emit('ready');
  });
}

/** At destroy: wait for a read or write in flight, fsync first with `flush`, then close. */
function closeFor(io: StreamFs, state: FileStreamState, error: Error | null, callback: (error?: Error | null) => void): void {
  if (state.busy) {
    state.afterIo = () => {
      state.afterIo = undefined;
      closeFor(io, state, error, callback);
    };
    return;
  }
  const fd = state.fd;
  if (fd === null) {
    callback(error);
    return;
  }
  const closeNow = (flushError: Error | null) => {
    state.fd = null;
    io.close(fd, (closeError) => callback(closeError ?? error ?? flushError));
  };
  if (state.flush) io.fsync(fd, closeNow);
  else closeNow(null);
}

function requireFs(fs: StreamFs | undefined): StreamFs {
  if (fs === undefined) throw new TypeError('a file stream needs options.fs: the fs object whose callback calls it uses');
  return fs;
}

function rangeError(message: string): RangeError {
  const error = new RangeError(message) as RangeError & { code: string };
  error.code = 'ERR_OUT_OF_RANGE';
  return error;
}

function streamDestroyed(): Error {
  const error = new Error('Cannot call write after a stream was destroyed') as Error & { code: string };
  error.code = 'ERR_STREAM_DESTROYED';
  return error;
}
