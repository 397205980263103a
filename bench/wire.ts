/**
 * The load generator's wire code, written by hand so that it stays cheap: masked client frames built once
 * up front, a minimal incremental reader of server frames that compares every payload byte with what it
 * expects, and the opening handshake over a raw `net` socket (127.0.0.1 only).
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { HOST } from './common.js';

export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;

/** One random mask key for the whole run, with no zero byte (so masking really changes every byte). */
export const MASK_KEY: Buffer = (() => {
  const key = randomBytes(4);
  for (let i = 0; i < 4; i++) if (key[i] === 0) key[i] = 0x5a;
  return key;
})();

/** A complete masked client frame (FIN set) carrying `payload`. */
export function clientFrame(opcode: number, payload: Buffer, mask: Buffer = MASK_KEY): Buffer {
  const length = payload.length;
  const headLength = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headLength + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 0x10000) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  mask.copy(frame, headLength);
  const start = headLength + 4;
  for (let i = 0; i < length; i++) frame[start + i] = payload[i] ^ mask[i & 3];
  return frame;
}

/**
 * Frames for messages 0..n-1 laid out twice in a row, with the offset of each: messages k..k+m-1 (mod n,
 * m <= n) are then always one contiguous slice, written with a single `write` and no copy.
 */
export class FrameRing {
  readonly bytes: Buffer;
  private readonly offsets: number[];

  constructor(
    readonly opcode: number,
    readonly payloads: readonly Buffer[],
    /** Builds one frame (default: a plain masked frame; bench/deflate.ts passes a compressing one). */
    build: (opcode: number, payload: Buffer) => Buffer = clientFrame,
  ) {
    const frames = payloads.map((p) => build(opcode, p));
    this.bytes = Buffer.concat([...frames, ...frames]);
    this.offsets = [0];
    for (const f of [...frames, ...frames])
      this.offsets.push(this.offsets[this.offsets.length - 1] + f.length);
  }

  get size(): number {
    return this.payloads.length;
  }

  /** The frames of `count` consecutive messages starting with message number `first`. */
  slice(first: number, count: number): Buffer {
    const at = first % this.payloads.length;
    return this.bytes.subarray(this.offsets[at], this.offsets[at + count]);
  }
}

/**
 * Reads server frames incrementally. For each frame header it asks `expect(opcode, length)` for the payload
 * it must carry (or throws), then compares the payload byte for byte as pieces arrive. `push` returns the
 * number of frames completed by that chunk. Server frames must be unmasked, unfragmented, RSV-free.
 */
export class FrameReader {
  private readonly head = Buffer.alloc(10);
  private headHave = 0;
  private headNeed = 2;
  private inPayload = false;
  private remaining = 0;
  private expected: Buffer = Buffer.alloc(0);
  private expectedAt = 0;
  /** Total payload bytes verified. */
  verifiedBytes = 0;

  constructor(private readonly expect: (opcode: number, length: number) => Buffer) {}

  push(chunk: Buffer): number {
    let done = 0;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (!this.inPayload) {
        while (this.headHave < this.headNeed && i < n) {
          const byte = chunk[i++];
          this.head[this.headHave++] = byte;
          if (this.headHave === 2) {
            if ((this.head[0] & 0x70) !== 0 || (this.head[0] & 0x80) === 0)
              throw new Error(`unexpected frame flags 0x${this.head[0].toString(16)}`);
            if (this.head[1] & 0x80) throw new Error('masked frame from server');
            const l7 = this.head[1] & 0x7f;
            this.headNeed = l7 === 126 ? 4 : l7 === 127 ? 10 : 2;
          }
        }
        if (this.headHave < this.headNeed) return done;
        const l7 = this.head[1] & 0x7f;
        const length =
          l7 === 126
            ? this.head.readUInt16BE(2)
            : l7 === 127
              ? this.head.readUInt32BE(2) * 0x100000000 + this.head.readUInt32BE(6)
              : l7;
        const expected = this.expect(this.head[0] & 0x0f, length);
        if (expected.length !== length)
          throw new Error(`frame of ${length} bytes, expected ${expected.length}`);
        this.expected = expected;
        this.expectedAt = 0;
        this.remaining = length;
        this.headHave = 0;
        this.headNeed = 2;
        if (length === 0) {
          done++;
          continue;
        }
        this.inPayload = true;
      }
      const take = Math.min(this.remaining, n - i);
      if (chunk.compare(this.expected, this.expectedAt, this.expectedAt + take, i, i + take) !== 0)
        throw new Error('echoed payload differs from what was sent');
      i += take;
      this.expectedAt += take;
      this.remaining -= take;
      this.verifiedBytes += take;
      if (this.remaining === 0) {
        this.inPayload = false;
        done++;
      }
    }
    return done;
  }
}

