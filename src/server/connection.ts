/**
 * One open WebSocket over a byte stream (TCP, TLS or a Unix socket), server or client side: the protocol
 * session wired to a socket. Socket events are dispatched by shared module-level functions rather than
 * per-connection closures, so an idle connection costs little memory.
 */
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { CloseCode, ProtocolError } from '../protocol/errors.js';
import { encodeClosePayload } from '../protocol/close.js';
import { WebSocketSession, type SessionHandler } from '../protocol/session.js';
import type { MessageDeflate } from './deflate.js';

/** The request a connection was opened with. Header names are lower-case. */
export interface RequestInfo {
  /** Request target as sent: path and query. */
  url: string;
  /** Path part of the request target, e.g. `/chat`. */
  path: string;
  /** Query string without the `?` (empty when none). */
  query: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Peer address (IPv4, IPv6) or '' for a Unix socket. */
  remoteAddress: string;
  /** Peer port, 0 for a Unix socket. */
  remotePort: number;
}

/**
 * Callbacks, in facil.io's style: each receives the connection first. All optional.
 * @typeParam T - the type of the per-connection user data slot `conn.data`.
 */
export interface ConnectionHandlers<T = unknown> {
  /** The handshake completed; runs before any `message`. */
  open?(conn: Connection<T>): void;
  /** A complete message. `data` belongs to the callee. */
  message?(conn: Connection<T>, data: Buffer, isBinary: boolean): void;
  /** The send buffer drained below its high-water mark after `send()` returned false. */
  drain?(conn: Connection<T>): void;
  /**
   * The connection is gone. `code` is the peer's close code, the code we failed the connection with on
   * a protocol error, or 1006 when the transport dropped without a closing handshake.
   */
  close?(conn: Connection<T>, code: number, reason: string): void;
  /** The server is shutting down; runs before the connection is closed with 1001. */
  shutdown?(conn: Connection<T>): void;
  /** A Ping arrived (it has already been answered). */
  ping?(conn: Connection<T>, payload: Buffer): void;
  /** A Pong arrived. */
  pong?(conn: Connection<T>, payload: Buffer): void;
}

/** Per-connection limits. */
export interface ConnectionLimits {
  /** Largest incoming message, bytes. */
  maxMessageSize: number;
  /**
   * A send buffer past this many bytes, not counting the message being written, drops the connection
   * (a peer that never reads): one message of any size may always be sent.
   */
  maxBufferedAmount: number;
  /** How long to wait for the peer's Close (or the TCP close) after ours, ms. */
  closeTimeout: number;
}

/** Receives a connection's end (the Hub uses it to forget the connection). */
export interface ConnectionOwner {
  remove(conn: { readonly id: number }): void;
}

/** @internal What a Connection is made of (the server and `connect()` build it after a handshake). */
export interface ConnectionInit<T> {
  /** Unique among the connections of its server (or among client connections). */
  id: number;
  socket: Socket;
  role: 'server' | 'client';
  request: RequestInfo;
  protocol: string | undefined;
  handlers: ConnectionHandlers<T>;
  limits: ConnectionLimits;
  owner?: ConnectionOwner;
  /** permessage-deflate state, when negotiated. */
  deflate?: MessageDeflate;
  /** Told when the connection is dropped for a send buffer past `maxBufferedAmount` (to count, log). */
  onSlowDrop?: (conn: Connection<unknown>, bufferedAmount: number) => void;
}

/** A message waiting behind an earlier one that is still being compressed. */
interface QueuedSend {
  /** Plain payload, or the compressed one once ready. */
  data: Uint8Array | string | undefined;
  isBinary: boolean;
  compressed: boolean;
  /** A prepared (broadcast) frame instead of a payload. */
  frame?: PreparedFrame;
  size: number;
}

/** A frame encoded once and sent as is to any number of connections (see `prepareFrame`). */
export interface PreparedFrame {
  readonly head: Buffer;
  /** Payload kept apart from a large frame's header, to avoid copying it. */
  readonly tail?: Buffer;
}

/** `open`: messages flow. `closing`: a Close was sent or received. `closed`: the transport is gone. */
export type ReadyState = 'open' | 'closing' | 'closed';

const kConnection = Symbol('wsbridge.connection');
type BoundSocket = Socket & { [kConnection]: Connection<unknown> };

function onSocketData(this: BoundSocket, chunk: Buffer): void {
  const conn = this[kConnection];
  conn.alive = true;
  conn.session.receive(chunk);
}
/** Ends the per-tick cork set by the first write of a tick (see `Connection.write`). */
function uncorkTick(conn: Connection<unknown>): void {
  conn.flushTick();
}
function onSocketDrain(this: BoundSocket): void {
  this[kConnection].handleDrain();
}
function onSocketClose(this: BoundSocket): void {
  this[kConnection].handleTransportClose();
}
function onSocketError(this: BoundSocket, error: Error): void {
  this[kConnection].transportError = error;
}

