/**
 * TCP-bridge scenario (socket mode): a TCP echo peer, `wsbridge --peer=tcp://…` in its own process, and a
 * `ws` client. Measures MB/s round trip for 64 KiB binary messages (a window of 16 in flight) and latency
 * percentiles for 32-byte messages one at a time; then the same straight to the echo peer over TCP, for
 * reference.
 *
 *   npm run build && node dist/bench/tcp-bridge.js [--duration 3]
 */
import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const BIG = 64 * 1024;
const SMALL = 32;
const WINDOW = 16;

interface Transport {
  send(data: Buffer): void;
  onData(fn: (bytes: number) => void): void;
  close(): void;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function throughput(t: Transport, seconds: number): Promise<number> {
  const payload = Buffer.alloc(BIG, 7);
  let received = 0;
  let outstanding = 0;
  let stop = false;
  const start = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    t.onData((bytes) => {
      received += bytes;
      while (!stop && outstanding * BIG - received < WINDOW * BIG) {
        outstanding++;
        t.send(payload);
      }
      if (stop && received >= outstanding * BIG) resolve();
    });
    for (; outstanding < WINDOW;) {
      outstanding++;
      t.send(payload);
    }
    setTimeout(() => (stop = true), seconds * 1000);
  });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return received / elapsed / 1e6;
}

async function latency(t: Transport, count: number): Promise<{ p50: number; p99: number }> {
  const payload = Buffer.alloc(SMALL, 1);
  const times: number[] = [];
  let got = 0;
  let sentAt = 0n;
  await new Promise<void>((resolve) => {
    t.onData((bytes) => {
      got += bytes;
      if (got < SMALL) return;
      got -= SMALL;
      times.push(Number(process.hrtime.bigint() - sentAt) / 1e3);
      if (times.length >= count) return resolve();
      sentAt = process.hrtime.bigint();
      t.send(payload);
    });
    sentAt = process.hrtime.bigint();
    t.send(payload);
  });
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

function wsTransport(url: string): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let handler: (bytes: number) => void = () => undefined;
    ws.on('message', (data: Buffer) => handler(data.length));
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({ send: (d) => ws.send(d), onData: (fn) => (handler = fn), close: () => ws.terminate() }),
    );
  });
}

function tcpTransport(port: number): Promise<Transport> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1', () =>
      resolve({
        send: (d) => socket.write(d),
        onData: (fn) => (handler = fn),
        close: () => socket.destroy(),
      }),
    );
    socket.setNoDelay(true);
    let handler: (bytes: number) => void = () => undefined;
    socket.on('data', (chunk: Buffer) => handler(chunk.length));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '3' } } });
  const seconds = Number(values.duration);
  const echo = createServer((s) => {
    s.setNoDelay(true);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const peerPort = (echo.address() as AddressInfo).port;
  const child = spawn(
    process.execPath,
    [CLI, '--port=0', '--addr=127.0.0.1', `--peer=tcp://127.0.0.1:${peerPort}`, '--framing=binary'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      err += s;
      const m = /listening on ws:\/\/[^:]+:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`wsbridge exited: ${err}`)));
  });
  const rows: string[][] = [];
  for (const [name, open] of [
    ['wsbridge --peer=tcp://', () => wsTransport(`ws://127.0.0.1:${port}/`)],
    ['direct TCP (reference)', () => tcpTransport(peerPort)],
  ] as const) {
    const a = await open();
    const mbps = await throughput(a, seconds);
    a.close();
    const b = await open();
    const lat = await latency(b, 5000);
    b.close();
    rows.push([name, mbps.toFixed(0), lat.p50.toFixed(0), lat.p99.toFixed(0)]);
  }
  console.log(`tcp-bridge: 64 KiB echo MB/s (window ${WINDOW}), ${SMALL}-byte round-trip latency µs`);
  console.log(['path', 'MB/s', 'p50 µs', 'p99 µs'].join('\t'));
  for (const row of rows) console.log(row.join('\t'));
  child.kill('SIGTERM');
  echo.close();
}

await main();
