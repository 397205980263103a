/**
 * Test harness for the sans-I/O protocol core: a seeded PRNG, a frame builder that can produce any frame a
 * peer might send (masked or not, any opcode, FIN and RSV bits, 7/16/64-bit length encodings, a lying length
 * field), a strict frame decoder for what a session writes, input splitters (whole, byte by byte, random split
 * points), and `SessionHarness`, which drives a `WebSocketSession` and records every write and every event
 * together with how many input bytes had been fed when it happened.
 */
import assert from 'node:assert/strict';
import {
  CloseCode,
  Opcode,
  ProtocolError,
  WebSocketSession,
  type SessionHandler,
} from '../../src/protocol/index.js';

// ---------------------------------------------------------------------------------------------------------
// Seeded PRNG (mulberry32): failures reproduce from the seed printed in the mode name.

export class Prng {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255);
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}

/** Seeds used for the random-split feeding mode. Several, so that one lucky split cannot hide a bug. */
export const SPLIT_SEEDS: readonly number[] = [1, 7, 42, 1234, 99991];

// ---------------------------------------------------------------------------------------------------------
// Frame building.

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /**
   * true (default): masked with a fresh key from a seeded sequence (as a client sends); false: unmasked (as a
   * server sends); or the 4-byte key to use.
   */
  mask?: boolean | Uint8Array;
  /** Length field width: 7, 16 or 64 bits. Default: the minimal one for the payload (or `length`). */
  lengthEncoding?: 7 | 16 | 64;
  /**
   * Length to put in the header instead of the payload's (a header that announces more, or less, than what
   * follows; or a 64-bit value with the top bit set, given as a bigint).
   */
  length?: number | bigint;
}

const keyPrng = new Prng(0x5eed);

/** A fresh mask key; never all zeros, so that an unmasking bug cannot hide behind a no-op mask. */
export function nextMaskKey(): Buffer {
  for (;;) {
    const key = keyPrng.bytes(4);
    if (key.readUInt32BE(0) !== 0) return key;
  }
}

function toBytes(payload: Uint8Array | string | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0);
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  return Buffer.from(payload.buffer, payload.byteOffset, payload.length);
}

/** Builds one frame exactly as specified; nothing is validated, so invalid frames are easy to make. */
export function buildFrame(spec: FrameSpec): Buffer {
  const payload = toBytes(spec.payload);
  const declared = spec.length ?? payload.length;
  const declaredNumber = Number(declared);
  const encoding =
    spec.lengthEncoding ??
    (typeof declared === 'bigint' ? 64 : declaredNumber < 126 ? 7 : declaredNumber < 0x10000 ? 16 : 64);
  const key =
    spec.mask === false
      ? undefined
      : spec.mask === true || spec.mask === undefined
        ? nextMaskKey()
        : spec.mask;
  if (key !== undefined && key.length !== 4) throw new TypeError('mask key must be 4 bytes');

  const lengthBytes = encoding === 7 ? 0 : encoding === 16 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (key ? 4 : 0));
  header[0] =
    (spec.fin === false ? 0 : 0x80) |
    (spec.rsv1 ? 0x40 : 0) |
    (spec.rsv2 ? 0x20 : 0) |
    (spec.rsv3 ? 0x10 : 0) |
    (spec.opcode & 0x0f);
  const maskBit = key ? 0x80 : 0;
  if (encoding === 7) {
    if (declaredNumber > 125) throw new RangeError('7-bit length over 125');
    header[1] = maskBit | declaredNumber;
  } else if (encoding === 16) {
    if (declaredNumber > 0xffff) throw new RangeError('16-bit length over 65535');
    header[1] = maskBit | 126;
    header.writeUInt16BE(declaredNumber, 2);
  } else {
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(declared), 2);
  }
  const body = Buffer.from(payload); // a copy: masking must not touch the caller's bytes
  if (key) {
    key.forEach((byte, i) => (header[2 + lengthBytes + i] = byte));
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  }
  return Buffer.concat([header, body]);
}