/** Misuse (not a closing connection) still throws: a payload must be a string or bytes. */
function checkPayload(data: unknown): void {
  if (typeof data !== 'string' && !(data instanceof Uint8Array))
    throw new TypeError(`cannot send a ${data === null ? 'null' : typeof data}: pass a string or bytes`);
}

// Not `implements SessionHandler`: those methods are internal, stripped from the published types.
export class Connection<T = unknown> {
  /** Id of this connection, never reused by its server (each server counts from 1; so do clients). */
  readonly id: number;
  /** User data slot, free for the application. */
  data: T | undefined = undefined;
  /** The negotiated subprotocol, if any. */
  readonly protocol: string | undefined;
  /** The request this connection was opened with. */
  readonly request: RequestInfo;
  /** @internal */
  readonly session: WebSocketSession;
  /** The last transport error (ECONNRESET, …), if any, for logs. */
  transportError: Error | undefined;
  /** The protocol error this connection was failed with, if any. */
  protocolError: ProtocolError | undefined;

  /** @internal keepalive bookkeeping: set on every received chunk. */
  alive = true;
  /** @internal */
  idleSince = 0;
  /** @internal */
  pingSentAt = 0;

  /** @internal */
  private readonly socket: BoundSocket;
  /** @internal */
  private handlers: ConnectionHandlers<T>;
  /** @internal */
  private readonly limits: ConnectionLimits;
  /** @internal */
  private owner: ConnectionOwner | undefined;
  /** @internal */
  private readonly onSlowDrop: ConnectionInit<unknown>['onSlowDrop'];
  /** @internal */
  private closeTimer: NodeJS.Timeout | undefined;
  /** @internal */
  private userPaused = false;
  /** @internal */
  private controlPaused = false;
  /** @internal */
  private inflatePaused = false;
  /** @internal */
  private finished = false;
  /** @internal permessage-deflate, when negotiated. */
  readonly deflate: MessageDeflate | undefined;
  /** @internal Sends waiting for an earlier compression to finish, in order. */
  private outQueue: QueuedSend[] = [];
  /** @internal */
  private queuedBytes = 0;
  /** @internal */
  private owesDrain = false;
  /** @internal The socket is corked until the end of the current tick. */
  private tickCorked = false;
  /** @internal A close() waiting for queued (compressing) sends to go out first. */
  private closeAfterQueue: [number, string] | undefined;

  /** @internal Created by the server after a handshake, or by `connect()`. */
  constructor(init: ConnectionInit<T>) {
    const socket = init.socket;
    this.id = init.id;
    this.socket = socket as BoundSocket;
    this.request = init.request;
    this.protocol = init.protocol;
    this.handlers = init.handlers;
    this.limits = init.limits;
    this.owner = init.owner;
    this.deflate = init.deflate;
    this.onSlowDrop = init.onSlowDrop;
    this.session = new WebSocketSession(
      {
        role: init.role,
        maxMessageSize: init.limits.maxMessageSize,
        compression: init.deflate !== undefined,
      },
      this as SessionHandler,
    );
    this.socket[kConnection] = this as Connection<unknown>;
    socket.on('data', onSocketData);
    socket.on('drain', onSocketDrain);
    socket.on('close', onSocketClose);
    socket.on('error', onSocketError);
    socket.resume();
  }

  /** Replaces the callbacks (a client may set them after `connect()` resolves). */
  setHandlers(handlers: ConnectionHandlers<T>): void {
    this.handlers = handlers;
  }

  /** @internal Runs the `shutdown` callback (the server is closing; called by the server before the 1001). */
  notifyShutdown(): void {
    this.handlers.shutdown?.(this);
  }

  /** Request path, e.g. `/chat`. */
  get path(): string {
    return this.request.path;
  }
  /** Query string without `?`. */
  get query(): string {
    return this.request.query;
  }
  /** Request headers (lower-case names). */
  get headers(): RequestInfo['headers'] {
    return this.request.headers;
  }
  /** Peer address, '' for a Unix socket. */
  get remoteAddress(): string {
    return this.request.remoteAddress;
  }

  /** Bytes queued for sending and not yet handed to the kernel (including messages being compressed). */
  get bufferedAmount(): number {
    return this.socket.writableLength + this.queuedBytes;
  }

  get readyState(): ReadyState {
    if (this.finished) return 'closed';
    return this.session.state === 'open' ? 'open' : 'closing';
  }

  /** True while messages may be sent. */
  get isOpen(): boolean {
    return !this.finished && !this.session.hasSentClose && this.closeAfterQueue === undefined;
  }

