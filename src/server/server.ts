/**
 * The WebSocket server: listens on TCP (IPv4/IPv6), TLS or a Unix socket, or takes upgrades from an
 * existing `http.Server`. It reads each request head itself (bounded in size and time), answers the
 * handshake, and hands plain HTTP requests to an optional `request` handler through node:http.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import {
  createServer as createNetServer,
  connect as netConnect,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { unlink } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { CloseCode, HandshakeError } from '../protocol/errors.js';
import { errorResponse, findHeadEnd, parseRequestHead, type RequestHead } from '../protocol/http-head.js';
import {
  checkUpgradeRequest,
  isWebSocketUpgrade,
  switchingProtocolsResponse,
  type AcceptedUpgrade,
  type ProtocolSelector,
  type UpgradeRequest,
} from '../protocol/handshake.js';
import {
  Connection,
  type ConnectionHandlers,
  type ConnectionLimits,
  type PreparedFrame,
  type RequestInfo,
} from './connection.js';
import { HeldRequest } from './held-request.js';
import { Hub, type BroadcastOptions } from './hub.js';
import { Keepalive } from './keepalive.js';
import './native-mask.js';
import { MessageDeflate, type DeflateTuning } from './deflate.js';
import { acceptDeflateOffer, type DeflateOptions } from '../protocol/deflate-params.js';
import { DEFAULTS } from './defaults.js';

export { DEFAULTS };

/** permessage-deflate settings: what to negotiate and how hard to compress. */
export type PerMessageDeflateOptions = DeflateOptions & DeflateTuning;

/** What an `upgrade` hook sees, before the 101 is sent. */
export interface UpgradeInfo<T = unknown> extends RequestInfo {
  /** The subprotocols the client offered. */
  offeredProtocols: readonly string[];
  /** The subprotocol the server chose (may be changed by the hook). */
  protocol: string | undefined;
  /** Headers to add to the 101 response. */
  responseHeaders: Record<string, string>;
  /** Becomes the connection's `data` slot (e.g. a peer opened before the 101). */
  data?: T;
  /**
   * Set by the hook to release what it opened (a child process, a socket) if the handshake fails after
   * it ran (the client went away, a later check refused it, the server is shutting down).
   */
  abort?: () => void;
  /** Callbacks for this connection instead of the server's (one server, many routes). */
  handlers?: ConnectionHandlers<T>;
  /** Largest incoming message for this connection, bytes, instead of the server's `maxMessageSize`. */
  maxMessageSize?: number;
}

/** What a server counts. */
export interface ServerStats {
  /** Connections dropped because their send buffer passed `maxBufferedAmount` (a peer not reading). */
  slowDropped: number;
}

/** A failed handshake, for logs. */
export interface HandshakeFailure {
  status: number;
  message: string;
  remoteAddress: string;
  /** The request, when its head could be parsed. */
  request?: UpgradeRequest;
}