type FrameOptions = Omit<FrameSpec, 'opcode' | 'payload'>;

/** A masked frame, as a client sends (the server role's input). */
export function clientFrame(
  opcode: number,
  payload?: Uint8Array | string,
  options: FrameOptions = {},
): Buffer {
  return buildFrame({ mask: true, ...options, opcode, payload });
}

/** An unmasked frame, as a server sends (the client role's input). */
export function serverFrame(
  opcode: number,
  payload?: Uint8Array | string,
  options: FrameOptions = {},
): Buffer {
  return buildFrame({ ...options, mask: false, opcode, payload });
}

/** Close payload bytes: a 16-bit code (any value, valid or not) and raw reason bytes. */
export function closePayload(code?: number, reason: Uint8Array | string = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, toBytes(reason)]);
}

/** Shorthands for masked client frames. */
export const c = {
  text: (payload: Uint8Array | string, options: FrameOptions = {}) =>
    clientFrame(Opcode.Text, payload, options),
  binary: (payload: Uint8Array | string, options: FrameOptions = {}) =>
    clientFrame(Opcode.Binary, payload, options),
  cont: (payload: Uint8Array | string, options: FrameOptions = {}) =>
    clientFrame(Opcode.Continuation, payload, options),
  ping: (payload: Uint8Array | string = '', options: FrameOptions = {}) =>
    clientFrame(Opcode.Ping, payload, options),
  pong: (payload: Uint8Array | string = '', options: FrameOptions = {}) =>
    clientFrame(Opcode.Pong, payload, options),
  close: (code?: number, reason: Uint8Array | string = '', options: FrameOptions = {}) =>
    clientFrame(Opcode.Close, closePayload(code, reason), options),
};

/** Shorthands for unmasked server frames. */
export const s = {
  text: (payload: Uint8Array | string, options: FrameOptions = {}) =>
    serverFrame(Opcode.Text, payload, options),
  binary: (payload: Uint8Array | string, options: FrameOptions = {}) =>
    serverFrame(Opcode.Binary, payload, options),
  cont: (payload: Uint8Array | string, options: FrameOptions = {}) =>
    serverFrame(Opcode.Continuation, payload, options),
  ping: (payload: Uint8Array | string = '', options: FrameOptions = {}) =>
    serverFrame(Opcode.Ping, payload, options),
  pong: (payload: Uint8Array | string = '', options: FrameOptions = {}) =>
    serverFrame(Opcode.Pong, payload, options),
  close: (code?: number, reason: Uint8Array | string = '', options: FrameOptions = {}) =>
    serverFrame(Opcode.Close, closePayload(code, reason), options),
};

/**
 * Splits `payload` into `count`-byte fragments (the last may be shorter) and frames them as one fragmented
 * message: the first with `opcode`, the rest Continuation, FIN on the last. An empty payload gives one frame.
 */
export function fragmentedMessage(
  opcode: number,
  payload: Uint8Array | string,
  fragmentSize: number,
  options: { mask?: boolean } = {},
): Buffer {
  const bytes = toBytes(payload);
  const frames: Buffer[] = [];
  const mask = options.mask ?? true;
  if (bytes.length === 0) return buildFrame({ opcode, payload: bytes, mask });
  for (let at = 0; at < bytes.length; at += fragmentSize) {
    const end = Math.min(bytes.length, at + fragmentSize);
    frames.push(
      buildFrame({
        opcode: at === 0 ? opcode : Opcode.Continuation,
        payload: bytes.subarray(at, end),
        fin: end === bytes.length,
        mask,
      }),
    );
  }
  return Buffer.concat(frames);
}

// ---------------------------------------------------------------------------------------------------------
// Frame decoding (of what a session wrote).

export interface DecodedFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | undefined;
  /** Unmasked payload. */
  payload: Buffer;
  /** Width of the length field used: 7, 16 or 64 bits. */
  lengthEncoding: 7 | 16 | 64;
}

