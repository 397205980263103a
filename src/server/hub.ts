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

/** Options of `broadcast()`. */
export interface BroadcastOptions {
  /** Send as binary (default: binary for bytes, text for a string). */
  binary?: boolean;
  /** A connection (or its id) that is skipped, typically the sender. */
  except?: { readonly id: number } | number;
}

export class Hub<T = unknown> implements ConnectionOwner, Iterable<Connection<T>> {
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
   * connections it was written to. A receiver whose buffer is full still gets it queued (see
   * `maxBufferedAmount` for the bound).
   */
  broadcast(data: string | Uint8Array, options: BroadcastOptions = {}): number {
    const frame = prepareFrame(data, options.binary ?? typeof data !== 'string');
    const except = typeof options.except === 'number' ? options.except : options.except?.id;
    let sent = 0;
    for (const conn of this.connections.values()) {
      if (conn.id === except || !conn.isOpen) continue;
      conn.sendPrepared(frame);
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