const HANDSHAKE_KEY = randomBytes(16).toString('base64');
const EXPECTED_ACCEPT = createHash('sha1')
  .update(HANDSHAKE_KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
  .digest('base64');

/** The upgrade request; `extraHeaders` (each line ending in CRLF) e.g. offers an extension. */
export function upgradeRequest(port: number, extraHeaders = ''): Buffer {
  return Buffer.from(
    `GET /bench HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${HANDSHAKE_KEY}\r\nSec-WebSocket-Version: 13\r\n${extraHeaders}\r\n`,
    'latin1',
  );
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** Checks a 101 answer head (latin1, without the blank line); returns an error message or ''. */
function checkSwitchingProtocols(head: string): string {
  if (!head.startsWith('HTTP/1.1 101 ')) return `not a 101: ${JSON.stringify(head.slice(0, 60))}`;
  const lower = head.toLowerCase();
  if (!lower.includes('\r\nupgrade: websocket')) return 'no Upgrade: websocket';
  if (!head.includes(EXPECTED_ACCEPT)) return 'wrong Sec-WebSocket-Accept';
  return '';
}

/** `head`: the 101 answer's head (latin1, without the blank line), '' on error. */
export type HandshakeCallback = (
  error: Error | undefined,
  socket: Socket,
  rest: Buffer,
  head: string,
) => void;

/**
 * Opens a TCP connection to 127.0.0.1:port, sends the upgrade request and waits for a valid 101. The
 * callback runs once, with the socket (listeners removed, flowing paused) and any bytes after the head.
 */
export function openWebSocket(port: number, request: Buffer, callback: HandshakeCallback): Socket {
  const socket = connect({ host: HOST, port, noDelay: true });
  let received: Buffer | undefined;
  let finished = false;
  const finish = (error: Error | undefined, rest: Buffer, head = ''): void => {
    if (finished) return;
    finished = true;
    socket.removeListener('data', onData);
    socket.removeListener('error', onError);
    socket.removeListener('close', onClose);
    if (!error) socket.pause();
    callback(error, socket, rest, head);
  };
  const onData = (chunk: Buffer): void => {
    received = received ? Buffer.concat([received, chunk]) : chunk;
    const end = received.indexOf(HEAD_END);
    if (end === -1) {
      if (received.length > 4096) finish(new Error('101 head too long'), Buffer.alloc(0));
      return;
    }
    const head = received.toString('latin1', 0, end);
    const problem = checkSwitchingProtocols(head);
    finish(problem ? new Error(problem) : undefined, received.subarray(end + 4), head);
  };
  const onError = (error: Error): void => finish(error, Buffer.alloc(0));
  const onClose = (): void => finish(new Error('closed during the handshake'), Buffer.alloc(0));
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.write(request);
  return socket;
}

/**
 * Opens `count` WebSockets, at most `concurrency` handshakes at a time; rejects on the first failure.
 * `request` defaults to the plain upgrade request; `check` may refuse a 101 head (returns an error message).
 */
export function openMany(
  port: number,
  count: number,
  concurrency: number,
  timeoutMs: number,
  request: Buffer = upgradeRequest(port),
  check?: (head: string) => string,
): Promise<{ socket: Socket; rest: Buffer; head: string }[]> {
  return new Promise((resolve, reject) => {
    const opened: { socket: Socket; rest: Buffer; head: string }[] = [];
    const all: Socket[] = [];
    let started = 0;
    let failed = false;
    const timer = setTimeout(
      () => fail(new Error(`opening ${count} connections took over ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      clearTimeout(timer);
      for (const s of all) s.destroy();
      reject(error);
    };
    const next = (): void => {
      if (failed || started >= count) return;
      started++;
      all.push(
        openWebSocket(port, request, (error, socket, rest, head) => {
          const problem = error?.message ?? check?.(head);
          if (problem) return fail(new Error(`handshake ${opened.length + 1}/${count} failed: ${problem}`));
          socket.on('error', () => undefined);
          opened.push({ socket, rest, head });
          if (opened.length === count) {
            clearTimeout(timer);
            resolve(opened);
          } else next();
        }),
      );
    };
    for (let i = 0; i < Math.min(concurrency, count); i++) next();
  });
}
