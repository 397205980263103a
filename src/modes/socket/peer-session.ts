/**
 * What the socket bridges share: a peer opened before the 101 (so a failure is an HTTP 502, not an
 * accepted socket that closes at once), then driven by the connection's callbacks through `conn.data`.
 */
import type { Connection, ConnectionHandlers } from '../../server/connection.js';
import type { FramingSpec } from '../../framing/registry.js';
import { formatPeer, type PeerAddress } from './peer-address.js';

export { ClientHold } from '../common/client-hold.js';

/** Where a peer session reports. */
export interface PeerLog {
  error(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** One client's peer, opened and waiting for its connection. */
export interface PeerSession {
  /** Starts relaying once the connection is open. */
  attach(conn: Connection<unknown>): void;
  /** A message from the client: its payload goes to the peer as is. */
  message(data: Buffer, isBinary: boolean): void;
  /** The client's send buffer drained. */
  drain(): void;
  /** The client is gone: the peer is closed. */
  connectionClosed(): void;
  /** The handshake failed after the peer was opened: drop it. */
  abort(): void;
  /** Resolves once the peer's socket is closed. */
  readonly done: Promise<void>;
}

/** TLS towards `tcps://` peers. */
export interface PeerTlsOptions {
  /** CA certificates to trust (default: Node's bundle). */
  ca?: Buffer | string;
  /** Skip certificate verification (testing only). */
  insecure?: boolean;
  /** SNI and certificate name, when not the peer's host. */
  servername?: string;
}

export interface PeerOptions {
  framing: FramingSpec;
  /** Give up connecting after this many ms (→ 502). Default 10 s. */
  connectTimeout?: number;
  /** For `tcps://` (and for `tcp://` with `tls` forced). */
  tls?: PeerTlsOptions;
  /** TLS to tcp:// peers too (websockify's --ssl-target). */
  forceTls?: boolean;
  /** Datagram peers: a client with more than this many bytes unsent loses datagrams (counted). Default 1 MiB. */
  maxClientBuffer?: number;
  log?: PeerLog;
  /** Short name for log lines (the client's address and path). */
  label?: string;
}

/** A peer that could not be opened; `status` is the HTTP answer. */
export class PeerError extends Error {
  override name = 'PeerError';
  constructor(
    message: string,
    readonly status = 502,
  ) {
    super(message);
  }
}

export const DEFAULT_CONNECT_TIMEOUT = 10_000;

export function describePeer(address: PeerAddress): string {
  return formatPeer(address);
}

/** Connection callbacks driving the PeerSession in `conn.data`: module-level, no closure per connection. */
export function peerHandlers(): Required<
  Pick<ConnectionHandlers<PeerSession>, 'open' | 'message' | 'drain' | 'close'>
> {
  return {
    open: (conn) => conn.data?.attach(conn as Connection<unknown>),
    message: (conn, data, isBinary) => conn.data?.message(data, isBinary),
    drain: (conn) => conn.data?.drain(),
    close: (conn) => conn.data?.connectionClosed(),
  };
}
