/**
 * The compressed scenarios (`deflate-echo-1k`, `deflate-echo-64k`, `deflate-broadcast`): the same raw-socket
 * load generator as bench/loadgen.ts, but it negotiates permessage-deflate (RFC 7692) itself.
 *
 * - Offer: `permessage-deflate; client_no_context_takeover; client_max_window_bits`. With no context
 *   takeover on our side every request message compresses to the same bytes whatever came before, so the
 *   request frames are compressed and masked once, up front (zlib deflateRaw + Z_SYNC_FLUSH, trailing
 *   00 00 ff ff removed, RSV1 set): the load generator does no compression while measuring.
 * - Every server frame is checked: inflated (synchronously, with the expected 32 KiB of history as the
 *   dictionary, see ExpectedStream) and compared byte for byte with what it must carry, or compared byte
 *   for byte with a frame already checked that way for the same position of the same message stream.
 *   That keeps the load generator's zlib work off the critical path: about one inflation per message
 *   position, not per delivery, when the compressed bytes are the same for every receiver.
 * - Payloads are JSON-like text (records with ids, names, timestamps, numbers, tags and short sentences)
 *   from a seeded generator, so every run sends the same bytes; enough distinct messages are cycled that
 *   a message never finds its own earlier copy in the 32 KiB window (that would flatter context takeover).
 * - The compression achieved is reported as bytes on the wire (frame headers included) per payload byte.
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { ServerChild } from './child.js';
import { waitFor } from './common.js';
import { DEFLATE_LEVEL, DEFLATE_MEM_LEVEL } from './deflate-config.js';
import { driveBroadcast, measure, type Measurement } from './loadgen.js';
import { clientFrame, FrameRing, OP_TEXT, openMany, upgradeRequest } from './wire.js';

/** What the load generator offers. */
export const DEFLATE_OFFER = 'permessage-deflate; client_no_context_takeover; client_max_window_bits';

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

// JSON-like payloads.

/** mulberry32: a small seeded generator, so payloads are the same in every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'alpha beta gamma delta order invoice shipment payment refund customer account session device sensor ' +
  'reading temperature pressure humidity region north south east west central pending active closed ' +
  'failed retry timeout queued processed delivered warehouse berlin paris tokyo lagos lima denver oslo ' +
  'quick brown fox jumps over lazy dog the of and to in is was for on with as by at from this that'
).split(' ');
const NAMES =
  'alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil'.split(' ');
const TYPES = [
  'order.created',
  'order.updated',
  'payment.settled',
  'sensor.reading',
  'user.login',
  'chat.message',
];

/** Exactly `bytes` bytes of ASCII JSON: `{"seq":…,"items":[records…],"pad":"…"}`. */
export function jsonText(bytes: number, seed: number): Buffer {
  const rnd = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)];
  const hex = (n: number): string =>
    Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
  const record = (): string => {
    const sentence = Array.from({ length: 4 + Math.floor(rnd() * 8) }, () => pick(WORDS)).join(' ');
    const tags = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => `"${pick(WORDS)}"`).join(',');
    return JSON.stringify({
      id: Math.floor(rnd() * 1e7),
      type: pick(TYPES),
      user: { name: `${pick(NAMES)}${Math.floor(rnd() * 100)}`, id: `u-${hex(8)}` },
      ts: new Date(1.7e12 + Math.floor(rnd() * 3e10)).toISOString(),
      amount: Math.round(rnd() * 1e6) / 100,
      ok: rnd() < 0.8,
      tags: JSON.parse(`[${tags}]`) as string[],
      note: sentence,
    });
  };
  const head = `{"seq":${seed},"items":[`;
  const tail = '],"pad":""}';
  let body = '';
  for (;;) {
    const next = (body ? ',' : '') + record();
    if (head.length + body.length + next.length + tail.length > bytes) break;
    body += next;
  }
  const padLength = bytes - head.length - body.length - tail.length;
  const pad = Array.from({ length: padLength }, () => pick(WORDS)[0]).join('');
  const text = `${head}${body}],"pad":"${pad}"}`;
  if (text.length !== bytes) throw new Error(`jsonText: ${text.length} bytes, wanted ${bytes}`);
  return Buffer.from(text, 'latin1');
}

/** `count` distinct JSON-like payloads of `bytes` bytes each. */
export function jsonPayloads(count: number, bytes: number, seed = 1): Buffer[] {
  return Array.from({ length: count }, (_, i) => jsonText(bytes, seed * 1000 + i));
}

// Wire.