/** Decodes a byte string into frames. Throws on trailing bytes that do not make a whole frame. */
export function decodeFrames(data: Buffer): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  let at = 0;
  while (at < data.length) {
    if (data.length - at < 2) throw new Error(`truncated frame header at byte ${at}`);
    const b0 = data[at];
    const b1 = data[at + 1];
    const length7 = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    let p = at + 2;
    let length: number;
    let lengthEncoding: 7 | 16 | 64 = 7;
    if (length7 === 126) {
      if (data.length - p < 2) throw new Error('truncated 16-bit length');
      length = data.readUInt16BE(p);
      p += 2;
      lengthEncoding = 16;
    } else if (length7 === 127) {
      if (data.length - p < 8) throw new Error('truncated 64-bit length');
      length = Number(data.readBigUInt64BE(p));
      p += 8;
      lengthEncoding = 64;
    } else length = length7;
    let maskKey: Buffer | undefined;
    if (masked) {
      if (data.length - p < 4) throw new Error('truncated mask key');
      maskKey = Buffer.from(data.subarray(p, p + 4));
      p += 4;
    }
    if (data.length - p < length) throw new Error(`truncated payload: ${data.length - p} of ${length} bytes`);
    const payload = Buffer.from(data.subarray(p, p + length));
    if (maskKey) for (let i = 0; i < payload.length; i++) payload[i] ^= maskKey[i & 3];
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked,
      maskKey,
      payload,
      lengthEncoding,
    });
    at = p + length;
  }
  return frames;
}

/** Code and reason of a Close frame's payload (code undefined when the payload is empty). */
export function closeOf(frame: DecodedFrame): { code: number | undefined; reason: string } {
  assert.equal(frame.opcode, Opcode.Close, `expected a Close frame, got opcode ${frame.opcode}`);
  if (frame.payload.length === 0) return { code: undefined, reason: '' };
  assert.ok(frame.payload.length >= 2, 'a Close payload is empty or at least 2 bytes');
  return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString('utf8') };
}

// ---------------------------------------------------------------------------------------------------------
// Feeding modes: every input whole, byte by byte, and split at random points.

export interface FeedMode {
  name: string;
  /** Cuts `input` into the pieces to feed (subarrays of it, in order, covering it exactly). */
  split(input: Buffer): Buffer[];
}

export const whole: FeedMode = { name: 'whole', split: (input) => (input.length === 0 ? [] : [input]) };

export const byteByByte: FeedMode = {
  name: 'byte-by-byte',
  split(input) {
    const pieces: Buffer[] = [];
    for (let i = 0; i < input.length; i++) pieces.push(input.subarray(i, i + 1));
    return pieces;
  },
};

/** Pieces of exactly `size` bytes (the last may be shorter), like Autobahn's "chopped" sends. */
export function chops(size: number): FeedMode {
  return {
    name: `chops of ${size}`,
    split(input) {
      const pieces: Buffer[] = [];
      for (let at = 0; at < input.length; at += size) pieces.push(input.subarray(at, at + size));
      return pieces;
    },
  };
}

/**
 * Random split points from a seeded PRNG. Piece sizes mix 1–3 bytes (headers cut everywhere), up to 40
 * bytes, and up to `maxPiece` (default: the whole input), so that splits land inside headers, mask keys,
 * payloads and multi-byte characters alike.
 */
export function randomSplits(seed: number, maxPiece?: number): FeedMode {
  return {
    name: `random splits (seed ${seed}${maxPiece ? `, max ${maxPiece}` : ''})`,
    split(input) {
      const rng = new Prng(seed);
      const cap = Math.max(1, maxPiece ?? input.length);
      const pieces: Buffer[] = [];
      let at = 0;
      while (at < input.length) {
        const roll = rng.next();
        const limit = roll < 0.35 ? 3 : roll < 0.7 ? 40 : cap;
        const size = Math.min(input.length - at, rng.int(1, Math.min(limit, cap)));
        pieces.push(input.subarray(at, at + size));
        at += size;
      }
      return pieces;
    },
  };
}

