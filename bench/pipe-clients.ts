/**
 * A worker thread of the pipe scenario holding `count` raw-socket WebSocket clients (bench/wire.ts, to
 * 127.0.0.1 only). Every frame is parsed and every message byte checked (bench/pipe-wire.ts); each client
 * checks that sequence numbers arrive in order with no gap (a gap is a message the server dropped), and
 * records latency = arrival − the publisher's timestamp for the messages of the step being measured.
 * Pings are answered; any other frame, a close or a malformed message fails the run.
 */
import type { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { clientFrame, openMany } from './wire.js';
import {
  bucketOf,
  decodeMessage,
  HISTOGRAM_SIZE,
  MESSAGE_SIZE,
  nowUs,
  type FromWorker,
  type StepCounts,
  type StepWindow,
  type ToWorker,
} from './pipe-wire.js';

const { port, count } = workerData as { port: number; count: number };
const parent = parentPort!;

function post(message: FromWorker): void {
  parent.postMessage(message);
}

let window: StepWindow = { firstSeq: 0, endSeq: 0, seqFrom: 0, tFrom: 0, tTo: 0 };
let counts: StepCounts = newCounts();
let failed = false;

function newCounts(): StepCounts {
  return { histogram: new Uint32Array(HISTOGRAM_SIZE), received: 0, inTime: 0, lost: 0, missing: 0 };
}

function fail(message: string): void {
  if (failed) return;
  failed = true;
  post({ type: 'error', message });
}

const decoded = { time: 0 };

class Client {
  /** The sequence number expected next. */
  next = 0;
  private carry: Buffer | undefined;

  constructor(readonly socket: Socket) {}

  data(chunk: Buffer): void {
    const now = nowUs();
    let buf = chunk;
    if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    let at = 0;
    const n = buf.length;
    while (n - at >= 2) {
      const b0 = buf[at];
      const b1 = buf[at + 1];
      if ((b0 & 0xf0) !== 0x80 || (b1 & 0x80) !== 0)
        return fail(`unexpected frame header 0x${b0.toString(16)} 0x${b1.toString(16)}`);
      let length = b1;
      let head = 2;
      if (length === 126) {
        if (n - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (length === 127) return fail('unexpectedly long frame');
      if (n - at < head + length) break;
      const opcode = b0 & 0x0f;
      const payload = at + head;
      at = payload + length;
      if (opcode === 0x1) {
        if (length !== MESSAGE_SIZE) return fail(`text frame of ${length} bytes, expected ${MESSAGE_SIZE}`);
        const seq = decodeMessage(buf, payload, decoded);
        if (seq < 0) return fail(`malformed message ${JSON.stringify(buf.toString('latin1', payload, at))}`);
        this.message(seq, now - decoded.time, now);
      } else if (opcode === 0x9) {
        this.socket.write(clientFrame(0xa, Buffer.from(buf.subarray(payload, at))));
      } else if (opcode === 0x8) {
        return fail('the server closed a client');
      } else return fail(`unexpected opcode ${opcode}`);
    }
    if (at < n) this.carry = Buffer.from(buf.subarray(at));
  }

  private message(seq: number, latencyUs: number, now: number): void {
    const w = window;
    if (seq !== this.next) {
      if (seq < this.next) return fail(`message ${seq} after ${this.next - 1}: out of order or repeated`);
      // Skipped: this.next .. seq-1. Count those of the step (warm-up included).
      const from = Math.max(this.next, w.firstSeq);
      const to = Math.min(seq, w.endSeq);
      if (to > from) counts.lost += to - from;
    }
    this.next = seq + 1;
    if (now >= w.tFrom && now <= w.tTo) counts.inTime++;
    if (seq >= w.seqFrom && seq < w.endSeq) {
      counts.received++;
      counts.histogram[bucketOf(latencyUs)]++;
    }
  }
}

let clients: Client[] = [];

parent.on('message', (message: ToWorker) => {
  switch (message.cmd) {
    case 'step':
      window = message.window;
      counts = newCounts();
      break;
    case 'progress': {
      let minNext = Infinity;
      for (const c of clients) if (c.next < minNext) minNext = c.next;
      post({ type: 'progress', id: message.id, minNext, received: counts.received });
      break;
    }
    case 'finish': {
      for (const c of clients) {
        const from = Math.max(c.next, window.firstSeq);
        if (window.endSeq > from) counts.missing += window.endSeq - from;
      }
      post({ type: 'finish', id: message.id, counts });
      break;
    }
    case 'close':
      for (const c of clients) c.socket.destroy();
      clients = [];
      parent.close();
      break;
  }
});

try {
  const opened = await openMany(port, count, 50, 60_000);
  clients = opened.map(({ socket, rest }) => {
    const client = new Client(socket);
    socket.on('data', (chunk: Buffer) => client.data(chunk));
    socket.on('close', () => {
      if (clients.length > 0) fail('a client connection closed');
    });
    if (rest.length > 0) client.data(rest);
    socket.resume();
    return client;
  });
  post({ type: 'ready', clients: clients.length });
} catch (error) {
  fail((error as Error).message);
}
