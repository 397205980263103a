/**
 * The zlib side of permessage-deflate (RFC 7692 §7): per-connection compressors and decompressors on
 * Node's asynchronous zlib streams (the only kind that keeps a context between messages), a process-wide
 * limit on concurrent zlib jobs, and inflation that stops as soon as a message grows past the limit.
 */
import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  type DeflateRaw,
  type InflateRaw,
} from 'node:zlib';
import { CloseCode, ProtocolError } from '../protocol/errors.js';
import type { DeflateParams } from '../protocol/deflate-params.js';

/** Tuning of the compressor, with defaults. */
export interface DeflateTuning {
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib compression level 0–9. Default 6 (zlib's default). */
  level?: number;
  /** zlib memory level 1–9 (memory against speed). Default 8. */
  memLevel?: number;
}

export const DEFLATE_DEFAULTS = { threshold: 1024, level: 6, memLevel: 8, concurrency: 10 } as const;

/** The empty stored block that ends every flushed message; removed on send, added back on receive. */
const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Limits how many zlib jobs run at once across the process: each holds a thread-pool thread and its own
 * buffers, and a burst from many connections must not starve the pool (DNS, files) or memory.
 */
export class JobLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Runs `job` when a slot is free; the job calls `done` exactly once when finished. */
  run(job: (done: () => void) => void): void {
    if (this.running < this.limit) this.start(job);
    else this.waiting.push(() => this.start(job));
  }

  private start(job: (done: () => void) => void): void {
    this.running++;
    let finished = false;
    job(() => {
      if (finished) return;
      finished = true;
      this.running--;
      this.waiting.shift()?.();
    });
  }
}

/** The process-wide limiter shared by every connection. */
export const zlibJobs = new JobLimiter(DEFLATE_DEFAULTS.concurrency);

type Callback = (error: ProtocolError | null, data?: Buffer) => void;

/**
 * One connection's permessage-deflate state. Calls are served in order (one job at a time per
 * direction), so callbacks come back in the order the messages went in.
 */
export class MessageDeflate {
  readonly threshold: number;
  private readonly ownBits: number;
  private readonly ownNoContext: boolean;
  private readonly peerNoContext: boolean;
  private readonly level: number;
  private readonly memLevel: number;
  private deflater: DeflateRaw | undefined;
  private inflater: InflateRaw | undefined;
  private readonly compressQueue: [Buffer, Callback][] = [];
  private readonly inflateQueue: [Buffer, Callback][] = [];
  private compressing = false;
  private inflating = false;
  private closed = false;

  /** Checks tuning and window options once, when a server or client is made (RangeError if off). */
  static validate(
    options: DeflateTuning & { serverMaxWindowBits?: number; clientMaxWindowBits?: number },
  ): void {
    const check = (name: string, value: number | undefined, min: number, max: number): void => {
      if (value !== undefined && (!Number.isInteger(value) || value < min || value > max))
        throw new RangeError(
          `perMessageDeflate.${name} must be an integer from ${min} to ${max}, got ${value}`,
        );
    };
    check('serverMaxWindowBits', options.serverMaxWindowBits, 9, 15);
    check('clientMaxWindowBits', options.clientMaxWindowBits, 9, 15);
    check('level', options.level, 0, 9);
    check('memLevel', options.memLevel, 1, 9);
    check('threshold', options.threshold, 0, Number.MAX_SAFE_INTEGER);
  }

  constructor(
    readonly params: DeflateParams,
    role: 'server' | 'client',
    tuning: DeflateTuning,
    private readonly maxMessageSize: number,
  ) {
    const server = role === 'server';
    this.ownBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    this.ownNoContext = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.peerNoContext = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.threshold = tuning.threshold ?? DEFLATE_DEFAULTS.threshold;
    this.level = tuning.level ?? DEFLATE_DEFAULTS.level;
    this.memLevel = tuning.memLevel ?? DEFLATE_DEFAULTS.memLevel;
  }

  /** True when this side compresses each message from a fresh context (frames can be shared). */
  get statelessCompression(): boolean {
    return this.ownNoContext;
  }

  /** A key equal for connections whose compressed frames are interchangeable (stateless, same window). */
  get sharingKey(): string | undefined {
    return this.ownNoContext ? `${this.ownBits}/${this.level}/${this.memLevel}` : undefined;
  }

  /**
   * Compresses one message synchronously from a fresh context (only valid when this side keeps no
   * context): a broadcast compressed once for every receiver with the same `sharingKey`.
   */
  compressOnce(data: Uint8Array): Buffer {
    return compressStateless(data, this.ownBits, this.level, this.memLevel);
  }