/** Server settings and callbacks. Every limit has a default (see `DEFAULTS`). */
export interface ServerOptions<T = unknown> extends ConnectionHandlers<T> {
  /** Largest incoming message, bytes (sum of fragments). Past it: close 1009. Default 1 MiB. */
  maxMessageSize?: number;
  /** Largest handshake request head, bytes. Past it: 431. Default 8 KiB. */
  maxHeaderSize?: number;
  /** Time allowed for the whole request head to arrive (slowloris), ms. Past it: 408. Default 10 s. */
  handshakeTimeout?: number;
  /** Open connections allowed; past it new handshakes get 503. Default 10,000. */
  maxConnections?: number;
  /** Allowed `Origin` values (exact, case-insensitive); others get 403. Default: any. */
  origins?: readonly string[];
  /** Subprotocols by preference, or a function choosing from the client's offer. Default: none. */
  protocols?: readonly string[] | ProtocolSelector;
  /** Idle time before the server pings a connection, ms; 0 disables. Default 30 s. */
  pingInterval?: number;
  /** Time a pinged connection has to show any traffic before it is dropped, ms. Default 30 s. */
  pongTimeout?: number;
  /** Wait for the peer's Close after ours, ms. Default 5 s. */
  closeTimeout?: number;
  /** `close()` waits this long for clients to finish the closing handshake, ms. Default 5 s. */
  shutdownTimeout?: number;
  /**
   * A connection whose send buffer holds more than this beyond the message being sent is dropped (it is
   * not reading): Close 1008, then the transport. Bytes. Default 16 MiB.
   */
  maxBufferedAmount?: number;
  /** A connection is being dropped for not reading (see `maxBufferedAmount`); counted in `stats`. */
  slowReader?(conn: Connection<T>, bufferedAmount: number): void;
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, an object to tune it, `false` to refuse it.
   * Default: on. Without context takeover on the server side (`serverNoContextTakeover: true`), a
   * broadcast is compressed once for all receivers; with it, once per receiver.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Listen with TLS using these options (at least `cert` and `key`). */
  tls?: TlsOptions;
  /**
   * Handles plain HTTP requests (anything that is not a WebSocket upgrade) with node:http.
   * Default: 426 Upgrade Required.
   */
  request?: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Runs before the 101 answer; may inspect the request, change `protocol`, add `responseHeaders`, or
   * refuse by throwing a HandshakeError (its status is answered). May be async.
   */
  upgrade?: (info: UpgradeInfo<T>) => void | Promise<void>;
  /** A handshake was refused (for logs). */
  handshakeFailed?: (failure: HandshakeFailure) => void;
}

/** Where to listen: a TCP port (and host), or a Unix socket path. */
export type ListenOptions = { port: number; host?: string } | { path: string };

type Resolved<T> = Required<
  Pick<
    ServerOptions<T>,
    | 'maxMessageSize'
    | 'maxHeaderSize'
    | 'handshakeTimeout'
    | 'maxConnections'
    | 'pingInterval'
    | 'pongTimeout'
    | 'closeTimeout'
    | 'shutdownTimeout'
    | 'maxBufferedAmount'
  >
>;

function splitUrl(url: string): { path: string; query: string } {
  const mark = url.indexOf('?');
  return mark === -1 ? { path: url, query: '' } : { path: url.slice(0, mark), query: url.slice(mark + 1) };
}

/**
 * A fresh socket's error listener. Module-level on purpose: an arrow created in `acceptSocket` would keep
 * that call's whole closure context (handshake timer, data/close handlers, the received request head)
 * alive for as long as the connection lasts, about 0.7 KB per idle connection.
 */
function ignoreError(): void {}