/** deflateRaw of one message from a fresh context, Z_SYNC_FLUSH, trailing 00 00 ff ff removed. */
export function compressMessage(payload: Buffer): Buffer {
  const out = deflateRawSync(payload, {
    level: DEFLATE_LEVEL,
    memLevel: DEFLATE_MEM_LEVEL,
    windowBits: 15,
    finishFlush: constants.Z_SYNC_FLUSH,
  });
  if (!out.subarray(out.length - 4).equals(TRAILER))
    throw new Error('deflate output without the sync trailer');
  return out.subarray(0, out.length - 4);
}

/** A masked client frame (FIN, RSV1) carrying `payload` compressed. */
export function compressedClientFrame(opcode: number, payload: Buffer): Buffer {
  const frame = clientFrame(opcode, compressMessage(payload));
  frame[0] |= 0x40;
  return frame;
}

/** What the server answered to the offer. */
export interface Negotiated {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
}

/** Parses the 101's Sec-WebSocket-Extensions; an error message if permessage-deflate was not accepted. */
export function negotiated(head: string): Negotiated | string {
  const line = head
    .split('\r\n')
    .find((l) => l.toLowerCase().startsWith('sec-websocket-extensions:'))
    ?.slice('sec-websocket-extensions:'.length)
    .trim();
  if (!line) return 'permessage-deflate was not accepted (no Sec-WebSocket-Extensions in the 101)';
  const params = line.split(';').map((p) => p.trim().toLowerCase());
  if (params[0] !== 'permessage-deflate') return `unexpected extension answer: ${line}`;
  const bits = params.find((p) => p.startsWith('server_max_window_bits='));
  return {
    serverNoContextTakeover: params.includes('server_no_context_takeover'),
    clientNoContextTakeover: params.includes('client_no_context_takeover'),
    serverMaxWindowBits: bits ? Number(bits.split('=')[1]) : 15,
  };
}

/**
 * The messages every connection of a run must receive, in order (message k carries payload k mod n), the
 * output history that precedes each, and the compressed frames already checked for each position.
 *
 * Checking without a long-lived inflater: Node's synchronous zlib cannot keep a context between calls, and
 * the asynchronous one costs a thread-pool round trip per message. But inflating with context takeover only
 * needs the last 32 KiB of what the stream produced before, and on a connection whose earlier messages were
 * all checked that is exactly the expected history. So message k is inflated with `inflateRawSync` and that
 * history as its dictionary (harmless when the server kept no context: nothing refers to it), and compared
 * with the expected payload. Every connection of a run receives the same messages in the same order, so a
 * deterministic compressor produces the same bytes for position k on each (same history, same settings):
 * a frame equal byte for byte to one already inflated and checked for the same position is checked by that
 * comparison alone. Any other frame is inflated. Either way every received byte is checked.
 */
export class ExpectedStream {
  private readonly dictionaries = new Map<number, Buffer>();
  private readonly verified = new Map<number, Buffer[]>();
  /** Messages needed to fill a 32 KiB window, looking back. */
  private readonly fill: number;

  constructor(readonly payloads: readonly Buffer[]) {
    this.fill = Math.ceil(32768 / Math.min(...payloads.map((p) => p.length)));
  }

  payload(k: number): Buffer {
    return this.payloads[k % this.payloads.length];
  }

  /** The last (at most) 32 KiB of messages 0..k-1. */
  private dictionary(k: number): Buffer {
    const key = k < this.fill ? -(k + 1) : k % this.payloads.length;
    let dict = this.dictionaries.get(key);
    if (!dict) {
      const parts: Buffer[] = [];
      let length = 0;
      for (let j = k - 1; j >= 0 && length < 32768; j--) {
        parts.unshift(this.payload(j));
        length += this.payload(j).length;
      }
      const all = Buffer.concat(parts);
      dict = all.subarray(Math.max(0, all.length - 32768));
      this.dictionaries.set(key, dict);
    }
    return dict;
  }

  /**
   * Checks compressed message k (payload followed by 4 spare bytes, which are overwritten with the
   * trailer); returns true if it was checked by comparison with an earlier checked frame.
   */
  check(k: number, body: Buffer, length: number): boolean {
    const expected = this.payload(k);
    const known = this.verified.get(k);
    if (known)
      for (const frame of known)
        if (frame.length === length && frame.compare(body, 0, length) === 0) return true;
    TRAILER.copy(body, length);
    let out: Buffer;
    try {
      out = inflateRawSync(body.subarray(0, length + 4), {
        windowBits: 15,
        finishFlush: constants.Z_SYNC_FLUSH,
        ...(k > 0 ? { dictionary: this.dictionary(k) } : {}),
      });
    } catch (error) {
      throw new Error(`message ${k} does not inflate: ${(error as Error).message}`);
    }
    if (!out.equals(expected)) throw new Error(`message ${k} inflates to something else than was sent`);
    const frame = Buffer.from(body.subarray(0, length));
    if (known) {
      if (known.length < 4) known.push(frame);
    } else {
      this.verified.set(k, [frame]);
      // Bounded: forget the oldest positions (a connection far behind then inflates instead).
      if (this.verified.size > 20_000) {
        let drop = this.verified.size - 10_000;
        for (const key of this.verified.keys()) {
          this.verified.delete(key);
          if (--drop === 0) break;
        }
      }
    }
    return false;
  }
}

