/**
 * Named pipes (FIFOs) without blocking the event loop or a thread-pool thread.
 *
 * - The input FIFO is opened read-only and non-blocking: opening never waits for a writer. Each
 *   descriptor is wrapped in a `net.Socket`, so reads are driven by the event loop (epoll), not by
 *   blocking reads in the thread pool. A writer closing ends only that writer's last line: the FIFO is
 *   opened again and reading goes on, with the strict-record reader keeping its place.
 * - The output FIFO is opened write-only and non-blocking, which fails at once (ENXIO) while no reader is
 *   attached: the writer then queues what it must send (bounded) and tries again; a reader that goes away
 *   shows up as EPIPE, and the next one gets what is sent from then on, starting at a record boundary.
 */
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, constants, lstatSync, openSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';

/** Creates the FIFO if missing. An existing path that is not a FIFO is an error, never reused. */
export function ensureFifo(path: string): void {
  let isFifo: boolean;
  try {
    isFifo = lstatSync(path).isFIFO();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    try {
      execFileSync('mkfifo', [path], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (mkfifoError) {
      const detail = (mkfifoError as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`cannot create FIFO ${path}: ${detail || (mkfifoError as Error).message}`);
    }
    return;
  }
  if (!isFifo) throw new Error(`${path} exists and is not a FIFO`);
}

/** Removes a FIFO at shutdown; a path that is gone or not a FIFO is left alone. */
export function removeFifo(path: string): void {
  try {
    if (lstatSync(path).isFIFO()) unlinkSync(path);
  } catch {
    // already gone
  }
}

/**
 * The input FIFO as an endless source. It is opened read-only and non-blocking, so opening never waits
 * for a writer; when the last writer closes, the read end sees end-of-file, reports `writer-closed` (so
 * a last line without a newline is delivered, as gwsocket's man-page example needs) and opens the FIFO
 * again. Linux reports no hang-up to a reader that has not yet seen a writer, so this does not spin.
 * Events: `data` (Buffer), `writer-closed`, `error`.
 */
export class FifoReader extends EventEmitter {
  private socket: Socket | undefined;
  private closed = false;

  constructor(readonly path: string) {
    super();
    this.open();
  }

  private open(): void {
    const fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    const socket = new Socket({ fd, readable: true, writable: false });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.emit('data', chunk));
    socket.on('end', () => {
      if (this.closed) return socket.destroy();
      this.emit('writer-closed');
      // Open the next descriptor before closing this one: a writer that opens, writes and closes while
      // no read end is open loses its data (the kernel frees the pipe's buffer), e.g. `printf > fifo` in a loop.
      try {
        this.open();
      } catch (error) {
        this.emit('error', error);
      }
      socket.destroy();
    });
    socket.on('error', (error) => this.emit('error', error));
  }

  destroy(): void {
    this.closed = true;
    this.socket?.destroy();
  }
}

/**
 * Where client data goes: a FIFO, stdout, or any writable. `write()` answers like `stream.write()`
 * (false: over the high-water mark, a `drain` event follows) so the hub can pause clients.
 */
export interface OutputSink extends EventEmitter {
  /** Writes `head` then `tail` (if given) as one unit. False: slow down until `drain`. */
  write(head: Buffer, tail?: Buffer): boolean;
  /** True while a reader is attached (always true for a plain stream until it fails). */
  readonly connected: boolean;
  /** What could not be delivered. */
  readonly losses: SinkLosses;
  close(): void;
}

/** Counts of what an output sink could not deliver. */
export interface SinkLosses {
  /** Records dropped because no reader was attached and the queue was full. */
  droppedRecords: number;
  /** Bytes that were in flight when a reader went away. */
  lostInFlight: number;
}

/**
 * The output FIFO. While no reader is attached, records are queued up to `queueLimit` bytes and the
 * open is retried every `retryMs`; past the limit new records are dropped and counted (`lost` event).
 */
export class FifoWriter extends EventEmitter implements OutputSink {
  private socket: Socket | undefined;
  private queue: Buffer[] = [];
  private queued = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly losses: SinkLosses = { droppedRecords: 0, lostInFlight: 0 };

  constructor(
    readonly path: string,
    private readonly queueLimit: number,
    private readonly retryMs = 200,
  ) {
    super();
    this.tryOpen();
  }

  get connected(): boolean {
    return this.socket !== undefined;
  }

  write(head: Buffer, tail?: Buffer): boolean {
    if (this.closed) return true;
    const socket = this.socket;
    if (socket) {
      if (tail === undefined) return socket.write(head);
      socket.cork();
      socket.write(head);
      const ok = socket.write(tail);
      socket.uncork();
      return ok;
    }
    const size = head.length + (tail?.length ?? 0);
    if (this.queued + size > this.queueLimit) {
      this.losses.droppedRecords++;
      this.emit('lost', 'record dropped: no reader on the output pipe and its queue is full');
      return true;
    }
    this.queue.push(tail === undefined ? head : Buffer.concat([head, tail]));
    this.queued += size;
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.destroy();
    this.socket = undefined;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.tryOpen();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  private tryOpen(): void {
    if (this.closed || this.socket) return;
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENXIO') {
        // No reader yet: look again soon, so a reader that attaches early is noticed (an ENXIO open is cheap).
        this.scheduleRetry();
        return;
      }
      this.emit('lost', `cannot open output pipe ${this.path}: ${code ?? (error as Error).message}`);
      this.scheduleRetry();
      return;
    }
    let socket: Socket;
    try {
      socket = new Socket({ fd, readable: false, writable: true });
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    this.socket = socket;
    socket.on('drain', () => this.emit('drain'));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      const inFlight = socket.writableLength;
      this.losses.lostInFlight += inFlight;
      socket.destroy();
      this.emit(
        'lost',
        `output pipe reader went away (${error.code ?? error.message})` +
          (inFlight ? `; ${inFlight} bytes in flight lost` : ''),
      );
      this.emit('drain'); // whoever waited for the old reader may go on: data now queues
      this.scheduleRetry();
    });
    this.emit('reader');
    const queue = this.queue;
    this.queue = [];
    this.queued = 0;
    let ok = true;
    for (const record of queue) ok = socket.write(record);
    if (ok) this.emit('drain');
  }
}

/** stdout (or any writable) as an output sink. After it fails, writes are dropped and counted. */
export class StreamSink extends EventEmitter implements OutputSink {
  private failed = false;
  readonly losses: SinkLosses = { droppedRecords: 0, lostInFlight: 0 };

  constructor(private readonly stream: Writable) {
    super();
    stream.on('drain', () => this.emit('drain'));
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (this.failed) return;
      this.failed = true;
      this.losses.lostInFlight += stream.writableLength;
      this.emit(
        'lost',
        `output stream failed (${error.code ?? error.message}); client data is dropped from now on`,
      );
      this.emit('drain');
    });
  }

  get connected(): boolean {
    return !this.failed;
  }

  write(head: Buffer, tail?: Buffer): boolean {
    if (this.failed) {
      this.losses.droppedRecords++;
      return true;
    }
    if (tail === undefined) return this.stream.write(head);
    this.stream.cork();
    this.stream.write(head);
    const ok = this.stream.write(tail);
    this.stream.uncork();
    return ok;
  }

  close(): void {
    // stdout is not ours to close
  }
}