function lingerThenDestroy(socket: Duplex): void {
  // Destroying right after writing could reset the connection before the peer reads the answer.
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class Server<T = unknown> {
  private readonly options: ServerOptions<T>;
  private readonly settings: Resolved<T>;
  private readonly limits: ConnectionLimits;
  private readonly hub = new Hub<T>();
  private readonly keepalive: Keepalive;
  private readonly deflateOptions: PerMessageDeflateOptions | undefined;
  private readonly pending = new Set<Duplex>();
  private listener: NetServer | undefined;
  private httpServer: HttpServer | undefined;
  private unixPath: string | undefined;
  private closing: Promise<void> | undefined;
  /** Handshakes waiting on an async `upgrade` hook (they count towards maxConnections). */
  private upgrading = 0;
  /** Counters for logs and monitoring. */
  readonly stats: ServerStats = { slowDropped: 0 };
  private readonly countSlowDrop = (conn: Connection<unknown>, bufferedAmount: number): void => {
    this.stats.slowDropped++;
    this.options.slowReader?.(conn as Connection<T>, bufferedAmount);
  };
  /** Each server numbers its own connections from 1, so ids do not depend on other servers or clients. */
  private lastId = 0;

  constructor(options: ServerOptions<T> = {}) {
    this.options = options;
    const pick = <K extends keyof Resolved<T>>(key: K): Resolved<T>[K] =>
      (options[key] ?? DEFAULTS[key]) as Resolved<T>[K];
    this.settings = {
      maxMessageSize: pick('maxMessageSize'),
      maxHeaderSize: pick('maxHeaderSize'),
      handshakeTimeout: pick('handshakeTimeout'),
      maxConnections: pick('maxConnections'),
      pingInterval: pick('pingInterval'),
      pongTimeout: pick('pongTimeout'),
      closeTimeout: pick('closeTimeout'),
      shutdownTimeout: pick('shutdownTimeout'),
      maxBufferedAmount: pick('maxBufferedAmount'),
    };
    this.limits = {
      maxMessageSize: this.settings.maxMessageSize,
      maxBufferedAmount: this.settings.maxBufferedAmount,
      closeTimeout: this.settings.closeTimeout,
    };
    const deflate = options.perMessageDeflate ?? DEFAULTS.perMessageDeflate;
    this.deflateOptions = deflate === true ? {} : deflate === false ? undefined : deflate;
    if (this.deflateOptions) MessageDeflate.validate(this.deflateOptions);
    this.keepalive = new Keepalive(this.settings, () => this.hub as Iterable<Connection<unknown>>);
  }

  /** Number of connections (open or closing). */
  get count(): number {
    return this.hub.count;
  }

  /** The connection with this id, if still connected. */
  get(id: number): Connection<T> | undefined {
    return this.hub.get(id);
  }

  /** Iterates over the connections. */
  clients(): IterableIterator<Connection<T>> {
    return this.hub[Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<Connection<T>> {
    return this.hub[Symbol.iterator]();
  }

  /** Sends one message to every open connection but `except`, encoded once. Returns the receiver count. */
  broadcast(data: string | Uint8Array, options?: BroadcastOptions<T>): number {
    return this.hub.broadcast(data, options);
  }

  /** Sends an already encoded frame (see `prepareFrame`) to every open connection but `except`. */
  broadcastPrepared(frame: PreparedFrame, options?: BroadcastOptions<T>): number {
    return this.hub.broadcastPrepared(frame, options);
  }

  /** Sends to one connection by id. False when it is not open or its send buffer is full. */
  send(id: number, data: string | Uint8Array, binary?: boolean): boolean {
    return this.hub.send(id, data, binary);
  }

  /** The bound address (TCP) or path (Unix socket). */
  address(): AddressInfo | string | null {
    return this.listener?.address() ?? null;
  }

  /** Starts listening. Resolves once bound; rejects with the bind error (EADDRINUSE, EACCES…). */
  async listen(where: ListenOptions): Promise<this> {
    if (this.listener) throw new Error('server is already listening');
    const onSocket = (socket: Socket): void => this.acceptSocket(socket);
    const listener = this.options.tls
      ? createTlsServer(
          { handshakeTimeout: this.settings.handshakeTimeout, noDelay: true, ...this.options.tls },
          onSocket,
        ).on('tlsClientError', (_error, socket) => socket.destroy())
      : createNetServer({ noDelay: true }, onSocket); // no Nagle, set at accept (cheaper than setNoDelay)
    listener.on('error', () => undefined);
    this.listener = listener;
    try {
      if ('path' in where) {
        await this.bindUnix(listener, where.path);
        this.unixPath = where.path;
      } else await bind(listener, { port: where.port, host: where.host });
    } catch (error) {
      this.listener = undefined;
      throw error;
    }
    this.keepalive.start();
    return this;
  }

  private async bindUnix(listener: NetServer, path: string): Promise<void> {
    try {
      await bind(listener, { path });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || (await socketIsLive(path))) throw error;
      await unlink(path); // a stale socket file left by a process that died
      await bind(listener, { path });
    }
  }

  /**
   * Takes over an upgrade request from an existing node:http server:
   * `httpServer.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head))`.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.keepalive.start();
    const request: UpgradeRequest = {
      method: req.method ?? '',
      url: req.url ?? '/',
      httpVersion: req.httpVersion,
      headers: req.headers,
    };
    void this.upgrade(
      request,
      socket as Socket,
      head,
      req.socket.remoteAddress ?? '',
      req.socket.remotePort ?? 0,
    );
  }

  /**
   * Graceful shutdown: stops accepting, calls `shutdown` for every connection, closes each with 1001,
   * waits up to `shutdownTimeout` for them to finish, then drops what is left.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const listenerClosed = this.listener
      ? new Promise<void>((resolve) => this.listener!.close(() => resolve()))
      : Promise.resolve();
    this.keepalive.stop();
    for (const socket of this.pending) socket.destroy();
    for (const conn of this.hub) {
      conn.notifyShutdown();
      conn.close(CloseCode.GoingAway, 'server shutting down');
    }
    const deadline = Date.now() + this.settings.shutdownTimeout;
    while (this.hub.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.hub) conn.terminate();
    // A terminated socket reports 'close' (hence the `close` callback) a tick later: wait, bounded.
    for (let i = 0; i < 50 && this.hub.count > 0; i++) await new Promise((r) => setTimeout(r, 10));
    this.httpServer?.closeAllConnections();
    await listenerClosed;
    if (this.unixPath) await unlink(this.unixPath).catch(() => undefined);
  }

  private refuse(
    socket: Duplex,
    error: HandshakeError,
    remoteAddress: string,
    request?: UpgradeRequest,
  ): void {
    this.options.handshakeFailed?.({ status: error.status, message: error.message, remoteAddress, request });
    if (!socket.destroyed) {
      socket.end(errorResponse(error.status, error.message, error.headers));
      lingerThenDestroy(socket);
    }
  }

  /** Reads one request head from a fresh socket, then upgrades it or hands it to node:http. */
  private acceptSocket(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    const remoteAddress = socket.remoteAddress ?? '';
    let received: Buffer | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      this.pending.delete(socket);
    };
    const timer = setTimeout(() => {
      finish();
      this.refuse(socket, new HandshakeError('request head not received in time', 408), remoteAddress);
    }, this.settings.handshakeTimeout);
    const onClose = (): void => finish();
    const onData = (chunk: Buffer): void => {
      const searchFrom = received ? received.length : 0;
      received = received ? Buffer.concat([received, chunk]) : chunk;
      const end = findHeadEnd(received, searchFrom);
      if (end === -1 ? received.length > this.settings.maxHeaderSize : end > this.settings.maxHeaderSize) {
        finish();
        this.refuse(socket, new HandshakeError('request head too large', 431), remoteAddress);
        return;
      }
      if (end === -1) return;
      finish();
      socket.pause();
      let head: RequestHead;
      try {
        head = parseRequestHead(received.subarray(0, end));
      } catch (error) {
        this.refuse(socket, error as HandshakeError, remoteAddress);
        return;
      }
      if (isWebSocketUpgrade(head))
        void this.upgrade(
          head,
          socket,
          received.subarray(end),
          remoteAddress,
          socket.remotePort ?? 0,
          head.text,
        );
      else this.serveHttp(socket, received, remoteAddress, head);
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', ignoreError);
  }

  private serveHttp(socket: Socket, received: Buffer, remoteAddress: string, head: RequestHead): void {
    const handler = this.options.request;
    if (!handler) {
      this.refuse(
        socket,
        new HandshakeError('this is a WebSocket endpoint', 426, { Upgrade: 'websocket' }),
        remoteAddress,
        head,
      );
      return;
    }
    if (!this.httpServer) {
      this.httpServer = createHttpServer({ maxHeaderSize: this.settings.maxHeaderSize }, handler);
      this.httpServer.on('upgrade', (req: IncomingMessage, s: Duplex, head: Buffer) =>
        this.handleUpgrade(req, s, head),
      );
    }
    socket.unshift(received);
    this.httpServer.emit('connection', socket);
    socket.resume();
  }

  private async upgrade(
    request: UpgradeRequest,
    socket: Socket,
    rest: Buffer,
    remoteAddress: string,
    remotePort: number,
    /** The head's text, when this server read it (the connection re-parses its headers on demand). */
    headText?: string,
  ): Promise<void> {
    const { path, query } = splitUrl(request.url);
    const info: UpgradeInfo<T> = {
      url: request.url,
      path,
      query,
      headers: request.headers,
      remoteAddress,
      remotePort,
      offeredProtocols: [],
      protocol: undefined,
      responseHeaders: {},
    };
    let accepted: AcceptedUpgrade;
    try {
      if (this.closing) throw new HandshakeError('server is shutting down', 503);
      if (this.hub.count + this.upgrading >= this.settings.maxConnections)
        throw new HandshakeError('too many connections', 503);
      accepted = checkUpgradeRequest(request, {
        protocols: this.options.protocols,
        origins: this.options.origins,
      });
      info.offeredProtocols = accepted.offeredProtocols;
      info.protocol = accepted.protocol;
      if (this.options.upgrade) {
        this.pending.add(socket);
        this.upgrading++;
        try {
          await this.options.upgrade(info);
        } finally {
          this.upgrading--;
          this.pending.delete(socket);
        }
        if (info.protocol !== undefined && !accepted.offeredProtocols.includes(info.protocol))
          throw new HandshakeError('upgrade hook chose a subprotocol the client did not offer', 500);
        accepted.protocol = info.protocol;
        if (this.closing) throw new HandshakeError('server is shutting down', 503);
      }
    } catch (error) {
      const refusal =
        error instanceof HandshakeError
          ? error
          : new HandshakeError(`upgrade failed: ${(error as Error).message}`, 500);
      info.abort?.();
      this.refuse(socket, refusal, remoteAddress, request);
      return;
    }
    if (socket.destroyed) {
      info.abort?.();
      return;
    }
    let deflate: MessageDeflate | undefined;
    const deflateOptions = this.deflateOptions;
    if (deflateOptions && accepted.extensions !== '') {
      const negotiated = acceptDeflateOffer(accepted.extensions, deflateOptions);
      if (negotiated) {
        info.responseHeaders['Sec-WebSocket-Extensions'] = negotiated.response;
        deflate = new MessageDeflate(
          negotiated.params,
          'server',
          deflateOptions,
          info.maxMessageSize ?? this.settings.maxMessageSize,
        );
      }
    }
    let response: string;
    try {
      response = switchingProtocolsResponse(accepted, info.responseHeaders);
    } catch (error) {
      info.abort?.();
      this.refuse(
        socket,
        new HandshakeError(`bad response header: ${(error as Error).message}`, 500),
        remoteAddress,
        request,
      );
      return;
    }
    socket.write(response);
    const handlers = info.handlers ?? this.options;
    const conn = new Connection<T>({
      id: ++this.lastId,
      socket,
      role: 'server',
      // Only the request itself stays with the connection, not the hook's working state.
      request: new HeldRequest(
        info.url,
        info.path,
        info.query,
        info.remoteAddress,
        info.remotePort,
        headText ?? info.headers,
      ),
      protocol: accepted.protocol,
      handlers,
      limits:
        info.maxMessageSize === undefined
          ? this.limits
          : { ...this.limits, maxMessageSize: info.maxMessageSize },
      owner: this.hub,
      deflate,
      onSlowDrop: this.countSlowDrop,
    });
    conn.data = info.data;
    this.hub.add(conn);
    handlers.open?.(conn);
    if (rest.length > 0 && conn.isOpen) conn.receive(rest);
  }
}

function bind(listener: NetServer, options: { port?: number; host?: string; path?: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    listener.once('error', onError);
    listener.listen(options, () => {
      listener.removeListener('error', onError);
      resolve();
    });
  });
}

function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = netConnect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** Creates a server; call `listen()` on it, or feed it upgrades with `handleUpgrade()`. */
export function createServer<T = unknown>(options: ServerOptions<T> = {}): Server<T> {
  return new Server<T>(options);
}
