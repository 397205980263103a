/**
 * Incremental frame parser (RFC 6455 §5). Bytes go in as they arrive, split anywhere; whole messages,
 * control frames and the first protocol error come out through a sink. A message whose payload lies in
 * one read is used where it lies (unmasked in place). Any other message is allocated once, when its frame
 * header announces the length (never past the limit), and each arriving piece is copied and unmasked
 * into place in one pass; fragments grow it geometrically, capped at the limit. UTF-8 is checked piece by
 * piece as it arrives, so an invalid byte fails at once and the work per byte is constant.
 */
import { ProtocolError, CloseCode } from './errors.js';
import { applyMask, maskInto, MAX_CONTROL_PAYLOAD, Opcode } from './frame.js';
import { Utf8Validator } from './utf8.js';

/** Receives what the parser finds. Called synchronously from `push()`. */
export interface ParserSink {
  /** A complete message. `data` is owned by the receiver. `compressed`: RSV1 was set on its first frame. */
  onMessage(data: Buffer, isBinary: boolean, compressed: boolean): void;
  onPing(payload: Buffer): void;
  onPong(payload: Buffer): void;
  /** A Close frame's raw payload (validated by the session). */
  onCloseFrame(payload: Buffer): void;
  /** The first protocol error; the parser stops after it. */
  onError(error: ProtocolError): void;
}

/** Parser settings. */
export interface ParserOptions {
  /** `server` expects masked frames, `client` unmasked ones. */
  role: 'server' | 'client';
  /** Largest message (sum of its fragments' payloads) accepted; past it: 1009. */
  maxMessageSize: number;
  /** Whether RSV1 may be set on a message's first frame (permessage-deflate negotiated). Default false. */
  allowRsv1?: boolean;
  /**
   * Text messages are UTF-8-checked as they arrive unless compressed (then after inflation, elsewhere).
   * Default true.
   */
  validateUtf8?: boolean;
}

/** A header split across chunks is gathered here; it is read at once, so every parser can share it. */
const scratch = Buffer.alloc(14);
const sharedKey = Buffer.alloc(4);

const enum State {
  Header,
  Payload,
}

export class FrameParser {
  private readonly expectMasked: boolean;
  private readonly maxMessageSize: number;
  private readonly allowRsv1: boolean;
  private readonly validateUtf8: boolean;

  private chunks: Buffer[] = [];
  /** Read position in `chunks[0]`. */
  private offset = 0;
  private buffered = 0;
  private state = State.Header;
  private stopped = false;
  private paused = false;

  // The frame being read.
  private fin = false;
  private opcode = 0;
  private masked = false;
  /** The frame's mask key, as four bytes packed in a number (a Buffer per parser costs memory per connection). */
  private maskWord = 0;
  private maskOffset = 0;
  private remaining = 0;

  // The message being assembled. messageOpcode 0: none in progress.
  private messageOpcode = 0;
  private messageCompressed = false;
  /** The message being filled (capacity may exceed messageLength while fragments arrive). */
  private message: Buffer | undefined;
  /** A single-frame message used in place, in the read it arrived in. */
  private direct: Buffer | undefined;
  private messageLength = 0;
  /** The current message's wire limit: no buffer grows past it. */
  private wireLimit = 0;
  private readonly utf8 = new Utf8Validator();

  constructor(
    options: ParserOptions,
    private readonly sink: ParserSink,
  ) {
    this.expectMasked = options.role === 'server';
    this.maxMessageSize = options.maxMessageSize;
    this.allowRsv1 = options.allowRsv1 ?? false;
    this.validateUtf8 = options.validateUtf8 ?? true;
  }

  /** Bytes held while waiting for the rest of a header or control frame (bounded by 14 + 125). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** True once an error was reported or `stop()` called: input is ignored from then on. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Stops parsing for good (after a Close frame, an error, or by the owner) and drops held bytes. */
  stop(): void {
    this.stopped = true;
    this.chunks = [];
    this.message = undefined;
    this.direct = undefined;
    this.buffered = 0;
    this.offset = 0;
  }

