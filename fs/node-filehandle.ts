/**
 * Node's fs/promises FileHandle over a sync core: what `promises.open()` resolves to. Every
 * method is one or more of the core's sync calls (so a crashTest recording sees them), run
 * when the method is called and reported through the promise: deterministic, no timers.
 *
 * Invariants: `fd` is the core's descriptor until close, -1 after (a second close resolves,
 * as Node's does; any other method then fails with the core's EBADF). readFile and writeFile
 * work from the descriptor's current offset, as Node's FileHandle methods do.
 *
 * utimes is the core's futimes when the core has one (our file system does; a core without it
 * rejects with ENOSYS, naming the call).
 *
 * Not offered: chmod, chown (the core has no fchmod or fchown), readv, writev, readLines,
 * createReadStream, createWriteStream, and the 'close' event.
 */
import type { StatLike } from '../core/sync-fs';

/** The sync calls a FileHandle is built from. */
export interface FileHandleCore {
  closeSync(fd: number): void;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number | null): number;
  fstatSync(fd: number): StatLike;
  fsyncSync(fd: number): void;
  fdatasyncSync(fd: number): void;
  ftruncateSync(fd: number, len?: number): void;
  futimesSync?(fd: number, atime: number | string | Date, mtime: number | string | Date): void;
}

export interface HandleReadOptions {
  readonly buffer?: Uint8Array;
  readonly offset?: number;
  readonly length?: number;
  readonly position?: number | null;
}

type Encoded = { readonly encoding?: BufferEncoding | null } | BufferEncoding | null | undefined;

/** Node's default buffer for a read without one. */
const DEFAULT_READ_BYTES = 16 * 1024;
const READ_FILE_CHUNK_BYTES = 64 * 1024;

export class FileHandle {
  private descriptor: number;

  constructor(private readonly core: FileHandleCore, fd: number) {
    this.descriptor = fd;
    const asyncDispose = (Symbol as { asyncDispose?: symbol }).asyncDispose;
    if (asyncDispose !== undefined) Object.defineProperty(this, asyncDispose, { value: () => this.close(), enumerable: false });
  }

  get fd(): number {
    return this.descriptor;
  }

  async read(
    bufferOrOptions?: Uint8Array | HandleReadOptions,
    offset?: number,
    length?: number,
    position?: number | null,
  ): Promise<{ bytesRead: number; buffer: Uint8Array }> {
    const o: HandleReadOptions = bufferOrOptions instanceof Uint8Array ? { buffer: bufferOrOptions, offset, length, position } : bufferOrOptions ?? {};
    const buffer = o.buffer ?? Buffer.alloc(DEFAULT_READ_BYTES);
    const at = o.offset ?? 0;
    const bytesRead = this.core.readSync(this.descriptor, buffer, at, o.length ?? buffer.byteLength - at, o.position ?? null);
    return { bytesRead, buffer };
  }

  /** write(buffer, offset?, length?, position?) or write(string, position?, encoding?), as Node. */
  async write<T extends Uint8Array | string>(
    data: T,
    offsetOrPosition?: number | null,
    lengthOrEncoding?: number | BufferEncoding,
    position?: number | null,
  ): Promise<{ bytesWritten: number; buffer: T }> {
    if (typeof data === 'string') {
      const bytes = Buffer.from(data, typeof lengthOrEncoding === 'string' ? lengthOrEncoding : 'utf8');
      const bytesWritten = this.core.writeSync(this.descriptor, bytes, 0, bytes.length, offsetOrPosition ?? null);
      return { bytesWritten, buffer: data };
    }
    const offset = offsetOrPosition ?? 0;
    const length = typeof lengthOrEncoding === 'number' ? lengthOrEncoding : data.byteLength - offset;
    const bytesWritten = this.core.writeSync(this.descriptor, data, offset, length, position ?? null);
    return { bytesWritten, buffer: data };
  }

  /** From the current offset to the end of the file. */
  async readFile(options?: Encoded): Promise<Buffer | string> {
    const encoding = typeof options === 'string' ? options : options?.encoding ?? undefined;
    const chunks: Buffer[] = [];
    for (;;) {
      const chunk = Buffer.alloc(READ_FILE_CHUNK_BYTES);
      const n = this.core.readSync(this.descriptor, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
    }
    const bytes = Buffer.concat(chunks);
    return encoding ? bytes.toString(encoding) : bytes;
  }

  /** At the current offset (not from the start), as Node's FileHandle.writeFile. */
  async writeFile(data: Uint8Array | string, options?: Encoded): Promise<void> {
    const encoding = (typeof options === 'string' ? options : options?.encoding) ?? 'utf8';
    const bytes = typeof data === 'string' ? Buffer.from(data, encoding) : data;
    for (let done = 0; done < bytes.byteLength;) done += this.core.writeSync(this.descriptor, bytes, done, bytes.byteLength - done, null);
  }

  appendFile(data: Uint8Array | string, options?: Encoded): Promise<void> {
    return this.writeFile(data, options);
  }

  async stat(): Promise<StatLike> {
    return this.core.fstatSync(this.descriptor);
  }

  async truncate(len = 0): Promise<void> {
    this.core.ftruncateSync(this.descriptor, len);
  }

  /** As Node's FileHandle.utimes: the times as futimes takes them (seconds, a numeric string, or a Date). */
  async utimes(atime: number | string | Date, mtime: number | string | Date): Promise<void> {
    if (this.core.futimesSync === undefined) {
      throw Object.assign(new Error('FileHandle.utimes is not available: the core has no futimesSync (ENOSYS)'), { code: 'ENOSYS', syscall: 'futime' });
    }
    this.core.futimesSync(this.descriptor, atime, mtime);
  }

  async sync(): Promise<void> {
    this.core.fsyncSync(this.descriptor);
  }

  async datasync(): Promise<void> {
    this.core.fdatasyncSync(this.descriptor);
  }

  async close(): Promise<void> {
    if (this.descriptor === -1) return;
    const fd = this.descriptor;
    this.descriptor = -1;
    this.core.closeSync(fd);
  }
}