/**
 * The standard set of modes: whole, byte by byte, random splits with every seed. Inputs over `bytewiseLimit`
 * are not fed byte by byte (millions of calls would blow the time budget); they get 1-to-3-byte random
 * pieces over their first and last 4 KiB and 997-byte chops (Autobahn's chop size) in between instead.
 */
export function feedModes(inputLength: number, bytewiseLimit = 256 * 1024): FeedMode[] {
  const random = SPLIT_SEEDS.map((seed) =>
    randomSplits(seed, inputLength > bytewiseLimit ? 64 * 1024 : undefined),
  );
  if (inputLength <= bytewiseLimit) return [whole, byteByByte, ...random];
  return [whole, edgesBytewise(4096, 997), ...random];
}

/** Tiny pieces at both ends of the input, `middle`-byte chops in between. */
export function edgesBytewise(edge: number, middle: number): FeedMode {
  return {
    name: `tiny pieces at the edges, chops of ${middle} between`,
    split(input) {
      const pieces: Buffer[] = [];
      const rng = new Prng(edge ^ middle);
      let at = 0;
      const headEnd = Math.min(edge, input.length);
      const tailStart = Math.max(headEnd, input.length - edge);
      while (at < headEnd) {
        const size = Math.min(headEnd - at, rng.int(1, 3));
        pieces.push(input.subarray(at, at + size));
        at += size;
      }
      while (at < tailStart) {
        const size = Math.min(tailStart - at, middle);
        pieces.push(input.subarray(at, at + size));
        at += size;
      }
      while (at < input.length) {
        const size = Math.min(input.length - at, rng.int(1, 3));
        pieces.push(input.subarray(at, at + size));
        at += size;
      }
      return pieces;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Session harness.

export type SessionEvent =
  | { type: 'message'; data: Buffer; isBinary: boolean; at: number }
  | { type: 'ping'; payload: Buffer; at: number }
  | { type: 'pong'; payload: Buffer; at: number }
  | { type: 'close'; code: number; reason: string; at: number }
  | { type: 'error'; error: ProtocolError; at: number };

export interface HarnessOptions {
  role?: 'server' | 'client';
  /** Default 16 MiB. */
  maxMessageSize?: number;
  /** Echo every message back (as Autobahn's echo server does), while this side may still send. */
  echo?: boolean;
  /** Value `handler.write()` returns (the backpressure signal). Default true. */
  writeResult?: boolean;
  /** Run by `eachMode` on each fresh harness before feeding (e.g. to call `close()` first). */
  beforeFeed?: (h: SessionHarness) => void;
}

export interface RecordedWrite {
  /** `data` and `more` joined. */
  bytes: Buffer;
  /** Whether the session passed a separate `more` buffer. */
  split: boolean;
  /** Input bytes fed so far when this write happened. */
  at: number;
}

export class SessionHarness {
  readonly session: WebSocketSession;
  readonly events: SessionEvent[] = [];
  readonly writes: RecordedWrite[] = [];
  /** Input bytes fed so far (counting the piece being processed). */
  fed = 0;
  /** Events raised after the first error or close event: must stay empty. */
  readonly lateEvents: SessionEvent[] = [];
  private ended = false;

  constructor(readonly options: HarnessOptions = {}) {
    const record = (event: SessionEvent): void => {
      if (this.ended) this.lateEvents.push(event);
      this.events.push(event);
      if (event.type === 'error' || event.type === 'close') this.ended = true;
    };
    const handler: SessionHandler = {
      write: (data, more) => {
        this.writes.push({
          bytes: more ? Buffer.concat([data, more]) : Buffer.from(data),
          split: more !== undefined,
          at: this.fed,
        });
        return options.writeResult ?? true;
      },
      onMessage: (data, isBinary) => {
        record({ type: 'message', data: Buffer.from(data), isBinary, at: this.fed });
        if (options.echo && !this.session.hasSentClose) this.session.send(data, isBinary);
      },
      onPing: (payload) => record({ type: 'ping', payload: Buffer.from(payload), at: this.fed }),
      onPong: (payload) => record({ type: 'pong', payload: Buffer.from(payload), at: this.fed }),
      onClose: (code, reason) => record({ type: 'close', code, reason, at: this.fed }),
      onProtocolError: (error) => record({ type: 'error', error, at: this.fed }),
    };
    this.session = new WebSocketSession(
      { role: options.role ?? 'server', maxMessageSize: options.maxMessageSize ?? 16 * 1024 * 1024 },
      handler,
    );
  }

  /** Feeds one piece. The session owns (and unmasks in place) what it receives, so callers pass copies. */
  feed(piece: Buffer): void {
    this.fed += piece.length;
    this.session.receive(piece);
  }

  /** Feeds a private copy of `input`, cut as `mode` says. */
  feedWith(input: Buffer, mode: FeedMode = whole): this {
    for (const piece of mode.split(Buffer.from(input))) this.feed(piece);
    return this;
  }

  /** Everything written, joined. */
  get output(): Buffer {
    return Buffer.concat(this.writes.map((w) => w.bytes));
  }

  /** Everything written, decoded into frames (throws if a frame is cut). */
  frames(): DecodedFrame[] {
    return decodeFrames(this.output);
  }

  messages(): { data: Buffer; isBinary: boolean }[] {
    return this.events.flatMap((e) => (e.type === 'message' ? [{ data: e.data, isBinary: e.isBinary }] : []));
  }

  errors(): ProtocolError[] {
    return this.events.flatMap((e) => (e.type === 'error' ? [e.error] : []));
  }

  eventTypes(): string[] {
    return this.events.map((e) => e.type);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Assertions.

/** Runs `check` once per feeding mode with a fresh harness fed with `input`; failures name the mode. */
export function eachMode(
  input: Buffer,
  options: HarnessOptions,
  check: (h: SessionHarness, mode: FeedMode) => void,
  modes: FeedMode[] = feedModes(input.length),
): void {
  for (const mode of modes) {
    const h = new SessionHarness(options);
    options.beforeFeed?.(h);
    h.feedWith(input, mode);
    withMode(mode.name, () => check(h, mode));
  }
}

/** Prefixes an assertion failure's message with the mode, so a failing split can be reproduced. */
export function withMode(name: string, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof Error) error.message = `[${name}] ${error.message}`;
    throw error;
  }
}

/** Short description of frames for assertion messages. */
export function describeFrames(frames: DecodedFrame[]): string {
  return frames
    .map((f) => {
      const name = (
        { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' } as Record<number, string>
      )[f.opcode];
      const extra =
        f.opcode === Opcode.Close && f.payload.length >= 2 ? `(${f.payload.readUInt16BE(0)})` : '';
      return `${name ?? `op${f.opcode}`}${extra}[${f.payload.length}]${f.fin ? '' : '…'}`;
    })
    .join(' ');
}

/**
 * Asserts that the session failed the connection with `code`: exactly one error event (with that close code)
 * and nothing after it; the frames written are `before` (opcodes, checked by the caller's list) followed by
 * exactly one Close frame carrying `code`, and nothing after it; the session is closed.
 */
export function assertFailed(h: SessionHarness, code: number, beforeOpcodes: number[] = []): void {
  const errors = h.errors();
  assert.equal(errors.length, 1, `expected one protocol error, events: ${h.eventTypes().join(',')}`);
  assert.ok(errors[0] instanceof ProtocolError);
  assert.equal(errors[0].closeCode, code, `close code of the error (${errors[0].message})`);
  assert.equal(h.events.at(-1)?.type, 'error', 'the error is the last event');
  assert.deepEqual(h.lateEvents, [], 'no events after the error');
  const frames = h.frames();
  const summary = describeFrames(frames);
  assert.equal(frames.length, beforeOpcodes.length + 1, `frames written: ${summary}`);
  assert.deepEqual(
    frames.slice(0, -1).map((f) => f.opcode),
    beforeOpcodes,
    `frames before the Close: ${summary}`,
  );
  const last = frames.at(-1)!;
  assert.equal(last.opcode, Opcode.Close, `last frame is a Close: ${summary}`);
  assert.equal(closeOf(last).code, code, `code in the Close frame: ${summary}`);
  assert.ok(last.fin && !last.rsv1 && !last.rsv2 && !last.rsv3);
  assert.equal(last.masked, h.session.role === 'client', 'Close masked iff sent by a client');
  assert.ok(Buffer.byteLength(closeOf(last).reason) <= 123);
  assert.equal(h.session.state, 'closed');
  assert.equal(h.session.closeCode, code);
}

/** Asserts that nothing went wrong: no error event and no Close frame written. */
export function assertOpen(h: SessionHarness): void {
  assert.deepEqual(
    h.errors().map((e) => `${e.closeCode} ${e.message}`),
    [],
    'no protocol error',
  );
  const closes = h.frames().filter((f) => f.opcode === Opcode.Close);
  assert.equal(closes.length, 0, 'no Close frame written');
  assert.equal(h.session.state, 'open');
}

/** Asserts a clean closing handshake answered by this side with `code` (undefined: an empty Close). */
export function assertEchoedClose(
  h: SessionHarness,
  code: number | undefined,
  beforeOpcodes: number[] = [],
): void {
  assert.deepEqual(h.errors(), [], 'no protocol error');
  const frames = h.frames();
  const summary = describeFrames(frames);
  assert.deepEqual(
    frames.map((f) => f.opcode),
    [...beforeOpcodes, Opcode.Close],
    `frames written: ${summary}`,
  );
  assert.equal(closeOf(frames.at(-1)!).code, code, `echoed close code: ${summary}`);
  const closeEvents = h.events.filter((e) => e.type === 'close');
  assert.equal(closeEvents.length, 1, 'one close event');
  assert.equal(h.events.at(-1)?.type, 'close', 'close is the last event');
  assert.deepEqual(h.lateEvents, [], 'no events after the close');
  assert.equal(h.session.state, 'closed');
}

export { CloseCode, Opcode };

// ---------------------------------------------------------------------------------------------------------
// UTF-8 reference and test sequences.

/**
 * Reference UTF-8 check written straight from the RFC 3629 §4 syntax table, byte by byte: the index of the
 * first byte at which `bytes` stops being a prefix of any valid UTF-8 string (-1: none), and whether the
 * bytes end on a character boundary. Valid UTF-8 ⇔ firstInvalid === -1 && complete.
 */
export function utf8Reference(bytes: Uint8Array): { firstInvalid: number; complete: boolean } {
  let need = 0;
  let lo = 0x80;
  let hi = 0xbf;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (need === 0) {
      lo = 0x80;
      hi = 0xbf;
      if (b <= 0x7f) continue;
      if (b >= 0xc2 && b <= 0xdf) need = 1;
      else if (b >= 0xe0 && b <= 0xef) need = 3 - 1;
      else if (b >= 0xf0 && b <= 0xf4) need = 4 - 1;
      else return { firstInvalid: i, complete: false };
      // The second byte's range is narrower after E0 (no overlongs), ED (no surrogates), F0 (no overlongs)
      // and F4 (nothing above U+10FFFF).
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else {
      if (b < lo || b > hi) return { firstInvalid: i, complete: false };
      need--;
      lo = 0x80;
      hi = 0xbf;
    }
  }
  return { firstInvalid: -1, complete: need === 0 };
}

export interface Utf8Case {
  group: string;
  valid: boolean;
  bytes: Buffer;
}

/**
 * The byte sequences of Autobahn cases 6.5–6.23 (Markus Kuhn's UTF-8 decoder stress test, as the Autobahn
 * test suite arranges it), with the verdict Autobahn expects.
 */
export function autobahnUtf8Cases(): Utf8Case[] {
  const cases: Utf8Case[] = [];
  const add = (group: string, valid: boolean, ...hex: string[]) => {
    for (const h of hex) cases.push({ group, valid, bytes: Buffer.from(h, 'hex') });
  };
  const kosme = 'cebae1bdb9cf83cebcceb5';
  add('6.5 some valid UTF-8 sequences', true, '68656c6c6f24776f726c64', '68656c6c6fc2a2776f726c64');
  add(
    '6.5 some valid UTF-8 sequences',
    true,
    '68656c6c6fe282ac776f726c64',
    '68656c6c6ff0a4ada2776f726c64',
    kosme,
  );
  for (let n = 1; n <= kosme.length / 2; n++)
    add('6.6 all prefixes of κόσμε', [2, 5, 7, 9, 11].includes(n), kosme.slice(0, 2 * n));
  add('6.7 first possible sequence of a certain length', true, '00', 'c280', 'e0a080', 'f0908080');
  add('6.8 first possible sequence length 5/6 (invalid code points)', false, 'f888808080', 'fc8480808080');
  add('6.9 last possible sequence of a certain length', true, '7f', 'dfbf', 'efbfbf', 'f48fbfbf');
  add(
    '6.10 last possible sequence length 4/5/6 (invalid code points)',
    false,
    'f7bfbfbf',
    'fbbfbfbfbf',
    'fdbfbfbfbfbf',
  );
  add('6.11 other boundary conditions', true, 'ed9fbf', 'ee8080', 'efbfbd', 'f48fbfbf');
  add('6.11 other boundary conditions', false, 'f4908080');
  add(
    '6.12 unexpected continuation bytes',
    false,
    '80',
    'bf',
    '80bf',
    '80bf80',
    '80bf80bf',
    '80bf80bf80',
    '80bf80bf80bf',
  );
  let allContinuations = '';
  for (let b = 0x80; b < 0xbf; b++) allContinuations += b.toString(16);
  add('6.12 unexpected continuation bytes', false, allContinuations);
  for (const [from, to] of [
    [0xc0, 0xdf],
    [0xe0, 0xef],
    [0xf0, 0xf7],
    [0xf8, 0xfb],
    [0xfc, 0xfd],
  ]) {
    let lonely = '';
    for (let b = from; b < to; b++) lonely += b.toString(16) + '20';
    add('6.13 lonely start characters', false, lonely);
  }
  const missing = [
    'c0',
    'e080',
    'f08080',
    'f8808080',
    'fc80808080',
    'df',
    'efbf',
    'f7bfbf',
    'fbbfbfbf',
    'fdbfbfbfbf',
  ];
  add('6.14 sequences with last continuation byte missing', false, ...missing);
  add('6.15 concatenation of incomplete sequences', false, missing.join(''));
  add('6.16 impossible bytes', false, 'fe', 'ff', 'fefeffff');
  add('6.17 overlong ASCII character', false, 'c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af');
  add('6.18 maximum overlong sequences', false, 'c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf');
  add('6.19 overlong NUL', false, 'c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080');
  add(
    '6.20 single UTF-16 surrogates',
    false,
    'eda080',
    'edadbf',
    'edae80',
    'edafbf',
    'edb080',
    'edbe80',
    'edbfbf',
  );
  add(
    '6.21 paired UTF-16 surrogates',
    false,
    'eda080edb080',
    'eda080edbfbf',
    'edadbfedb080',
    'edadbfedbfbf',
    'edae80edb080',
    'edae80edbfbf',
    'edafbfedb080',
    'edafbfedbfbf',
  );
  add('6.22 non-character code points (valid UTF-8)', true, 'efbfbe', 'efbfbf');
  for (const z1 of ['f0', 'f1', 'f2', 'f3', 'f4'])
    for (const z2 of ['8f', '9f', 'af', 'bf'])
      if (!(z1 === 'f4' && z2 !== '8f'))
        for (const z3 of ['be', 'bf']) {
          const seq = z1 + z2 + 'bf' + z3;
          if (seq !== 'f08fbfbe' && seq !== 'f08fbfbf')
            add('6.22 non-character code points (valid UTF-8)', true, seq);
        }
  add('6.23 Unicode specials', true, 'efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf');
  return cases;
}