/** Totals over every reader of a run. */
export interface WireCounts {
  /** Server frame bytes received: headers + (compressed) payloads. */
  wireBytes: number;
  /** Payload bytes after inflation (what the application sent). */
  payloadBytes: number;
  compressedFrames: number;
  /** Compressed frames the load generator inflated (the others matched a checked frame byte for byte). */
  inflatedFrames: number;
}

export function newCounts(): WireCounts {
  return { wireBytes: 0, payloadBytes: 0, compressedFrames: 0, inflatedFrames: 0 };
}

/**
 * Reads one connection's server frames (FIN and RSV1 set, unmasked, text) and checks message k against
 * `stream`. A message sent uncompressed is refused: every message here is over the threshold, and one
 * left out of the compressor's history would break the history the dictionary stands for.
 * `push` returns the number of messages completed.
 */
export class InflatingReader {
  private readonly head = Buffer.alloc(10);
  private headHave = 0;
  private headNeed = 2;
  private inPayload = false;
  /** The frame's payload, with 4 spare bytes for the trailer. */
  private body: Buffer = Buffer.alloc(0);
  private bodyHave = 0;
  private bodyLength = 0;
  /** Messages completed on this connection. */
  k = 0;

  constructor(
    private readonly stream: ExpectedStream,
    private readonly counts: WireCounts,
  ) {}