  /** Feeds received bytes. The parser takes ownership of `chunk` (payloads are unmasked in place). */
  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.run();
  }

  /**
   * Stops delivering after the current event; bytes keep queueing until `resume()`. Used while a
   * compressed message is inflated, so messages stay in order and at most one is in memory at a time.
   */
  pause(): void {
    this.paused = true;
  }

  /** Goes on with the bytes queued while paused. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.run();
  }

  private run(): void {
    while (!this.stopped && !this.paused) {
      if (this.state === State.Header) {
        if (!this.readHeader()) return;
      } else if (!this.readPayload()) return;
    }
  }

  private fail(message: string, code: number): false {
    this.stop();
    this.sink.onError(new ProtocolError(message, code));
    return false;
  }

  private byteAt(index: number): number {
    let position = this.offset + index;
    for (const chunk of this.chunks) {
      if (position < chunk.length) return chunk[position];
      position -= chunk.length;
    }
    return -1;
  }

  /** Drops `count` bytes from the front of the queue. */
  private skip(count: number): void {
    this.buffered -= count;
    while (count > 0) {
      const chunk = this.chunks[0];
      const left = chunk.length - this.offset;
      if (count < left) {
        this.offset += count;
        return;
      }
      count -= left;
      this.chunks.shift();
      this.offset = 0;
    }
  }

  /** Takes up to `max` bytes from the first chunk without copying. */
  private takePiece(max: number): Buffer {
    const chunk = this.chunks[0];
    const left = chunk.length - this.offset;
    let piece: Buffer;
    if (max >= left) {
      piece = this.offset === 0 ? chunk : chunk.subarray(this.offset);
      this.chunks.shift();
      this.offset = 0;
      this.buffered -= left;
    } else {
      piece = chunk.subarray(this.offset, this.offset + max);
      this.offset += max;
      this.buffered -= max;
    }
    return piece;
  }

  /** Takes exactly `count` bytes (count <= buffered), copying only when they span chunks. */
  private take(count: number): Buffer {
    const first = this.chunks[0];
    if (first.length - this.offset >= count) return this.takePiece(count);
    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) filled += this.takePiece(count - filled).copy(out, filled);
    return out;
  }

  private readHeader(): boolean {
    if (this.buffered < 2) return false;
    const first = this.chunks[0];
    const direct = first.length - this.offset >= 2;
    const b0 = direct ? first[this.offset] : this.byteAt(0);
    const b1 = direct ? first[this.offset + 1] : this.byteAt(1);

    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const length7 = b1 & 0x7f;

    if ((b0 & 0x30) !== 0) return this.fail('RSV2 or RSV3 set', CloseCode.ProtocolError);
    const isControl = opcode >= 0x8;
    if (isControl) {
      if (opcode > Opcode.Pong) return this.fail(`reserved opcode ${opcode}`, CloseCode.ProtocolError);
      if (!fin) return this.fail('fragmented control frame', CloseCode.ProtocolError);
      if (rsv1) return this.fail('RSV1 set on a control frame', CloseCode.ProtocolError);
      if (length7 > MAX_CONTROL_PAYLOAD)
        return this.fail('control frame over 125 bytes', CloseCode.ProtocolError);
    } else if (opcode === Opcode.Continuation) {
      if (this.messageOpcode === 0)
        return this.fail('continuation frame with no message', CloseCode.ProtocolError);
      if (rsv1) return this.fail('RSV1 set on a continuation frame', CloseCode.ProtocolError);
    } else if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      if (this.messageOpcode !== 0)
        return this.fail('new message inside a fragmented one', CloseCode.ProtocolError);
      if (rsv1 && !this.allowRsv1) return this.fail('RSV1 set without an extension', CloseCode.ProtocolError);
    } else return this.fail(`reserved opcode ${opcode}`, CloseCode.ProtocolError);
    if (masked !== this.expectMasked)
      return this.fail(
        masked ? 'masked frame from server' : 'unmasked frame from client',
        CloseCode.ProtocolError,
      );

    const lengthBytes = length7 === 126 ? 2 : length7 === 127 ? 8 : 0;
    const size = 2 + lengthBytes + (masked ? 4 : 0);
    if (this.buffered < size) return false;
    const header = first.length - this.offset >= size ? first : this.gather(size);
    const at = header === first ? this.offset : 0;

    let length = length7;
    if (lengthBytes === 2) length = header.readUInt16BE(at + 2);
    else if (lengthBytes === 8) {
      const high = header.readUInt32BE(at + 2);
      if (high & 0x80000000) return this.fail('64-bit length with the top bit set', CloseCode.ProtocolError);
      length = high * 0x100000000 + header.readUInt32BE(at + 6);
    }
    if (masked) {
      const k = at + 2 + lengthBytes;
      this.maskWord = header.readUInt32BE(k);
    }
    // A compressed message is held to the limit once inflated; on the wire, incompressible data may
    // exceed it by deflate's overhead (5 bytes per stored block; blocks are as small as 128 bytes at
    // memLevel 1), so allow zlib's conservative deflateBound here.
    const compressed = opcode === Opcode.Continuation ? this.messageCompressed : rsv1;
    const wireLimit = compressed
      ? this.maxMessageSize + Math.ceil(this.maxMessageSize / 8) + Math.ceil(this.maxMessageSize / 64) + 64
      : this.maxMessageSize;
    if (!isControl && this.messageLength + length > wireLimit)
      return this.fail(`message over ${this.maxMessageSize} bytes`, CloseCode.MessageTooBig);

    this.skip(size);
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.maskOffset = 0;
    this.remaining = length;
    if (!isControl) this.wireLimit = wireLimit;
    if (opcode === Opcode.Text || opcode === Opcode.Binary) {
      this.messageOpcode = opcode;
      this.messageCompressed = rsv1;
    }
    this.state = State.Payload;
    return true;
  }

  /** The mask key as bytes, in a buffer shared by all parsers (used at once, never kept). */
  private keyBytes(): Buffer {
    sharedKey.writeUInt32BE(this.maskWord, 0);
    return sharedKey;
  }

  /** Copies the first `size` buffered bytes into scratch space (a header split across chunks). */
  private gather(size: number): Buffer {
    let filled = 0;
    let position = this.offset;
    for (const chunk of this.chunks) {
      const n = chunk.copy(scratch, filled, position, Math.min(chunk.length, position + size - filled));
      filled += n;
      position = 0;
      if (filled === size) break;
    }
    return scratch;
  }

  private readPayload(): boolean {
    if (this.opcode >= 0x8) {
      if (this.buffered < this.remaining) return false;
      const payload = this.remaining === 0 ? Buffer.alloc(0) : this.take(this.remaining);
      if (this.masked) applyMask(payload, this.keyBytes(), 0);
      this.state = State.Header;
      if (this.opcode === Opcode.Ping) this.sink.onPing(payload);
      else if (this.opcode === Opcode.Pong) this.sink.onPong(payload);
      else {
        this.stop();
        this.sink.onCloseFrame(payload);
      }
      return true;
    }
    while (this.remaining > 0) {
      if (this.buffered === 0) return false;
      let message = this.message;
      const needed = this.messageLength + this.remaining;
      if (message === undefined) {
        const inOneRead =
          this.fin && this.messageLength === 0 && this.chunks[0].length - this.offset >= needed;
        if (!inOneRead) message = this.grow(needed);
      } else if (message.length < needed) message = this.grow(needed);
      const piece = this.takePiece(this.remaining);
      let data: Buffer;
      if (message === undefined) {
        if (this.masked) applyMask(piece, this.keyBytes(), this.maskOffset);
        this.direct = data = piece;
      } else {
        if (this.masked) maskInto(piece, this.keyBytes(), this.maskOffset, message, this.messageLength);
        else message.set(piece, this.messageLength);
        data = message.subarray(this.messageLength, this.messageLength + piece.length);
      }
      this.maskOffset = (this.maskOffset + piece.length) & 3;
      this.remaining -= piece.length;
      this.messageLength += piece.length;
      if (
        this.messageOpcode === Opcode.Text &&
        this.validateUtf8 &&
        !this.messageCompressed &&
        !this.utf8.write(data)
      )
        return this.fail('invalid UTF-8 in a text message', CloseCode.InvalidPayload);
    }
    this.state = State.Header;
    if (this.fin) this.finishMessage();
    return true;
  }

  /**
   * Makes room for `needed` bytes (the header check keeps `needed` within the wire limit): exactly that
   * for a message's first frame, else doubling so many fragments cost few copies, never past the limit.
   */
  private grow(needed: number): Buffer {
    const old = this.message;
    const size = old === undefined ? needed : Math.min(this.wireLimit, Math.max(needed, old.length * 2));
    const message = Buffer.allocUnsafe(size);
    if (old !== undefined) old.copy(message, 0, 0, this.messageLength);
    this.message = message;
    return message;
  }

  private finishMessage(): void {
    const isText = this.messageOpcode === Opcode.Text;
    const compressed = this.messageCompressed;
    if (isText && this.validateUtf8 && !compressed && !this.utf8.complete) {
      this.fail('text message ends inside a UTF-8 sequence', CloseCode.InvalidPayload);
      return;
    }
    const data =
      this.direct ??
      (this.message === undefined ? Buffer.alloc(0) : this.message.subarray(0, this.messageLength));
    this.message = undefined;
    this.direct = undefined;
    this.messageLength = 0;
    this.messageOpcode = 0;
    this.messageCompressed = false;
    this.utf8.reset();
    this.sink.onMessage(data, !isText, compressed);
  }
}
