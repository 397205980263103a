/**
 * Stream peers: TCP, TLS (`tcps://`) and Unix stream sockets, one per client.
 *
 * - Connected before the 101 with a timeout: refused, unreachable or timed out → PeerError (HTTP 502).
 * - Peer → client: each read goes through the framer; a message the client cannot take at once
 *   (`send()` false) pauses reading the peer until `drain`. A framer over its cap closes the client
 *   with 1009 (too large) or 1011 (bad record), with a log line.
 * - Client → peer: each payload written as is; a full socket pauses the client until it drains.
 * - Half-close: the peer's FIN flushes the framer and sends Close 1000 (the client's messages still in
 *   flight are still written: the socket stays half open); the client's Close ends the peer with a FIN.
 * - A peer that fails (reset, error, closed without FIN) closes the client with 1014 and a reason.
 * - A client that goes away: FIN to the peer, and the socket destroyed if the peer is not gone in 2 s.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { CloseCode } from '../../protocol/errors.js';
import type { Connection } from '../../server/connection.js';
import { FramingError, type Emit, type Framer } from '../../framing/framer.js';
import { formatPeer, type PeerAddress } from './peer-address.js';
import {
  ClientHold,
  DEFAULT_CONNECT_TIMEOUT,
  PeerError,
  type PeerLog,
  type PeerOptions,
  type PeerSession,
} from './peer-session.js';

const LINGER_MS = 2000;

/** Connects a stream peer; resolves once connected (and, for TLS, verified). */
export function connectStreamPeer(address: PeerAddress, options: PeerOptions): Promise<StreamPeer> {
  const name = formatPeer(address);
  const useTls = address.scheme === 'tcps' || (address.scheme === 'tcp' && options.forceTls === true);
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  return new Promise((resolve, reject) => {
    let socket: Socket;
    try {
      if ('path' in address) socket = netConnect({ path: address.path, allowHalfOpen: true });
      else if (useTls) {
        const tls = options.tls ?? {};
        socket = tlsConnect({
          socket: netConnect({ host: address.host, port: address.port, allowHalfOpen: true }),
          ca: tls.ca,
          rejectUnauthorized: tls.insecure !== true,
          servername: tls.servername ?? (/^[\d.]+$|:/.test(address.host) ? undefined : address.host),
        });
      } else socket = netConnect({ host: address.host, port: address.port, allowHalfOpen: true });
    } catch (error) {
      reject(new PeerError(`cannot connect to ${name}: ${(error as Error).message}`));
      return;
    }
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new PeerError(`cannot connect to ${name}: timed out after ${timeout} ms`));
    }, timeout);
    const onError = (error: NodeJS.ErrnoException): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new PeerError(`cannot connect to ${name}: ${error.code ?? error.message}`));
    };
    socket.once('error', onError);
    socket.once(useTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      if (!('path' in address)) socket.setNoDelay(true);
      resolve(new StreamPeer(socket, options.framing.create(), name, options.log, options.label));
    });
  });
}

export class StreamPeer implements PeerSession {
  readonly done: Promise<void>;
  /** Bytes relayed, each way. */
  readonly counts = { toClient: 0, toPeer: 0 };

  private conn: Connection<unknown> | undefined;
  private readonly hold = new ClientHold();
  private peerEnded = false;
  private clientGone = false;
  private failed = false;
  private error: Error | undefined;
  private readonly label: string;
  private readonly emit: Emit = (data, binary) => this.toClient(data, binary);

  /** @internal use connectStreamPeer */
  constructor(
    private readonly socket: Socket,
    private readonly framer: Framer,
    private readonly name: string,
    private readonly log: PeerLog | undefined,
    label: string | undefined,
  ) {
    this.label = label ? `${label} → ${name}` : name;
    this.done = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', (error) => (this.error = error));
    socket.once('close', () => this.peerClosed());
    // Nothing is read before attach(): the socket stays paused and TCP holds the peer back.
  }

  attach(conn: Connection<unknown>): void {
    if (this.conn || this.clientGone) return;
    this.conn = conn;
    this.socket.on('data', (chunk: Buffer) => this.fromPeer(chunk));
    this.socket.once('end', () => this.peerEnd());
  }

  private fromPeer(chunk: Buffer): void {
    if (this.clientGone || this.failed) return;
    try {
      this.framer.push(chunk, this.emit);
    } catch (error) {
      if (!(error instanceof FramingError)) throw error;
      this.fail(
        error.kind === 'too-large' ? CloseCode.MessageTooBig : CloseCode.InternalError,
        error.kind === 'too-large' ? 'peer message too large' : 'peer framing error',
        error.message,
      );
    }
  }

  private toClient(data: Buffer, binary: boolean): void {
    const conn = this.conn;
    if (!conn?.isOpen) return;
    this.counts.toClient += data.length;
    if (!conn.send(data, binary)) this.socket.pause();
  }

  message(data: Buffer): void {
    const socket = this.socket;
    if (this.failed || socket.destroyed || !socket.writable) return;
    this.counts.toPeer += data.length;
    if (!socket.write(data) && this.conn && !this.hold.held) {
      this.hold.hold(this.conn);
      socket.once('drain', () => this.hold.release(this.conn));
    }
  }

  drain(): void {
    if (!this.clientGone && !this.failed) this.socket.resume();
  }

  /** The peer sent its FIN: what is buffered goes out, then Close 1000. */
  private peerEnd(): void {
    this.peerEnded = true;
    if (this.clientGone || this.failed) return;
    try {
      this.framer.end(this.emit);
    } catch {
      // end() only flushes
    }
    this.log?.debug(`${this.label}: peer closed its side`);
    if (this.conn?.isOpen) this.conn.close(CloseCode.Normal, 'peer closed');
  }

  private peerClosed(): void {
    this.hold.release(this.conn);
    if (this.clientGone || this.failed) return;
    if (this.peerEnded && !this.error) return;
    const why =
      (this.error as NodeJS.ErrnoException | undefined)?.code ?? this.error?.message ?? 'closed without FIN';
    this.fail(CloseCode.BadGateway, `peer failed: ${why}`.slice(0, 123), `connection to peer lost: ${why}`);
  }

  private fail(code: number, reason: string, logLine: string): void {
    if (this.failed) return;
    this.failed = true;
    this.log?.error(`${this.label}: ${logLine}; closing the client with ${code}`);
    this.hold.release(this.conn);
    if (this.conn?.isOpen) this.conn.close(code, reason);
    this.socket.destroy();
  }

  connectionClosed(): void {
    if (this.clientGone) return;
    this.clientGone = true;
    this.hold.release(undefined);
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.removeAllListeners('data');
    socket.resume(); // read and discard what the peer still says, so its FIN is seen
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  abort(): void {
    this.clientGone = true;
    this.socket.destroy();
  }
}
