/**
 * Helpers for the permessage-deflate tests (test/deflate/): an independent zlib codec with its own
 * context handling, a raw client that negotiates deflate and sends/reads compressed frames by hand, a
 * fake server for client-side negotiation, a byte-counting TCP proxy (proves compression happened on the
 * wire, whoever the peers are), a server in a child process for memory measurements, and peer detection
 * (Chromium, Python websockets) that skips clearly or fails under WSBRIDGE_REQUIRE_PEERS=1.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  connect as netConnect,
  createServer as createNetServer,
  type AddressInfo,
  type Socket,
} from 'node:net';
import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  deflateRawSync,
  type DeflateRaw,
  type InflateRaw,
} from 'node:zlib';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import {
  acceptFor,
  encodeFrame,
  Op,
  parseClose,
  RawClient,
  upgradeRequest,
  type Frame,
  type Target,
} from './raw-client.js';
import { spawnScriptServer, within } from './server-harness.js';
import { MessageDeflate } from '../../src/server/deflate.js';

export { Op, type Frame } from './raw-client.js';

export const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);
export const RSV1 = 0x40;

// ------------------------------------------------------------------------------------------------- peers

/** Peers must be present (CI): a missing peer fails instead of skipping. */
export const REQUIRE_PEERS = process.env.WSBRIDGE_REQUIRE_PEERS === '1';

/** Skips the test with `why`, or fails it when WSBRIDGE_REQUIRE_PEERS=1. */
export function peerMissing(t: TestContext, why: string): void {
  if (REQUIRE_PEERS) assert.fail(`${why} (WSBRIDGE_REQUIRE_PEERS=1 requires it)`);
  t.skip(`SKIPPED: ${why}`);
}

