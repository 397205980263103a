/**
 * The set of open connections of one endpoint: lookup by id, count, iteration, and broadcast that
 * encodes a message once and writes the same bytes to every receiver.
 */
import { encodeFrame, headerSize, Opcode, writeHeader } from '../protocol/frame.js';
import type { Connection, ConnectionOwner, PreparedFrame } from './connection.js';

/** Payloads above this are kept apart from the header, so a large broadcast copies nothing. */
const COPY_LIMIT = 16 * 1024;

/**
 * Encodes one unmasked (server-side) message frame for sending to many connections. Text unless
 * `binary` (default: binary for bytes, text for a string).
 */
export function prepareFrame(data: string | Uint8Array, binary = typeof data !== 'string'): PreparedFrame {
  const opcode = binary ? Opcode.Binary : Opcode.Text;
  if (typeof data === 'string' || data.length <= COPY_LIMIT) return { head: encodeFrame(opcode, data) };
  const head = Buffer.allocUnsafe(headerSize(data.length, false));
  writeHeader(head, 0, opcode, data.length);
  const tail = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  return { head, tail };
}

/** A frame for an already compressed payload (RSV1 set). */
export function prepareCompressedFrame(compressed: Buffer, binary: boolean): PreparedFrame {
  const head = Buffer.allocUnsafe(headerSize(compressed.length, false) + compressed.length);
  const at = writeHeader(head, 0, binary ? Opcode.Binary : Opcode.Text, compressed.length, true, true);
  compressed.copy(head, at);
  return { head };
}

/**
 * Encodes several messages, in order, into one buffer: a burst goes to each receiver in one write
 * instead of one write per message.
 */
export function prepareFrames(messages: readonly (string | Uint8Array)[], binary: boolean): PreparedFrame {
  if (messages.length === 1) return prepareFrame(messages[0], binary);
  const opcode = binary ? Opcode.Binary : Opcode.Text;
  let total = 0;
  const lengths = messages.map((m) => (typeof m === 'string' ? Buffer.byteLength(m) : m.length));
  for (const length of lengths) total += headerSize(length, false) + length;
  const head = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i];
    at = writeHeader(head, at, opcode, lengths[i]);
    if (typeof message === 'string') head.write(message, at);
    else head.set(message, at);
    at += lengths[i];
  }
  return { head };
}

/** Options of `broadcast()`. */
export interface BroadcastOptions<T = unknown> {
  /** Send as binary (default: binary for bytes, text for a string). */
  binary?: boolean;
  /** A connection (or its id) that is skipped, typically the sender. */
  except?: { readonly id: number } | number;
  /** Receivers with more than this many bytes queued are skipped, and passed to `onSlow`. Default: none skipped. */
  slowerThan?: number;
  /** Called for each receiver skipped by `slowerThan` (to count, log, or close it). */
  onSlow?: (conn: Connection<T>) => void;
}

/** The clients a bridge serves: the whole server, or one route's share of it. */
export interface ClientGroup<T = unknown> extends Iterable<Connection<T>> {
  get(id: number): Connection<T> | undefined;
  broadcastPrepared(frame: PreparedFrame, options?: BroadcastOptions<T>): number;
}

export class Hub<T = unknown> implements ClientGroup<T>, ConnectionOwner, Iterable<Connection<T>> {
  private readonly connections = new Map<number, Connection<T>>();

  /** Number of connections in the hub (open or closing). */
  get count(): number {
    return this.connections.size;
  }

  add(conn: Connection<T>): void {
    this.connections.set(conn.id, conn);
  }

  remove(conn: { readonly id: number }): void {
    this.connections.delete(conn.id);
  }

  /** The connection with this id, if it is still here. */
  get(id: number): Connection<T> | undefined {
    return this.connections.get(id);
  }

  [Symbol.iterator](): IterableIterator<Connection<T>> {
    return this.connections.values();
  }

  /**
   * Sends one message to every open connection but `except`, encoding it once. Returns how many
   * connections it was written to. Receivers that negotiated permessage-deflate get it compressed: once
   * per group sharing the same settings when their compressor keeps no context between messages, else
   * once per receiver. A receiver whose buffer is full still gets it queued (see `maxBufferedAmount`
   * for the bound), unless `slowerThan` says otherwise.
   */
  broadcast(data: string | Uint8Array, options: BroadcastOptions<T> = {}): number {
    const binary = options.binary ?? typeof data !== 'string';
    const plain = prepareFrame(data, binary);
    let payload: Uint8Array | undefined;
    let shared: Map<string, PreparedFrame> | undefined;
    // The payload's size (not the frame's), as send() measures it against the threshold.
    const size = plain.tail
      ? plain.tail.length
      : typeof data === 'string'
        ? Buffer.byteLength(data)
        : data.length;
    return this.each(options, (conn) => {
      const deflate = conn.deflate;
      if (deflate === undefined || size < deflate.threshold) return conn.sendPrepared(plain);
      const key = deflate.sharingKey;
      if (key === undefined) return conn.send(data, binary);
      shared ??= new Map();
      let frame = shared.get(key);
      if (!frame) {
        payload ??= typeof data === 'string' ? Buffer.from(data) : data;
        frame = prepareCompressedFrame(deflate.compressOnce(payload), binary);
        shared.set(key, frame);
      }
      return conn.sendPrepared(frame);
    });
  }

  /** Sends an already encoded frame (or several, concatenated) to every open connection but `except`. */
  broadcastPrepared(frame: PreparedFrame, options: BroadcastOptions<T> = {}): number {
    return this.each(options, (conn) => conn.sendPrepared(frame));
  }

  private each(options: BroadcastOptions<T>, deliver: (conn: Connection<T>) => void): number {
    const except = typeof options.except === 'number' ? options.except : options.except?.id;
    const limit = options.slowerThan ?? Infinity;
    let sent = 0;
    for (const conn of this.connections.values()) {
      if (conn.id === except || !conn.isOpen) continue;
      if (conn.bufferedAmount > limit) {
        options.onSlow?.(conn);
        continue;
      }
      deliver(conn);
      sent++;
    }
    return sent;
  }

  /** Sends to one connection by id; false when there is no such open connection or its buffer is full. */
  send(id: number, data: string | Uint8Array, binary?: boolean): boolean {
    const conn = this.connections.get(id);
    if (!conn || !conn.isOpen) return false;
    return conn.send(data, binary);
  }
}
