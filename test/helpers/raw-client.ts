/**
 * A raw WebSocket client over a plain socket, for tests that must send what a real client never would
 * (unmasked frames, bad opcodes, half a frame, a slow head) and read exactly what the server writes back.
 * It keeps every received byte in one buffer; `readHead()`/`readFrame()` consume from its front.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

/** Where to connect: TCP host/port or a Unix socket path. */
export type Target = { port: number; host?: string } | { path: string };

export const Op = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

export interface FrameOptions {
  /** Mask the payload (clients must). Default true. */
  mask?: boolean;
  fin?: boolean;
  /** RSV bits, already shifted (0x40, 0x20, 0x10). */
  rsv?: number;
}

/** Encodes one frame as a client would (masked unless told otherwise). */
export function encodeFrame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  options: FrameOptions = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = options.mask ?? true;
  const fin = options.fin ?? true;
  const length = data.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const head = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  head[0] = (fin ? 0x80 : 0) | (options.rsv ?? 0) | opcode;
  head[1] = (mask ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) head.writeUInt16BE(length, 2);
  else if (lengthBytes === 8) head.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([head, data]);
  const key = randomBytes(4);
  key.copy(head, 2 + lengthBytes);
  const body = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, body]);
}

/** A Close payload: code and reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code, 0);
  out.write(reason, 2);
  return out;
}

export interface RequestOptions {
  path?: string;
  /** Host header value; null omits it. Default `localhost`. */
  host?: string | null;
  method?: string;
  key?: string;
  /** Sec-WebSocket-Version value; null omits it. Default 13. */
  version?: string | null;
  protocols?: string[];
  origin?: string;
  headers?: Record<string, string>;
}

/** A client opening handshake head, valid unless the options say otherwise. */
export function upgradeRequest(options: RequestOptions = {}): { head: string; key: string } {
  const key = options.key ?? randomBytes(16).toString('base64');
  let head = `${options.method ?? 'GET'} ${options.path ?? '/'} HTTP/1.1\r\n`;
  if (options.host !== null) head += `Host: ${options.host ?? 'localhost'}\r\n`;
  head += 'Upgrade: websocket\r\nConnection: Upgrade\r\n';
  head += `Sec-WebSocket-Key: ${key}\r\n`;
  if (options.version !== null) head += `Sec-WebSocket-Version: ${options.version ?? '13'}\r\n`;
  if (options.protocols) head += `Sec-WebSocket-Protocol: ${options.protocols.join(', ')}\r\n`;
  if (options.origin !== undefined) head += `Origin: ${options.origin}\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) head += `${name}: ${value}\r\n`;
  return { head: head + '\r\n', key };
}

export interface ResponseHead {
  status: number;
  statusText: string;
  /** Lower-case names. */
  headers: Record<string, string>;
}

export interface Response extends ResponseHead {
  body: string;
}

/** A frame as received from the server. */
export interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** Close code and reason of a Close frame's payload (1005 when empty). */
export function parseClose(payload: Buffer): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: '' };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}

export class RawClient {
  readonly socket: Socket;
  private chunks: Buffer[] = [];
  private chunksLength = 0;
  private readonly listeners = new Set<() => void>();
  /** The server ended its side (FIN). */
  ended = false;
  /** The socket is fully closed. */
  closed = false;
  /** Resolves when the socket is closed. */
  readonly closedPromise: Promise<void>;
  /** Total bytes received so far (consumed or not). */
  receivedBytes = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.receivedBytes += chunk.length;
      this.chunks.push(chunk);
      this.chunksLength += chunk.length;
      if (this.listeners.size > 0) this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', () => undefined);
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.notify();
        resolve();
      }),
    );
  }

  /** Opens a plain socket (no handshake yet). */
  static connect(target: Target, timeoutMs = 3000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket =
        'path' in target
          ? netConnect(target.path)
          : netConnect({ port: target.port, host: target.host ?? '127.0.0.1' });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('raw connect timed out'));
      }, timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Connects and completes a valid opening handshake (asserting 101). */
  static async open(target: Target, options: RequestOptions = {}): Promise<RawClient> {
    const client = await RawClient.connect(target);
    const { head, key } = upgradeRequest(options);
    client.write(head);
    const response = await client.readHead();
    if (response.status !== 101) {
      client.destroy();
      throw new Error(`expected 101, got ${response.status}`);
    }
    if (response.headers['sec-websocket-accept'] !== acceptFor(key)) {
      client.destroy();
      throw new Error('bad Sec-WebSocket-Accept');
    }
    return client;
  }

  /** Unconsumed received bytes (joined on demand). */
  private get buffer(): Buffer {
    if (this.chunks.length !== 1) {
      const joined =
        this.chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(this.chunks, this.chunksLength);
      this.chunks = [joined];
    }
    return this.chunks[0];
  }

  private set buffer(rest: Buffer) {
    this.chunks = rest.length === 0 ? [] : [rest];
    this.chunksLength = rest.length;
  }

  /** Unconsumed received bytes. */
  get pending(): Buffer {
    return this.buffer;
  }

  /** Number of unconsumed received bytes (cheap). */
  get pendingLength(): number {
    return this.chunksLength;
  }

  write(data: string | Buffer): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(data);
  }

  sendFrame(opcode: number, payload?: Buffer | string, options?: FrameOptions): boolean {
    return this.write(encodeFrame(opcode, payload, options));
  }

  sendClose(code?: number, reason = ''): boolean {
    return this.sendFrame(Op.Close, code === undefined ? Buffer.alloc(0) : closePayload(code, reason));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /**
   * Waits until `check` returns a value (re-checked on every received chunk, end and close). Rejects when
   * the socket closes first (if `failOnClose`) or after `timeoutMs`.
   */
  private waitFor<R>(check: () => R | undefined, label: string, timeoutMs: number): Promise<R> {
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        let value: R | undefined;
        try {
          value = check();
        } catch (error) {
          done();
          reject(error as Error);
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.closed) {
          done();
          reject(new Error(`${label}: socket closed first (${this.buffer.length} bytes unread)`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${label}: timed out after ${timeoutMs} ms (${this.buffer.length} bytes unread)`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(attempt);
      };
      this.listeners.add(attempt);
      attempt();
    });
  }

  /** Reads and consumes one HTTP response head. */
  readHead(timeoutMs = 3000): Promise<ResponseHead> {
    return this.waitFor(
      () => {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end === -1) return undefined;
        const text = this.buffer.subarray(0, end).toString('latin1');
        this.buffer = this.buffer.subarray(end + 4);
        return parseHead(text);
      },
      'readHead',
      timeoutMs,
    );
  }

  /**
   * Reads and consumes one HTTP response: a Content-Length body, a chunked body, or (neither) the bytes
   * up to the server's FIN.
   */
  async readResponse(timeoutMs = 3000): Promise<Response> {
    const head = await this.readHead(timeoutMs);
    const chunked = /chunked/i.test(head.headers['transfer-encoding'] ?? '');
    const lengthHeader = head.headers['content-length'];
    const body = await this.waitFor(
      () => {
        if (chunked) {
          const decoded = decodeChunked(this.buffer);
          if (!decoded) return undefined;
          this.buffer = this.buffer.subarray(decoded.size);
          return decoded.body;
        }
        const length =
          lengthHeader !== undefined ? Number(lengthHeader) : this.ended ? this.buffer.length : -1;
        if (length === -1 || this.buffer.length < length) return undefined;
        const out = this.buffer.subarray(0, length).toString('utf8');
        this.buffer = this.buffer.subarray(length);
        return out;
      },
      'readResponse body',
      timeoutMs,
    );
    return { ...head, body };
  }

  /** Reads and consumes one frame. */
  readFrame(timeoutMs = 3000): Promise<Frame> {
    return this.waitFor(
      () => {
        const parsed = parseFrame(this.buffer);
        if (!parsed) return undefined;
        this.buffer = this.buffer.subarray(parsed.size);
        return parsed.frame;
      },
      'readFrame',
      timeoutMs,
    );
  }

  /** Reads frames until a Close arrives, answering nothing; returns its code and reason. */
  async readClose(timeoutMs = 3000): Promise<{ code: number; reason: string; before: Frame[] }> {
    const before: Frame[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (frame.opcode === Op.Close) return { ...parseClose(frame.payload), before };
      before.push(frame);
    }
  }

  /** Waits for the socket to close; rejects after `timeoutMs`. */
  waitClosed(timeoutMs = 3000): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`socket not closed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void this.closedPromise.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Waits for the server's FIN (or the close); rejects after `timeoutMs`. */
  waitEnded(timeoutMs = 3000): Promise<void> {
    return this.waitFor(() => (this.ended || this.closed ? true : undefined), 'waitEnded', timeoutMs).then(
      () => undefined,
      (error: Error) => {
        if (this.closed) return;
        throw error;
      },
    );
  }
}

function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
  if (!match) throw new Error(`malformed status line: ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(match[1]), statusText: match[2], headers };
}

