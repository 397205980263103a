/**
 * Datagram peers: UDP (`udp://HOST:PORT`), one connected socket per client.
 *
 * - Each client message is one datagram. Sends in flight are bounded: past 64 the client is paused
 *   until they complete. A message too large for a datagram is dropped and counted.
 * - Each datagram from the peer goes through the framer (with `auto`, one message per datagram).
 *   UDP has no flow control, so while the client's send buffer is over `maxClientBuffer` datagrams
 *   are dropped, counted, and logged (once per burst).
 * - ICMP errors (port unreachable → ECONNREFUSED) close the client with 1014.
 *
 * `unix-dgram://` peers use the same session over the optional add-on's socket (unix-dgram-peer.ts).
 */
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { CloseCode } from '../../protocol/errors.js';
import type { Connection } from '../../server/connection.js';
import { FramingError, type Emit, type Framer } from '../../framing/framer.js';
import { formatPeer, type HostAddress } from './peer-address.js';
import {
  ClientHold,
  DEFAULT_CONNECT_TIMEOUT,
  PeerError,
  type PeerLog,
  type PeerOptions,
  type PeerSession,
} from './peer-session.js';

const MAX_IN_FLIGHT = 64;
const RESUME_BELOW = 16;
/** Datagrams kept while the handshake finishes (before attach). */
const EARLY_QUEUE = 64;

export const UNIX_DGRAM_UNSUPPORTED =
  'unix-dgram:// peers are not supported: Node.js has no Unix datagram sockets without a native add-on; ' +
  'install the optional package unix-dgram (npm builds it with python3, make and g++)';

/** What DatagramPeer needs of a socket: a connected node:dgram one, or unix-dgram-peer.ts's adapter. */
export interface DatagramSocket {
  send(data: Buffer, callback: (error: Error | null) => void): void;
  close(): void;
  on(event: 'message', listener: (msg: Buffer) => void): this;
  on(event: 'error', listener: (error: NodeJS.ErrnoException) => void): this;
  once(event: 'close', listener: () => void): this;
}

export async function connectDatagramPeer(address: HostAddress, options: PeerOptions): Promise<DatagramPeer> {
  const name = formatPeer(address);
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  let resolved: { address: string; family: number };
  try {
    resolved = await lookup(address.host);
  } catch (error) {
    throw new PeerError(`cannot connect to ${name}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const socket = createSocket(resolved.family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new PeerError(`cannot connect to ${name}: timed out after ${timeout} ms`));
    }, timeout);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.close();
      reject(new PeerError(`cannot connect to ${name}: ${error.code ?? error.message}`));
    });
    socket.connect(address.port, resolved.address, () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve();
    });
  });
  return new DatagramPeer(socket, options.framing.create(), name, options);
}

export class DatagramPeer implements PeerSession {
  readonly done: Promise<void>;
  /** Datagrams each way, and what was lost. */
  readonly counts = { toClient: 0, toPeer: 0, droppedFromPeer: 0, droppedToPeer: 0 };

  private conn: Connection<unknown> | undefined;
  private early: Buffer[] = [];
  private readonly hold = new ClientHold();
  private inFlight = 0;
  private closed = false;
  private dropping = false;
  private readonly label: string;
  private readonly log: PeerLog | undefined;
  private readonly maxClientBuffer: number;
  private readonly emit: Emit = (data, binary) => this.conn?.isOpen && this.conn.send(data, binary);

  /** @internal use connectDatagramPeer or connectUnixDgramPeer */
  constructor(
    private readonly socket: DatagramSocket,
    private readonly framer: Framer,
    name: string,
    options: PeerOptions,
  ) {
    this.label = options.label ? `${options.label} → ${name}` : name;
    this.log = options.log;
    this.maxClientBuffer = options.maxClientBuffer ?? 1024 * 1024;
    this.done = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('message', (msg: Buffer) => this.fromPeer(msg));
    socket.on('error', (error: NodeJS.ErrnoException) => this.peerError(error));
  }

  attach(conn: Connection<unknown>): void {
    if (this.conn || this.closed) return;
    this.conn = conn;
    const early = this.early;
    this.early = [];
    for (const msg of early) this.fromPeer(msg);
  }

  private fromPeer(msg: Buffer): void {
    if (this.closed) return;
    const conn = this.conn;
    if (!conn) {
      if (this.early.length < EARLY_QUEUE) this.early.push(msg);
      else this.counts.droppedFromPeer++;
      return;
    }
    if (!conn.isOpen) return;
    if (conn.bufferedAmount > this.maxClientBuffer) {
      this.counts.droppedFromPeer++;
      if (!this.dropping) {
        this.dropping = true;
        this.log?.info(`${this.label}: client not reading, dropping datagrams from the peer`);
      }
      return;
    }
    if (this.dropping) {
      this.dropping = false;
      this.log?.info(
        `${this.label}: client reading again (${this.counts.droppedFromPeer} datagrams dropped so far)`,
      );
    }
    this.counts.toClient++;
    try {
      this.framer.push(msg, this.emit);
    } catch (error) {
      if (!(error instanceof FramingError)) throw error;
      this.log?.error(`${this.label}: ${error.message}; closing the client with 1009`);
      conn.close(CloseCode.MessageTooBig, 'peer message too large');
      this.close();
    }
  }

  message(data: Buffer): void {
    if (this.closed) return;
    this.inFlight++;
    this.counts.toPeer++;
    this.socket.send(data, (error) => {
      this.inFlight--;
      if (error) {
        this.counts.droppedToPeer++;
        this.log?.error(
          `${this.label}: datagram of ${data.length} bytes not sent: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
        );
      }
      if (this.inFlight < RESUME_BELOW) this.hold.release(this.conn);
    });
    if (this.inFlight >= MAX_IN_FLIGHT && this.conn) this.hold.hold(this.conn);
  }

  drain(): void {}

  private peerError(error: NodeJS.ErrnoException): void {
    if (this.closed) return;
    const why = error.code ?? error.message;
    this.log?.error(`${this.label}: peer failed: ${why}; closing the client with 1014`);
    if (this.conn?.isOpen) this.conn.close(CloseCode.BadGateway, `peer failed: ${why}`.slice(0, 123));
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hold.release(this.conn);
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }

  connectionClosed(): void {
    if (this.counts.droppedFromPeer > 0 || this.counts.droppedToPeer > 0)
      this.log?.info(
        `${this.label}: datagrams dropped: ${this.counts.droppedFromPeer} from peer, ${this.counts.droppedToPeer} to peer`,
      );
    this.close();
  }

  abort(): void {
    this.close();
  }
}
