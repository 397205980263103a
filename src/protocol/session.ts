/**
 * One WebSocket connection's protocol state, with no I/O: received bytes go in through `receive()`, events
 * come out through the handler, and bytes to send come out through `handler.write()`. It answers pings,
 * runs the closing handshake in both directions, and fails the connection with the right close code on a
 * protocol error, sending that code before it stops. Nothing received after a Close is processed.
 */
import { randomFillSync } from 'node:crypto';
import { CloseCode, InvalidStateError, ProtocolError } from './errors.js';
import { encodeClosePayload, parseClosePayload, truncateReason } from './close.js';
import { applyMask, headerSize, MAX_CONTROL_PAYLOAD, Opcode, writeHeader } from './frame.js';
import { FrameParser } from './parser.js';

/** What a session reports, and how it sends. All calls are synchronous. */
export interface SessionHandler {
  /**
   * Bytes to transmit, in order. `more`, when given, follows `data` immediately (a large payload kept
   * separate from its header to avoid a copy). Returns false when the transport's buffer is over its
   * high-water mark, as Node's `stream.write()` does.
   */
  write(data: Buffer, more?: Buffer): boolean;
  /** A complete message; `compressed`: it must be inflated first (permessage-deflate). */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /**
   * The closing handshake reached this side: the peer's Close arrived (and was answered, unless we had
   * already sent ours). The transport should now close the TCP connection (server) or wait for the
   * server to close it (client).
   */
  onClose(code: number, reason: string): void;
  /** The peer broke the protocol; a Close with `error.closeCode` has been written. Close the transport. */
  onProtocolError(error: ProtocolError): void;
}

/** Session settings. */
export interface SessionOptions {
  role: 'server' | 'client';
  /** Largest incoming message in bytes; past it the connection fails with 1009. */
  maxMessageSize: number;
  /** permessage-deflate was negotiated: RSV1 marks compressed messages. Default false. */
  compression?: boolean;
}

/** `open` → `closing` (a Close was sent) → `closed` (both sides' Close seen, or failed). */
export type SessionState = 'open' | 'closing' | 'closed';

// Client frames need a fresh random mask key each; drawing 4 bytes at a time from crypto is slow.
const maskPool = Buffer.alloc(8192);
let maskPoolOffset = maskPool.length;
function nextMaskKey(target: Buffer, at: number): void {
  if (maskPoolOffset === maskPool.length) {
    randomFillSync(maskPool);
    maskPoolOffset = 0;
  }
  maskPool.copy(target, at, maskPoolOffset, maskPoolOffset + 4);
  maskPoolOffset += 4;
}

/** Payloads above this size are written after their header rather than copied next to it. */
const COPY_LIMIT = 16 * 1024;

export class WebSocketSession {
  readonly role: 'server' | 'client';
  private readonly parser: FrameParser;
  private readonly masked: boolean;
  private _state: SessionState = 'open';
  private closeSent = false;
  private closeReceived = false;
  /** Code and reason of the Close received (or of the failure), for the owner's close report. */
  closeCode: number = CloseCode.Abnormal;
  closeReason = '';

  constructor(
    options: SessionOptions,
    private readonly handler: SessionHandler,
  ) {
    this.role = options.role;
    this.masked = options.role === 'client';
    this.parser = new FrameParser(
      { role: options.role, maxMessageSize: options.maxMessageSize, allowRsv1: options.compression ?? false },
      this,
    );
  }

  get state(): SessionState {
    return this._state;
  }

  /** True once this side has sent its Close frame. */
  get hasSentClose(): boolean {
    return this.closeSent;
  }

  /** True once the peer's Close frame has arrived. */
  get hasReceivedClose(): boolean {
    return this.closeReceived;
  }

  /** Feeds received bytes (ownership passes to the session: payloads are unmasked in place). */
  receive(data: Buffer): void {
    this.parser.push(data);
  }

  /** Sends one message as one frame. Returns the transport's backpressure signal. */
  send(data: Uint8Array | string, isBinary = typeof data !== 'string'): boolean {
    this.assertCanSend();
    return this.writeFrame(isBinary ? Opcode.Binary : Opcode.Text, data, true);
  }

  /** Sends one message already compressed with permessage-deflate (RSV1 set). */
  sendCompressed(payload: Uint8Array, isBinary: boolean): boolean {
    this.assertCanSend();
    return this.writeFrame(isBinary ? Opcode.Binary : Opcode.Text, payload, true, true);
  }

  /** Fails the connection from outside the parser (a message that does not inflate, or inflates too big). */
  fail(error: ProtocolError): void {
    if (this._state === 'closed') return;
    this.onError(error);
  }

  /** Holds back further received messages (while one is being inflated). */
  pauseParsing(): void {
    this.parser.pause();
  }

  /** Goes on with received bytes after `pauseParsing()`. */
  resumeParsing(): void {
    this.parser.resume();
  }