/** Decodes a complete chunked body at the start of `data`, or undefined if incomplete. */
function decodeChunked(data: Buffer): { body: string; size: number } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol === -1) return undefined;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    at = eol + 2;
    if (size === 0) {
      if (data.length < at + 2) return undefined;
      return { body: Buffer.concat(parts).toString('utf8'), size: at + 2 };
    }
    if (data.length < at + size + 2) return undefined;
    parts.push(data.subarray(at, at + size));
    at += size + 2;
  }
}

/** Parses one whole frame at the start of `data`, or undefined if incomplete. */
export function parseFrame(data: Buffer): { frame: Frame; size: number } | undefined {
  if (data.length < 2) return undefined;
  const masked = (data[1] & 0x80) !== 0;
  const length7 = data[1] & 0x7f;
  let at = 2;
  let length = length7;
  if (length7 === 126) {
    if (data.length < 4) return undefined;
    length = data.readUInt16BE(2);
    at = 4;
  } else if (length7 === 127) {
    if (data.length < 10) return undefined;
    length = Number(data.readBigUInt64BE(2));
    at = 10;
  }
  let key: Buffer | undefined;
  if (masked) {
    if (data.length < at + 4) return undefined;
    key = data.subarray(at, at + 4);
    at += 4;
  }
  if (data.length < at + length) return undefined;
  let payload = Buffer.from(data.subarray(at, at + length));
  if (key) payload = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
  return {
    frame: { fin: (data[0] & 0x80) !== 0, rsv: data[0] & 0x70, opcode: data[0] & 0x0f, masked, payload },
    size: at + length,
  };
}

/**
 * Sends raw bytes as an HTTP request on a fresh socket and reads one response. Reports whether the server
 * closed the socket afterwards (within `closeWithinMs`).
 */
export async function rawRequest(
  target: Target,
  request: string | Buffer,
  options: { timeoutMs?: number; closeWithinMs?: number } = {},
): Promise<Response & { closed: boolean }> {
  const client = await RawClient.connect(target);
  try {
    client.write(request);
    const response = await client.readResponse(options.timeoutMs ?? 3000);
    let closed = true;
    await client.waitEnded(options.closeWithinMs ?? 3000).catch(() => {
      closed = false;
    });
    return { ...response, closed };
  } finally {
    client.destroy();
  }
}