  push(chunk: Buffer): number {
    let done = 0;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (!this.inPayload) {
        while (this.headHave < this.headNeed && i < n) {
          this.head[this.headHave++] = chunk[i++];
          if (this.headHave === 2) {
            const b0 = this.head[0];
            if ((b0 & 0xf0) !== 0xc0)
              throw new Error(
                `frame flags 0x${b0.toString(16)}: expected FIN and RSV1 (a compressed message)`,
              );
            if ((b0 & 0x0f) !== OP_TEXT) throw new Error(`opcode ${b0 & 0x0f}, expected text`);
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
        if (length > 16 * 1024 * 1024) throw new Error(`frame of ${length} bytes`);
        this.counts.wireBytes += this.headNeed + length;
        this.headHave = 0;
        this.headNeed = 2;
        this.bodyLength = length;
        this.bodyHave = 0;
        if (this.body.length < length + 4) this.body = Buffer.allocUnsafe(Math.max(length + 4, 2048));
        this.inPayload = true;
      }
      const take = Math.min(this.bodyLength - this.bodyHave, n - i);
      chunk.copy(this.body, this.bodyHave, i, i + take);
      i += take;
      this.bodyHave += take;
      if (this.bodyHave === this.bodyLength) {
        this.inPayload = false;
        const counts = this.counts;
        counts.compressedFrames++;
        counts.payloadBytes += this.stream.payload(this.k).length;
        if (!this.stream.check(this.k, this.body, this.bodyLength)) counts.inflatedFrames++;
        this.k++;
        done++;
      }
    }
    return done;
  }
}

/** Opens `count` connections offering permessage-deflate; fails unless every one negotiated it. */
async function openDeflate(port: number, count: number, concurrency: number) {
  const request = upgradeRequest(port, `Sec-WebSocket-Extensions: ${DEFLATE_OFFER}\r\n`);
  const opened = await openMany(port, count, concurrency, 60_000, request, (head) => {
    const n = negotiated(head);
    if (typeof n === 'string') return n;
    if (!n.clientNoContextTakeover) return 'client_no_context_takeover was offered but not answered';
    return '';
  });
  return opened.map((o) => ({ ...o, params: negotiated(o.head) as Negotiated }));
}

function wireDetail(counts: WireCounts, requestWire: number, requestPayload: number): Record<string, number> {
  return {
    wirePerPayload: counts.wireBytes / counts.payloadBytes,
    requestWirePerPayload: requestPayload ? requestWire / requestPayload : NaN,
    compressedFrames: counts.compressedFrames,
    inflatedFrames: counts.inflatedFrames,
  };
}

// Scenarios.

export interface DeflateEchoOptions {
  connections: number;
  inFlight: number;
  /** Distinct payloads cycled through (>= inFlight). */
  payloads: Buffer[];
  warmupMs: number;
  durationMs: number;
}

/** Compressed echo: figure = echoed messages per second (detail: MB/s, compression). */
export async function deflateEcho(server: ServerChild, options: DeflateEchoOptions): Promise<Measurement> {
  const { connections, inFlight, payloads } = options;
  if (payloads.length < inFlight) throw new Error('need at least one payload per in-flight message');
  const ring = new FrameRing(OP_TEXT, payloads, compressedClientFrame);
  const n = payloads.length;
  const opened = await openDeflate(server.port, connections, 50);
  const counts = newCounts();
  const stream = new ExpectedStream(payloads);
  let running = true;
  let received = 0;
  let failure: Error | undefined;
  let requestWire = 0;
  let requestPayload = 0;
  const send = (state: { socket: { write(b: Buffer): boolean }; sent: number }, count: number): void => {
    const slice = ring.slice(state.sent, count);
    requestWire += slice.length;
    for (let k = 0; k < count; k++) requestPayload += payloads[(state.sent + k) % n].length;
    state.socket.write(slice);
    state.sent += count;
  };
  const states = opened.map(({ socket }) => {
    const state = { socket, sent: 0, received: 0 };
    const reader = new InflatingReader(stream, counts);
    const onData = (chunk: Buffer): void => {
      let done: number;
      try {
        done = reader.push(chunk);
      } catch (error) {
        failure ??= error as Error;
        socket.destroy();
        return;
      }
      if (done === 0) return;
      state.received += done;
      received += done;
      if (running) send(state, done);
    };
    socket.on('data', onData);
    socket.on('close', () => {
      if (running || state.received !== state.sent) failure ??= new Error('server closed an echo connection');
    });
    return { state, onData };
  });
  try {
    for (const [i, { state, onData }] of states.entries()) {
      if (opened[i].rest.length > 0) onData(opened[i].rest);
      send(state, inFlight);
      state.socket.resume();
    }
    const failed = (): Error | undefined => failure;
    const m = await measure(server, options.warmupMs, options.durationMs, () => received, failed);
    running = false;
    await waitFor(
      () => states.every(({ state }) => state.received === state.sent),
      20_000,
      'echo drain',
      failed,
    );
    const meanBytes = payloads.reduce((a, p) => a + p.length, 0) / n;
    return {
      figure: m.rate,
      serverCpu: m.serverCpu,
      loadgenCpu: m.loadgenCpu,
      detail: {
        messages: m.count,
        seconds: m.seconds,
        mbPerSecond: (m.rate * meanBytes) / 1e6,
        totalVerified: received,
        serverNoContextTakeover: opened[0]?.params.serverNoContextTakeover ? 1 : 0,
        ...wireDetail(counts, requestWire, requestPayload),
      },
    };
  } finally {
    running = false;
    for (const { state } of states) state.socket.destroy();
  }
}

export interface DeflateBroadcastOptions {
  clients: number;
  /** Messages per burst (one IPC command); at most two bursts are outstanding. */
  burst: number;
  payloads: Buffer[];
  warmupMs: number;
  durationMs: number;
  maxBursts: number;
}

/** Compressed broadcast: figure = deliveries (message × client) per second (detail: compression). */
export async function deflateBroadcast(
  server: ServerChild,
  options: DeflateBroadcastOptions,
): Promise<Measurement> {
  const { clients, payloads } = options;
  await server.setPayloads(payloads.map((p) => p.toString('latin1')));
  const opened = await openDeflate(server.port, clients, 100);
  const counts = newCounts();
  const stream = new ExpectedStream(payloads);
  const run = await driveBroadcast(
    server,
    opened,
    options,
    30_000,
    () => new InflatingReader(stream, counts),
  );
  return {
    figure: run.rate,
    serverCpu: run.serverCpu,
    loadgenCpu: run.loadgenCpu,
    detail: {
      deliveries: run.count,
      seconds: run.seconds,
      bursts: run.bursts,
      totalVerified: run.delivered,
      serverNoContextTakeover: opened[0]?.params.serverNoContextTakeover ? 1 : 0,
      ...wireDetail(counts, 0, 0),
    },
  };
}

/** "bytes on the wire per payload byte, server → client" for the runs of each row of a scenario table. */
export function compressionLine(rows: [string, Measurement[]][]): string | undefined {
  const parts: string[] = [];
  let request: number | undefined;
  for (const [name, runs] of rows) {
    const ratios = runs.map((r) => r.detail.wirePerPayload).filter((v) => Number.isFinite(v));
    if (ratios.length === 0) continue;
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    parts.push(`${name} ${(mean * 100).toFixed(1)}%`);
    for (const r of runs)
      if (Number.isFinite(r.detail.requestWirePerPayload)) request = r.detail.requestWirePerPayload;
  }
  if (parts.length === 0) return undefined;
  return (
    `compression, wire bytes (frame headers included) per payload byte, server → client: ${parts.join(', ')}` +
    (request === undefined
      ? ''
      : `\n(requests, pre-compressed by the load generator without context: ${(request * 100).toFixed(1)}%)`)
  );
}