  /**
   * Sends one frame of a fragmented message: the first with `opcode` Text or Binary, the rest with
   * Continuation, the last with `fin` true. Control frames may be sent between fragments.
   */
  sendFragment(opcode: number, data: Uint8Array | string, fin: boolean): boolean {
    this.assertCanSend();
    if (opcode !== Opcode.Text && opcode !== Opcode.Binary && opcode !== Opcode.Continuation)
      throw new InvalidStateError(`sendFragment takes a data or continuation opcode, not ${opcode}`);
    return this.writeFrame(opcode, data, fin);
  }

  /** Sends a Ping (payload at most 125 bytes). */
  ping(payload: Uint8Array | string = ''): boolean {
    return this.sendControl(Opcode.Ping, payload);
  }

  /** Sends an unsolicited Pong (a heartbeat, RFC 6455 §5.5.3). */
  pong(payload: Uint8Array | string = ''): boolean {
    return this.sendControl(Opcode.Pong, payload);
  }

  /**
   * Starts the closing handshake: sends Close with `code` and `reason` (at most 123 bytes). A second call
   * does nothing. 1005 ("no status") sends a Close with no code; other reserved codes (1004, 1006, 1015,
   * …) and out-of-range ones throw InvalidStateError.
   */
  close(code: number = CloseCode.Normal, reason = ''): void {
    if (this.closeSent || this._state === 'closed') return;
    const payload = encodeClosePayload(code, reason);
    this.closeSent = true;
    this._state = this.closeReceived ? 'closed' : 'closing';
    this.writeFrame(Opcode.Close, payload, true);
  }

  /** Marks the session closed without a handshake (the transport dropped); input is ignored from now on. */
  abort(): void {
    this._state = 'closed';
    this.parser.stop();
  }

  private assertCanSend(): void {
    if (this.closeSent || this._state === 'closed')
      throw new InvalidStateError(
        `cannot send: the connection is ${this._state === 'closed' ? 'closed' : 'closing'}`,
      );
  }

  private sendControl(opcode: number, payload: Uint8Array | string): boolean {
    this.assertCanSend();
    const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (length > MAX_CONTROL_PAYLOAD) throw new InvalidStateError('control frame payload over 125 bytes');
    return this.writeFrame(opcode, payload, true);
  }

  private writeFrame(opcode: number, data: Uint8Array | string, fin: boolean, rsv1 = false): boolean {
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    const size = headerSize(length, this.masked);
    if (!this.masked && length > COPY_LIMIT && typeof data !== 'string') {
      const header = Buffer.allocUnsafe(size);
      writeHeader(header, 0, opcode, length, fin, rsv1, false);
      return this.handler.write(
        header,
        Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, length),
      );
    }
    const frame = Buffer.allocUnsafe(size + length);
    let at = writeHeader(frame, 0, opcode, length, fin, rsv1, this.masked);
    if (this.masked) {
      nextMaskKey(frame, at);
      at += 4;
    }
    if (typeof data === 'string') frame.write(data, at);
    else frame.set(data, at);
    if (this.masked) applyMask(frame.subarray(at), frame.subarray(at - 4, at), 0);
    return this.handler.write(frame);
  }

  // ParserSink: called by the parser.

  /** @internal */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void {
    this.handler.onMessage(data, isBinary, compressed);
  }

  /** @internal */
  onPing(payload: Buffer): void {
    // A ping after our Close gets no pong: nothing but Close may follow a Close (RFC 6455 §5.5.1).
    if (!this.closeSent) this.writeFrame(Opcode.Pong, payload, true);
    this.handler.onPing(payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    this.handler.onPong(payload);
  }

  /** @internal */
  onCloseFrame(payload: Buffer): void {
    let code: number;
    let reason: string;
    try {
      ({ code, reason } = parseClosePayload(payload));
    } catch (error) {
      this.onError(error as ProtocolError);
      return;
    }
    this.closeReceived = true;
    this.closeCode = code;
    this.closeReason = reason;
    if (!this.closeSent) {
      // Echo the peer's code, as RFC 6455 §5.5.1 suggests; an empty Close is answered with an empty one.
      this.closeSent = true;
      this.writeFrame(
        Opcode.Close,
        code === CloseCode.NoStatus ? Buffer.alloc(0) : payload.subarray(0, 2),
        true,
      );
    }
    this._state = 'closed';
    this.handler.onClose(code, reason);
  }

  /** @internal */
  onError(error: ProtocolError): void {
    this.parser.stop();
    this.closeCode = error.closeCode;
    this.closeReason = error.message;
    if (!this.closeSent) {
      this.closeSent = true;
      this.writeFrame(Opcode.Close, encodeClosePayload(error.closeCode, truncateReason(error.message)), true);
    }
    this._state = 'closed';
    this.handler.onProtocolError(error);
  }
}