  /** Compresses one message (payload without the trailer, ready for an RSV1 frame). */
  compress(data: Buffer, callback: Callback): void {
    this.compressQueue.push([data, callback]);
    if (!this.compressing) this.nextCompress();
  }

  /** Inflates one received message; past `maxMessageSize` it fails with 1009, bad data with 1007. */
  decompress(data: Buffer, callback: Callback): void {
    this.inflateQueue.push([data, callback]);
    if (!this.inflating) this.nextInflate();
  }

  /** Frees the zlib state (on connection close). Pending callbacks are not called. */
  close(): void {
    this.closed = true;
    this.compressQueue.length = 0;
    this.inflateQueue.length = 0;
    this.deflater?.close();
    this.inflater?.close();
    this.deflater = undefined;
    this.inflater = undefined;
  }

  private nextCompress(): void {
    const item = this.compressQueue.shift();
    if (!item || this.closed) {
      this.compressing = false;
      return;
    }
    this.compressing = true;
    const [data, callback] = item;
    zlibJobs.run((done) => {
      if (this.closed) return done();
      const deflater = (this.deflater ??= createDeflateRaw({
        windowBits: this.ownBits,
        level: this.level,
        memLevel: this.memLevel,
      }));
      const chunks: Buffer[] = [];
      let length = 0;
      const onData = (chunk: Buffer): void => {
        chunks.push(chunk);
        length += chunk.length;
      };
      deflater.on('data', onData);
      deflater.write(data);
      deflater.flush(constants.Z_SYNC_FLUSH, () => {
        deflater.removeListener('data', onData);
        done();
        if (this.closed) return;
        const out = Buffer.concat(chunks, length);
        if (this.ownNoContext) deflater.reset();
        callback(null, endsWithTrailer(out) ? out.subarray(0, out.length - 4) : out);
        this.nextCompress();
      });
    });
  }

  private nextInflate(): void {
    const item = this.inflateQueue.shift();
    if (!item || this.closed) {
      this.inflating = false;
      return;
    }
    this.inflating = true;
    const [data, callback] = item;
    zlibJobs.run((done) => {
      if (this.closed) return done();
      const inflater = (this.inflater ??= createInflateRaw({
        // Inflating with the largest window is always correct whatever the peer compressed with (a
        // smaller window only saves memory), so a peer that misstates its window cannot break decoding.
        windowBits: 15,
      }));
      const chunks: Buffer[] = [];
      let length = 0;
      let failed = false;
      const cleanup = (): void => {
        inflater.removeListener('data', onData);
        inflater.removeListener('error', onError);
      };
      const abort = (error: ProtocolError): void => {
        if (failed) return;
        failed = true;
        cleanup();
        // The stream's state is now unknown: drop it; the connection is being failed anyway.
        inflater.close();
        this.inflater = undefined;
        done();
        if (!this.closed) callback(error);
      };
      const onData = (chunk: Buffer): void => {
        length += chunk.length;
        if (length > this.maxMessageSize) {
          abort(
            new ProtocolError(`inflated message over ${this.maxMessageSize} bytes`, CloseCode.MessageTooBig),
          );
          return;
        }
        chunks.push(chunk);
      };
      const onError = (error: Error): void =>
        abort(new ProtocolError(`invalid compressed data: ${error.message}`, CloseCode.InvalidPayload));
      inflater.on('data', onData);
      inflater.on('error', onError);
      inflater.write(data);
      inflater.write(TRAILER);
      inflater.flush(() => {
        if (failed) return;
        cleanup();
        done();
        if (this.closed) return;
        // A message ending its DEFLATE stream (BFINAL, RFC 7692 §7.2.3.3) ends the zlib stream too, which
        // would swallow later messages silently: the next message starts a fresh stream.
        if (inflater.readableEnded) {
          inflater.close();
          this.inflater = undefined;
        } else if (this.peerNoContext) inflater.reset();
        callback(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
        this.nextInflate();
      });
    });
  }
}

function endsWithTrailer(data: Buffer): boolean {
  const n = data.length;
  return n >= 4 && data[n - 4] === 0 && data[n - 3] === 0 && data[n - 2] === 0xff && data[n - 1] === 0xff;
}

/**
 * Compresses one message from a fresh context, synchronously: used to compress a broadcast once for
 * every receiver whose compressor keeps no context between messages.
 */
export function compressStateless(
  data: Uint8Array,
  windowBits: number,
  level: number,
  memLevel: number,
): Buffer {
  const out = deflateRawSync(data, { windowBits, level, memLevel, finishFlush: constants.Z_SYNC_FLUSH });
  return endsWithTrailer(out) ? out.subarray(0, out.length - 4) : out;
}