  /**
   * Sends one message: text for a string (unless `binary` is true), binary for bytes (unless `binary`
   * is false). Returns false once the send buffer is over its high-water mark (16 KiB by default, as
   * Node streams do): the message is still queued, and `drain` follows. Also false, with nothing sent,
   * once the connection is closing or closed (as `ws` does): a reply racing a Close is not an error.
   * A payload that is neither a string nor bytes throws a TypeError.
   */
  send(data: string | Uint8Array, binary?: boolean): boolean {
    checkPayload(data);
    if (!this.isOpen) return false;
    const isBinary = binary ?? typeof data !== 'string';
    const deflate = this.deflate;
    if (deflate === undefined) return this.session.send(data, isBinary);
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (size < deflate.threshold) {
      if (this.outQueue.length === 0) return this.session.send(data, isBinary);
      return this.enqueue({ data, isBinary, compressed: false, size });
    }
    const item: QueuedSend = { data: undefined, isBinary, compressed: true, size };
    const input =
      typeof data === 'string'
        ? Buffer.from(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data.buffer, data.byteOffset, size);
    deflate.compress(input, (error, out) => {
      if (error) return; // compression does not fail on valid input; a closed connection drops the queue
      item.data = out;
      this.flushQueue();
    });
    return this.enqueue(item);
  }

  /** Sends a frame encoded once by `prepareFrame()` (broadcast). Returns false if not open or buffer full. */
  sendPrepared(frame: PreparedFrame): boolean {
    if (!this.isOpen) return false;
    if (this.outQueue.length > 0)
      return this.enqueue({
        data: undefined,
        isBinary: true,
        compressed: false,
        frame,
        size: frame.head.length + (frame.tail?.length ?? 0),
      });
    return this.write(frame.head, frame.tail);
  }

  /** @internal */
  private enqueue(item: QueuedSend): boolean {
    this.outQueue.push(item);
    this.queuedBytes += item.size;
    const ok = this.bufferedAmount < this.socket.writableHighWaterMark;
    if (!ok) this.owesDrain = true;
    return ok;
  }

  /** @internal Writes queued sends, in order, up to the first still being compressed. */
  private flushQueue(): void {
    const queue = this.outQueue;
    let sent = 0;
    while (sent < queue.length) {
      const item = queue[sent];
      if (item.frame === undefined && item.data === undefined) break;
      sent++;
      this.queuedBytes -= item.size;
      if (this.finished || this.session.hasSentClose) continue;
      if (item.frame) this.write(item.frame.head, item.frame.tail);
      else if (item.compressed) this.session.sendCompressed(item.data as Buffer, item.isBinary);
      else this.session.send(item.data!, item.isBinary);
    }
    if (sent > 0) queue.splice(0, sent);
    if (queue.length === 0 && this.closeAfterQueue) {
      const [code, reason] = this.closeAfterQueue;
      this.closeAfterQueue = undefined;
      this.close(code, reason);
    }
    if (
      this.owesDrain &&
      !this.socket.writableNeedDrain &&
      this.bufferedAmount < this.socket.writableHighWaterMark
    ) {
      this.owesDrain = false;
      if (this.isOpen) this.handlers.drain?.(this);
    }
  }

  /**
   * Sends a Ping; the pong arrives through the `pong` callback. False, with nothing sent, once the
   * connection is closing or closed. A payload over 125 bytes throws InvalidStateError.
   */
  ping(payload: string | Uint8Array = ''): boolean {
    checkPayload(payload);
    if (!this.isOpen) return false;
    return this.session.ping(payload);
  }

  /**
   * Starts the closing handshake (default 1000, no reason). The transport is closed when the peer
   * answers, or after `closeTimeout` ms if it does not. A second call does nothing.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.finished || this.session.hasSentClose || this.closeAfterQueue) return;
    if (this.outQueue.length > 0) {
      encodeClosePayload(code, reason); // throws now on a reserved code or a reason too long
      this.closeAfterQueue = [code, reason];
      return;
    }
    this.session.close(code, reason);
    this.armCloseTimer();
  }

  /** Drops the transport at once, without a closing handshake. */
  terminate(): void {
    // Writes of this tick are corked: let them go out first, or destroy() would discard them.
    const socket = this.socket;
    while (socket.writableCorked > 0) socket.uncork();
    socket.destroy();
  }

  /** True between `pause()` and `resume()`. */
  get isPaused(): boolean {
    return this.userPaused;
  }

  /** Stops reading from the peer (backpressure towards it) until `resume()`. */
  pause(): void {
    this.userPaused = true;
    this.socket.pause();
  }

  /** Resumes reading after `pause()`. */
  resume(): void {
    this.userPaused = false;
    this.updateFlow();
  }

  /** @internal Reads the socket only when nobody (user, pong backlog, inflation) holds it. */
  private updateFlow(): void {
    if (this.userPaused || this.controlPaused || this.inflatePaused) this.socket.pause();
    else this.socket.resume();
  }