export const PYTHON = '/usr/bin/python3';
export const CHROMIUM = '/usr/bin/chromium';
/** Why Python `websockets` cannot be used, or undefined when it can. */
export function pythonWebsocketsMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is not installed`;
  const probe = spawnSync(PYTHON, ['-c', 'import websockets; print(websockets.__version__)'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (probe.status !== 0)
    return `python websockets is not importable: ${probe.stderr.trim().split('\n').pop()}`;
  return undefined;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A Python program started with `-c`, its stdout parsed line by line as JSON. */
export interface PythonRun {
  child: ChildProcess;
  /** Resolves with the next JSON line printed. */
  nextLine(ms?: number): Promise<Record<string, unknown>>;
  /** Waits for exit (kills after `ms`); resolves with the exit code and stderr. */
  exited(ms?: number): Promise<{ code: number | null; stderr: string }>;
  kill(): Promise<void>;
}

export function runPython(code: string, args: string[] = []): PythonRun {
  const child = spawn(PYTHON, ['-u', '-c', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (status) => {
      children.delete(child);
      resolve(status);
    }),
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    partial += s;
    let nl: number;
    while ((nl = partial.indexOf('\n')) !== -1) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
    for (const w of waiters.splice(0)) w();
  });
  const run: PythonRun = {
    child,
    nextLine: (ms = 20_000) =>
      within(
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const attempt = (): void => {
            const line = lines.shift();
            if (line !== undefined) {
              try {
                resolve(JSON.parse(line) as Record<string, unknown>);
              } catch {
                reject(new Error(`python printed a non-JSON line: ${line}\nstderr: ${stderr}`));
              }
            } else if (child.exitCode !== null)
              reject(new Error(`python exited (${child.exitCode}): ${stderr}`));
            else waiters.push(attempt);
          };
          void exit.then(() => waiters.includes(attempt) && attempt());
          attempt();
        }),
        ms,
        `python output (stderr so far: ${stderr})`,
      ),
    exited: async (ms = 20_000) => {
      const code = await within(exit, ms, 'python exit').catch(async (error: Error) => {
        child.kill('SIGKILL');
        await exit;
        throw new Error(`${error.message}; stderr: ${stderr}`);
      });
      return { code, stderr };
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
  return run;
}

// ------------------------------------------------------------------------------------------------ payloads

const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore ' +
  'et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ' +
  'aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum ' +
  'fugiat nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui officia ' +
  'deserunt mollit anim id est laborum héllo wörld ünïcødé 日本語 テキスト emoji 🚀🎉'
).split(' ');

/** A deterministic pseudo-random generator (xorshift32). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Compressible text of exactly `bytes` UTF-8 bytes (words, some multi-byte), deterministic per seed. */
export function compressibleText(bytes: number, seed = 1): string {
  const next = rng(seed);
  let out = '';
  let size = 0;
  while (size < bytes) {
    const word = WORDS[next() % WORDS.length] + ' ';
    const length = Buffer.byteLength(word);
    if (size + length > bytes) {
      out += 'x'.repeat(bytes - size);
      break;
    }
    out += word;
    size += length;
  }
  return out;
}

/** Compressible bytes: runs and repeated records mixed with noise, deterministic per seed. */
export function compressibleBinary(bytes: number, seed = 1): Buffer {
  const next = rng(seed);
  const out = Buffer.allocUnsafe(bytes);
  let i = 0;
  while (i < bytes) {
    const kind = next() % 4;
    const run = Math.min(bytes - i, 4 + (next() % 60));
    for (let k = 0; k < run; k++)
      out[i + k] = kind === 0 ? next() & 0xff : kind === 1 ? 0 : (k * 7 + kind) & 0xff;
    i += run;
  }
  return out;
}

/** Incompressible printable text (random base64), deterministic per seed. */
export function randomText(bytes: number, seed = 1): string {
  const next = rng(seed);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  for (let i = 0; i < bytes; i++) out += alphabet[next() & 63];
  return out;
}

// --------------------------------------------------------------------------------------------------- codec

function endsWithTrailer(data: Buffer): boolean {
  return data.length >= 4 && data.subarray(data.length - 4).equals(TRAILER);
}

/** Compresses one message from a fresh context (RFC 7692 §7.2.1: sync flush, trailer removed). */
export function deflateMessage(data: Buffer | string, windowBits = 15, level = 6): Buffer {
  const out = deflateRawSync(typeof data === 'string' ? Buffer.from(data) : data, {
    windowBits,
    level,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  return endsWithTrailer(out) ? out.subarray(0, out.length - 4) : out;
}

/**
 * A message compressor independent of the code under test: one zlib stream, its context kept between
 * messages unless `noContext`. Calls are serialized.
 */
export class Compressor {
  private stream: DeflateRaw | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  constructor(
    readonly windowBits = 15,
    readonly noContext = false,
    readonly level = 6,
  ) {}

  compress(data: Buffer | string): Promise<Buffer> {
    const input = typeof data === 'string' ? Buffer.from(data) : data;
    const result = this.chain.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          const stream = (this.stream ??= createDeflateRaw({
            windowBits: this.windowBits,
            level: this.level,
          }));
          const chunks: Buffer[] = [];
          const onData = (chunk: Buffer): void => void chunks.push(chunk);
          stream.on('data', onData);
          stream.once('error', reject);
          stream.write(input);
          stream.flush(constants.Z_SYNC_FLUSH, () => {
            stream.removeListener('data', onData);
            stream.removeListener('error', reject);
            if (this.noContext) stream.reset();
            const out = Buffer.concat(chunks);
            resolve(endsWithTrailer(out) ? out.subarray(0, out.length - 4) : out);
          });
        }),
    );
    this.chain = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.stream?.close();
    this.stream = undefined;
  }
}

/** A message decompressor independent of the code under test (window exactly as negotiated). */
export class Decompressor {
  private stream: InflateRaw | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  constructor(
    readonly windowBits = 15,
    readonly noContext = false,
  ) {}

  inflate(data: Buffer): Promise<Buffer> {
    const result = this.chain.then(
      () =>
        new Promise<Buffer>((resolve, reject) => {
          const stream = (this.stream ??= createInflateRaw({ windowBits: this.windowBits }));
          const chunks: Buffer[] = [];
          const onData = (chunk: Buffer): void => void chunks.push(chunk);
          const onError = (error: Error): void => {
            stream.removeListener('data', onData);
            this.stream = undefined;
            reject(error);
          };
          stream.on('data', onData);
          stream.once('error', onError);
          stream.write(data);
          stream.write(TRAILER);
          stream.flush(() => {
            stream.removeListener('data', onData);
            stream.removeListener('error', onError);
            if (this.noContext) stream.reset();
            resolve(Buffer.concat(chunks));
          });
        }),
    );
    this.chain = result.catch(() => undefined);
    return result;
  }

  close(): void {
    this.stream?.close();
    this.stream = undefined;
  }
}

// ------------------------------------------------------------------------------------- extension headers

/** Parses one permessage-deflate response into a map (independently of the code under test). */
export function parseDeflateHeader(value: string): Map<string, string | true> {
  const parts = value.split(';').map((p) => p.trim());
  assert.equal(parts[0], 'permessage-deflate', `extension name in '${value}'`);
  const params = new Map<string, string | true>();
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq).trim();
    assert.ok(!params.has(key), `duplicate ${key} in '${value}'`);
    params.set(
      key,
      eq === -1
        ? true
        : part
            .slice(eq + 1)
            .trim()
            .replace(/^"|"$/g, ''),
    );
  }
  return params;
}

// ------------------------------------------------------------------------------------------- raw client

/** A received message, as the raw client saw it on the wire. */
export interface WireMessage {
  opcode: number;
  /** Inflated (if compressed) payload. */
  data: Buffer;
  compressed: boolean;
  /** The frames it came in (payloads as on the wire). */
  frames: Frame[];
  /** Payload bytes on the wire. */
  wireSize: number;
}

/**
 * A raw client that (optionally) offers permessage-deflate, then sends hand-built frames and reads the
 * server's frames, inflating compressed messages with the negotiated server window and context rules.
 */
export class DeflateRawClient {
  /** Compresses with the negotiated client window and context rule. */
  readonly compressor: Compressor;
  /** Inflates with the negotiated server window and context rule. */
  readonly decompressor: Decompressor;

  private constructor(
    readonly raw: RawClient,
    /** The server's Sec-WebSocket-Extensions answer ('' when none). */
    readonly extensions: string,
    readonly params: Map<string, string | true> | undefined,
  ) {
    const serverBits = Number(params?.get('server_max_window_bits') ?? 15);
    const clientBits = Number(params?.get('client_max_window_bits') ?? 15);
    this.compressor = new Compressor(clientBits, params?.has('client_no_context_takeover') ?? false);
    this.decompressor = new Decompressor(serverBits, params?.has('server_no_context_takeover') ?? false);
  }

  /** Connects, sends `offer` (none when undefined) and asserts 101. */
  static async open(target: Target, offer: string | undefined, path = '/'): Promise<DeflateRawClient> {
    const raw = await RawClient.connect(target);
    const { head, key } = upgradeRequest({
      path,
      headers: offer === undefined ? {} : { 'Sec-WebSocket-Extensions': offer },
    });
    raw.write(head);
    const response = await raw.readHead();
    if (response.status !== 101 || response.headers['sec-websocket-accept'] !== acceptFor(key)) {
      raw.destroy();
      throw new Error(`handshake failed: ${response.status}`);
    }
    const extensions = response.headers['sec-websocket-extensions'] ?? '';
    const client = new DeflateRawClient(
      raw,
      extensions,
      extensions ? parseDeflateHeader(extensions) : undefined,
    );
    opened.add(client);
    return client;
  }

  get negotiated(): boolean {
    return this.params !== undefined;
  }

  /** Sends a frame as is (masked). */
  frame(opcode: number, payload: Buffer | string, options: { fin?: boolean; rsv?: number } = {}): void {
    this.raw.sendFrame(opcode, payload, options);
  }

  /** Sends one uncompressed message. */
  sendPlain(data: Buffer | string, binary = typeof data !== 'string'): void {
    this.raw.sendFrame(binary ? Op.Binary : Op.Text, data);
  }

  /**
   * Compresses one message with this client's context and sends it, in one frame or split into
   * fragments at `splits` (offsets into the compressed payload; RSV1 on the first frame only).
   */
  async sendCompressed(
    data: Buffer | string,
    options: { binary?: boolean; splits?: number[] } = {},
  ): Promise<Buffer> {
    const binary = options.binary ?? typeof data !== 'string';
    const payload = await this.compressor.compress(data);
    this.sendFragments(binary ? Op.Binary : Op.Text, payload, options.splits ?? []);
    return payload;
  }

  /** Sends a compressed payload as fragments cut at `splits`, RSV1 on the first frame only. */
  sendFragments(opcode: number, payload: Buffer, splits: number[], rsvOnContinuation = false): void {
    const cuts = [0, ...splits.filter((s) => s > 0 && s < payload.length), payload.length];
    const frames: Buffer[] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const first = i === 0;
      frames.push(
        encodeFrame(first ? opcode : Op.Continuation, payload.subarray(cuts[i], cuts[i + 1]), {
          fin: i + 2 === cuts.length,
          rsv: first || rsvOnContinuation ? RSV1 : 0,
        }),
      );
    }
    this.raw.write(Buffer.concat(frames));
  }

  /** Reads one whole message (joining fragments, answering nothing), inflating it if RSV1 was set. */
  async readMessage(ms = 5000): Promise<WireMessage> {
    const frames: Frame[] = [];
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = await this.raw.readFrame(Math.max(1, deadline - Date.now()));
      if (frame.opcode >= 8) {
        if (frame.opcode === Op.Close) {
          const { code, reason } = parseClose(frame.payload);
          throw new Error(`server closed with ${code} ${reason} while a message was expected`);
        }
        continue; // pings/pongs between messages or fragments
      }
      frames.push(frame);
      if (frame.fin) break;
    }
    const compressed = (frames[0].rsv & RSV1) !== 0;
    const wire = Buffer.concat(frames.map((f) => f.payload));
    const data = compressed ? await this.decompressor.inflate(wire) : wire;
    return { opcode: frames[0].opcode, data, compressed, frames, wireSize: wire.length };
  }

  /** Reads frames until the server's Close; returns its code. */
  async readCloseCode(ms = 5000): Promise<number> {
    return (await this.raw.readClose(ms)).code;
  }

  close(): void {
    opened.delete(this);
    this.raw.destroy();
    this.compressor.close();
    this.decompressor.close();
  }
}

const opened = new Set<DeflateRawClient>();

/** Destroys every raw client still open (afterEach). */
export function closeRawClients(): void {
  for (const client of [...opened]) client.close();
}

// ------------------------------------------------------------------------------------------- fake server

/** A fake server for client-side negotiation: answers every upgrade with 101 and `extensions`. */
export async function fakeDeflateServer(
  extensions: string | undefined,
  /** Runs after the 101 is written (to send frames by hand). */
  afterUpgrade?: (socket: Socket) => void,
): Promise<{ url: string; offers: string[]; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const offers: string[] = [];
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    let answered = false;
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
      offers.push(/sec-websocket-extensions:\s*([^\r\n]*)/i.exec(head)?.[1] ?? '');
      let response =
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n`;
      if (extensions !== undefined) response += `Sec-WebSocket-Extensions: ${extensions}\r\n`;
      socket.write(response + '\r\n');
      answered = true;
      afterUpgrade?.(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    offers,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// --------------------------------------------------------------------------------------- counting proxy

/** A TCP proxy to `port` that counts the bytes going each way (proves compression on the wire). */
export interface CountingProxy {
  port: number;
  url: string;
  /** Bytes client → server. */
  up: number;
  /** Bytes server → client. */
  down: number;
  close(): Promise<void>;
}

export async function countingProxy(targetPort: number): Promise<CountingProxy> {
  const sockets = new Set<Socket>();
  const proxy: CountingProxy = {
    port: 0,
    url: '',
    up: 0,
    down: 0,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createNetServer((inbound) => {
    const outbound = netConnect({ port: targetPort, host: '127.0.0.1' });
    inbound.setNoDelay(true);
    outbound.setNoDelay(true);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.on('data', (chunk: Buffer) => (proxy.up += chunk.length));
    outbound.on('data', (chunk: Buffer) => (proxy.down += chunk.length));
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `ws://127.0.0.1:${proxy.port}`;
  return proxy;
}

// ------------------------------------------------------------------------------ server in a child process

const indexUrl = new URL('../../src/index.js', import.meta.url).href;

export interface MemoryStats {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  /** Peak RSS of the process's whole life, bytes. */
  maxRss: number;
  count: number;
  /** Close codes the server's connections ended with, in order. */
  closeCodes: number[];
}

export interface MemoryServer {
  port: number;
  /** GCs (twice) and measures. */
  stats(): Promise<MemoryStats>;
  stop(): Promise<void>;
}

/**
 * An echo server (with the given JSON `options`) in a child node started with --expose-gc, so its
 * memory is measured apart from the test's clients and buffers.
 */
export async function startMemoryServer(options: Record<string, unknown>): Promise<MemoryServer> {
  const script = `
    import { createServer } from ${JSON.stringify(indexUrl)};
    const closeCodes = [];
    const server = createServer({
      ...${JSON.stringify(options)},
      message(conn, data, isBinary) { if (conn.isOpen) conn.send(data, isBinary); },
      close(conn, code) { closeCodes.push(code); },
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    process.on('message', async (msg) => {
      if (msg === 'stats') {
        for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); }
        const m = process.memoryUsage();
        process.send({ heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, rss: m.rss,
          maxRss: process.resourceUsage().maxRSS * 1024, count: server.count, closeCodes });
      } else if (msg === 'stop') {
        await server.close();
        process.disconnect();
      }
    });
    process.send({ port: server.address().port });
  `;
  return spawnScriptServer<MemoryStats>(script, (child) => {
    children.add(child);
    child.once('exit', () => children.delete(child));
  });
}

export const MiB = 1024 * 1024;

// --------------------------------------------------------------------------------------------------- spies

/** What the spies saw: every `compress` call (who, bytes in, bytes out) and every `compressOnce`. */
export interface DeflateSpy {
  compress: { owner: MessageDeflate; input: number; output: number }[];
  compressOnce: { owner: MessageDeflate; input: number; output: number }[];
  restore(): void;
}

/** Wraps `MessageDeflate.prototype.compress` and `compressOnce` (restore() in a finally). */
export function spyDeflate(): DeflateSpy {
  const proto = MessageDeflate.prototype;
  const compress = Object.getOwnPropertyDescriptor(proto, 'compress')!;
  const compressOnce = Object.getOwnPropertyDescriptor(proto, 'compressOnce')!;
  const spy: DeflateSpy = {
    compress: [],
    compressOnce: [],
    restore: () => {
      Object.defineProperty(proto, 'compress', compress);
      Object.defineProperty(proto, 'compressOnce', compressOnce);
    },
  };
  const originalCompress = proto.compress;
  const originalOnce = proto.compressOnce;
  proto.compress = function (this: MessageDeflate, data, callback) {
    const record = { owner: this, input: data.length, output: -1 };
    spy.compress.push(record);
    originalCompress.call(this, data, (error, out) => {
      if (out) record.output = out.length;
      callback(error, out);
    });
  };
  proto.compressOnce = function (this: MessageDeflate, data) {
    const out = originalOnce.call(this, data);
    spy.compressOnce.push({ owner: this, input: data.length, output: out.length });
    return out;
  };
  return spy;
}