  /** @internal Feeds bytes that arrived with the handshake. */
  receive(data: Buffer): void {
    if (data.length > 0) this.session.receive(data);
  }

  // SessionHandler

  /** @internal Ends this tick's cork: everything written in the tick leaves in one writev. */
  flushTick(): void {
    this.tickCorked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  }

  /** @internal */
  write(data: Buffer, more?: Buffer): boolean {
    const socket = this.socket;
    if (socket.destroyed) return false;
    // The first write of a tick corks the socket until the tick ends: replies to a chunk of requests, or
    // the messages of a burst of broadcasts, leave in one system call instead of one each. Nothing waits
    // longer than the current tick, and `writableLength` (backpressure, maxBufferedAmount) counts it all.
    if (!this.tickCorked) {
      this.tickCorked = true;
      socket.cork();
      process.nextTick(uncorkTick, this);
    }
    let ok: boolean;
    if (more === undefined) ok = socket.write(data);
    else {
      socket.cork();
      socket.write(data);
      ok = socket.write(more);
      socket.uncork();
    }
    // What was queued before this frame is what the peer failed to read: a message as large as the
    // server accepts may always be written once, whatever maxBufferedAmount is.
    const size = data.length + (more === undefined ? 0 : more.length);
    if (!ok && socket.writableLength - size > this.limits.maxBufferedAmount && !this.session.hasSentClose)
      this.dropSlowReader();
    return ok;
  }

  /**
   * @internal A peer that does not read: Close 1008 goes at the end of its queue (it sees it if it ever
   * reads), nothing more is queued, and the transport is dropped after `closeTimeout` at the latest.
   */
  private dropSlowReader(): void {
    const buffered = this.bufferedAmount;
    const message = `send buffer over ${this.limits.maxBufferedAmount} bytes: peer not reading`;
    this.transportError = new Error(message);
    this.session.fail(new ProtocolError(message, CloseCode.PolicyViolation));
    this.onSlowDrop?.(this as Connection<unknown>, buffered);
  }

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    if (!compressed) {
      this.handlers.message?.(this, data, isBinary);
      return;
    }
    // Inflate with reading held: messages stay in order and one compressed message at a time is in memory.
    this.inflatePaused = true;
    this.socket.pause();
    this.session.pauseParsing();
    this.deflate!.decompress(data, (error, out) => {
      if (error || (!isBinary && !isUtf8(out!))) {
        this.session.fail(
          error ?? new ProtocolError('invalid UTF-8 in a text message', CloseCode.InvalidPayload),
        );
        // Read on (the parser ignores everything now) so the peer's end of the transport is seen.
        this.inflatePaused = false;
        this.updateFlow();
        return;
      }
      this.handlers.message?.(this, out!, isBinary);
      this.inflatePaused = false;
      this.updateFlow();
      this.session.resumeParsing();
    });
  }

  /** @internal */
  onPing(payload: Buffer): void {
    // A peer that pings without reading its pongs must not grow our buffer: stop reading it until drain.
    if (this.socket.writableNeedDrain && !this.controlPaused) {
      this.controlPaused = true;
      this.socket.pause();
    }
    this.handlers.ping?.(this, payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    this.pingSentAt = 0;
    this.handlers.pong?.(this, payload);
  }

  /** @internal */
  onClose(): void {
    if (this.session.role === 'server') this.socket.end();
    this.armCloseTimer();
  }

  /** @internal */
  onProtocolError(error: ProtocolError): void {
    this.protocolError = error;
    this.socket.end();
    this.armCloseTimer();
  }

  /** @internal */
  handleDrain(): void {
    if (this.controlPaused) {
      this.controlPaused = false;
      this.updateFlow();
    }
    if (this.outQueue.length > 0 && this.bufferedAmount >= this.socket.writableHighWaterMark) {
      this.owesDrain = true; // still behind: drain is announced when the queue flushes
      return;
    }
    this.owesDrain = false;
    if (this.isOpen) this.handlers.drain?.(this);
  }

  /** @internal */
  handleTransportClose(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    const session = this.session;
    const handshakeSeen = session.hasReceivedClose || this.protocolError !== undefined;
    session.abort();
    this.deflate?.close();
    this.outQueue = [];
    this.queuedBytes = 0;
    this.owner?.remove(this);
    this.owner = undefined;
    const code = handshakeSeen ? session.closeCode : CloseCode.Abnormal;
    const reason = handshakeSeen ? session.closeReason : (this.transportError?.message ?? '');
    this.handlers.close?.(this, code, reason);
  }

  /** @internal */
  private armCloseTimer(): void {
    if (this.closeTimer || this.finished) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.limits.closeTimeout);
    this.closeTimer.unref();
  }
}
