/**
 * The tcp-bridge scenario (socket mode): a WebSocket client → bridge → TCP echo peer → bridge → client,
 * round trip. Each path gets the same load from this process over raw sockets (bench/wire.ts: pre-masked
 * frames, every echoed byte compared with what was sent), against a TCP echo peer in a process of its own
 * (bench/tcp-echo-peer.ts):
 *
 * - `wsbridge`: the real CLI, `node dist/src/cli/main.js -p 0 --addr=127.0.0.1 --peer=tcp://127.0.0.1:PEER
 *   --framing=binary --ping-interval=0 --log-level=info`, in its own process;
 * - `ws relay` / `ws+native relay`: bench/ws-tcp-relay.ts, the ~20-line relay an application would write
 *   with `ws` (pure JS, then with bufferutil and utf-8-validate), in its own process;
 * - `direct TCP`: the load generator talks to the echo peer itself: the reference, no bridge at all.
 *
 * Two figures per path:
 *
 * - throughput: 64 KiB binary messages, one connection, 16 in flight (1 MiB), payload MB/s one direction
 *   (bytes echoed back and verified per second), after a warm-up;
 * - latency: 64-byte binary messages, one connection, one in flight (ping-pong): p50/p99/mean in µs.
 *
 * The bridge's output framing is `binary`: each read of the peer becomes one message, so the echoed stream
 * is checked as a byte stream, not message by message. CPU shares (1 = one core busy) come from
 * /proc/PID/stat for the bridge and the peer, from process.cpuUsage() for the load generator.
 *
 *   node dist/bench/tcp-bridge.js [--duration SEC] [--warmup SEC] [--reps N] [--quick]
 *                                 (also part of `npm run bench`: --scenario tcp-bridge)
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HOST, median, sleepChecking, waitFor, withTimeout } from './common.js';
import { ratioText, table } from './format.js';
import { cpuSeconds, listeningPort, stopChild, track, wsEnv } from './processes.js';
import { clientFrame, FrameReader, OP_BINARY, openWebSocket, upgradeRequest } from './wire.js';

/** The name `--scenario` knows this scenario by. */
export const TCP_BRIDGE_SCENARIO = 'tcp-bridge';
export const TCP_BRIDGE_PATHS = ['wsbridge', 'ws relay', 'ws+native relay', 'direct TCP'] as const;
export type TcpBridgePath = (typeof TCP_BRIDGE_PATHS)[number];

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const RELAY = fileURLToPath(new URL('./ws-tcp-relay.js', import.meta.url));
const PEER = fileURLToPath(new URL('./tcp-echo-peer.js', import.meta.url));

export const BIG = 64 * 1024;
export const WINDOW = 16;
export const SMALL = 64;
const BIG_PAYLOADS = [randomBytes(BIG), randomBytes(BIG)];
const SMALL_PAYLOADS = [randomBytes(SMALL), randomBytes(SMALL)];

export interface TcpBridgeOptions {
  durationMs: number;
  warmupMs: number;
  reps: number;
  paths: TcpBridgePath[];
  /** Profile these paths' bridge processes into this directory. */
  cpuProfDir?: string;
  cpuProfPaths?: TcpBridgePath[];
}

export interface CpuShares {
  /** The bridge process (wsbridge or the relay); null for direct TCP. */
  serverCpu: number | null;
  peerCpu: number;
  loadgenCpu: number;
}

export interface ThroughputRun extends CpuShares {
  mbPerSecond: number;
  bytes: number;
  seconds: number;
}

export interface LatencyRun extends CpuShares {
  roundTrips: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

export interface TcpBridgePathResult {
  path: TcpBridgePath;
  command: string;
  throughput: ThroughputRun[];
  latency: LatencyRun[];
  /** Medians over the repetitions. */
  mbPerSecond: number;
  serverCpu: number | null;
  peerCpu: number;
  loadgenCpu: number;
  /** MB/s per bridge CPU share: MB moved per second of bridge CPU. */
  mbPerServerCpuSecond: number | null;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  roundTripsPerSecond: number;
  latencyServerCpu: number | null;
  /** ws relays: which add-ons the relay process loaded (checked against what the path asks for). */
  native?: { bufferutil: boolean; utf8Validate: boolean };
  error?: string;
}

export interface TcpBridgeRatios {
  /** wsbridge MB/s over the other path's (higher is better). */
  throughputVsDirect?: number;
  throughputVsWs?: number;
  throughputVsWsNative?: number;
  /** wsbridge MB per bridge CPU-second over the relay's. */
  cpuEfficiencyVsWs?: number;
  cpuEfficiencyVsWsNative?: number;
  /** wsbridge p50 / p99 over the other path's (lower is better). */
  p50VsDirect?: number;
  p99VsDirect?: number;
  p50VsWs?: number;
  p99VsWs?: number;
  p50VsWsNative?: number;
  p99VsWsNative?: number;
}

export interface TcpBridgeResult {
  messageBytes: number;
  window: number;
  latencyBytes: number;
  reps: number;
  paths: TcpBridgePathResult[];
  ratios: TcpBridgeRatios;
}

interface Proc {
  port: number;
  pid: number;
  command: string;
  native?: { bufferutil: boolean; utf8Validate: boolean };
  stop(): Promise<void>;
  failure(): string | undefined;
}

function profileFlags(options: TcpBridgeOptions, path: TcpBridgePath): string[] {
  if (!options.cpuProfDir || !options.cpuProfPaths?.includes(path)) return [];
  const name = `tcp-bridge-${path.replace(/[ +]/g, '-')}.cpuprofile`;
  return ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir, '--cpu-prof-name', name];
}

/** Forks a bench script with an IPC channel and waits for its `ready` message. */
async function forkReady(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  execArgv: string[],
  what: string,
): Promise<{ child: ChildProcess; ready: Record<string, unknown> & { port: number } }> {
  const child = track(fork(script, args, { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const ready = await withTimeout(
    new Promise<Record<string, unknown> & { port: number }>((resolve, reject) => {
      child.once('message', (m: Record<string, unknown> & { port: number }) => resolve(m));
      child.once('exit', (code) => reject(new Error(`${what} exited (${code})`)));
    }),
    15_000,
    `${what} start`,
  ).catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });
  return { child, ready };
}

async function startPeer(): Promise<Proc> {
  const { child, ready } = await forkReady(PEER, [], process.env, [], 'tcp-echo-peer');
  return {
    port: ready.port,
    pid: child.pid!,
    command: 'node dist/bench/tcp-echo-peer.js',
    stop: () => stopChild(child, () => child.send({ cmd: 'exit' })),
    failure: () => (child.exitCode !== null ? 'the TCP echo peer exited' : undefined),
  };
}

async function startWsbridge(peerPort: number, options: TcpBridgeOptions): Promise<Proc> {
  const args = [
    CLI,
    '-p',
    '0',
    `--addr=${HOST}`,
    `--peer=tcp://${HOST}:${peerPort}`,
    '--framing=binary',
    '--ping-interval=0',
    '--log-level=info',
  ];
  const child = track(
    spawn(process.execPath, [...profileFlags(options, 'wsbridge'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    if (stderr.length > 100_000) stderr = stderr.slice(-10_000);
  });
  const port = await listeningPort(child, () => stderr).catch((error: Error) => {
    child.kill('SIGKILL');
    throw error;
  });
  return {
    port,
    pid: child.pid!,
    command: `node dist/src/cli/main.js ${args.slice(1).join(' ')}`.replace(`:${peerPort}`, ':PEER'),
    stop: () => stopChild(child, () => child.kill('SIGTERM')),
    failure: () => (child.exitCode !== null ? `wsbridge exited: ${stderr.slice(-500)}` : undefined),
  };
}

async function startRelay(peerPort: number, path: TcpBridgePath, options: TcpBridgeOptions): Promise<Proc> {
  const { child, ready } = await forkReady(
    RELAY,
    [String(peerPort)],
    wsEnv(path !== 'ws relay'),
    profileFlags(options, path),
    'ws-tcp-relay',
  );
  const native = { bufferutil: ready.bufferutil === true, utf8Validate: ready.utf8Validate === true };
  const stop = (): Promise<void> => stopChild(child, () => child.send({ cmd: 'exit' }));
  if (path === 'ws+native relay' && !native.bufferutil) {
    await stop();
    throw new Error('ws+native relay: bufferutil did not load');
  }
  if (path === 'ws relay' && (native.bufferutil || native.utf8Validate)) {
    await stop();
    throw new Error('ws relay: a native add-on loaded');
  }
  return {
    port: ready.port,
    pid: child.pid!,
    command:
      (path === 'ws relay' ? 'WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1 ' : '') +
      'node dist/bench/ws-tcp-relay.js PEER',
    native,
    stop,
    failure: () => (child.exitCode !== null ? 'ws-tcp-relay exited' : undefined),
  };
}

// The load generator's side.

/** The bytes the echo must carry: the messages sent, back to back, messages[k % n] for message k. */
class ExpectedStream {
  private readonly ring: Buffer;
  private readonly period: number;
  private at = 0;

  constructor(payloads: Buffer[]) {
    const one = Buffer.concat(payloads);
    this.period = one.length;
    this.ring = Buffer.concat([one, one]);
  }

  /** The next `length` expected bytes. */
  take(length: number): Buffer {
    if (length <= this.period) {
      const bytes = this.ring.subarray(this.at, this.at + length);
      this.at = (this.at + length) % this.period;
      return bytes;
    }
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length;) {
      const n = Math.min(length - i, this.period);
      this.take(n).copy(out, i);
      i += n;
    }
    return out;
  }
}

/** One client connection: sends message k (pre-built), counts the echoed bytes once verified. */
interface Client {
  send(k: number): void;
  /** Echoed payload bytes received and verified so far. */
  readonly bytes: number;
  close(): void;
}

/**
 * Opens a client on `port`: a WebSocket (raw socket, pre-masked binary frames) or, for direct TCP, a plain
 * TCP connection. `progress` runs after each chunk that verified; `fail` on any mismatch or early close.
 */
function openClient(
  direct: boolean,
  port: number,
  payloads: Buffer[],
  progress: (client: Client) => void,
  fail: (error: Error) => void,
): Promise<Client> {
  const expected = new ExpectedStream(payloads);
  const frames = direct ? payloads : payloads.map((p) => clientFrame(OP_BINARY, p));
  let closing = false;
  const wire = (socket: Socket, verify: (chunk: Buffer) => number): Client => {
    const client = {
      bytes: 0,
      send: (k: number) => void socket.write(frames[k % frames.length]),
      close: () => {
        closing = true;
        socket.destroy();
      },
    };
    const onData = (chunk: Buffer): void => {
      try {
        client.bytes = verify(chunk);
      } catch (error) {
        fail(error as Error);
        client.close();
        return;
      }
      progress(client);
    };
    socket.on('data', onData);
    socket.on('error', (error) => !closing && fail(error));
    socket.on('close', () => !closing && fail(new Error('the connection closed during the run')));
    socket.resume();
    return client;
  };
  return new Promise((resolve, reject) => {
    if (direct) {
      let total = 0;
      const socket = connect({ host: HOST, port, noDelay: true });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(
          wire(socket, (chunk) => {
            if (!chunk.equals(expected.take(chunk.length)))
              throw new Error('echoed bytes differ from what was sent');
            return (total += chunk.length);
          }),
        );
      });
      return;
    }
    openWebSocket(port, upgradeRequest(port), (error, socket, rest) => {
      if (error) {
        socket.destroy();
        return reject(error);
      }
      const reader = new FrameReader((opcode, length) => {
        if (opcode !== OP_BINARY) throw new Error(`opcode ${opcode}, expected binary (length ${length})`);
        return expected.take(length);
      });
      const client = wire(socket, (chunk) => {
        reader.push(chunk);
        return reader.verifiedBytes;
      });
      if (rest.length > 0) socket.emit('data', rest);
      resolve(client);
    });
  });
}

interface CpuSample {
  wall: number;
  self: NodeJS.CpuUsage;
  server: number;
  peer: number;
}

function cpuSample(serverPid: number | undefined, peerPid: number): CpuSample {
  return {
    wall: performance.now(),
    self: process.cpuUsage(),
    server: serverPid === undefined ? NaN : cpuSeconds(serverPid),
    peer: cpuSeconds(peerPid),
  };
}

function cpuShares(
  a: CpuSample,
  b: CpuSample,
  serverPid: number | undefined,
): CpuShares & { seconds: number } {
  const seconds = (b.wall - a.wall) / 1000;
  return {
    seconds,
    serverCpu: serverPid === undefined ? null : (b.server - a.server) / seconds,
    peerCpu: (b.peer - a.peer) / seconds,
    loadgenCpu: (b.self.user + b.self.system - a.self.user - a.self.system) / 1e6 / seconds,
  };
}

interface Target {
  direct: boolean;
  port: number;
  serverPid: number | undefined;
  peerPid: number;
  failure: () => Error | undefined;
}

/** 64 KiB messages, WINDOW in flight on one connection; MB/s of payload echoed back and verified. */
async function throughput(t: Target, options: TcpBridgeOptions): Promise<ThroughputRun> {
  let failure: Error | undefined;
  const failed = (): Error | undefined => failure ?? t.failure();
  let sent = 0;
  let running = true;
  const client = await openClient(
    t.direct,
    t.port,
    BIG_PAYLOADS,
    (c) => {
      while (running && sent * BIG - c.bytes < WINDOW * BIG) c.send(sent++);
    },
    (error) => (failure ??= error),
  );
  try {
    while (sent < WINDOW) client.send(sent++);
    await sleepChecking(options.warmupMs, failed);
    const a = cpuSample(t.serverPid, t.peerPid);
    const bytesA = client.bytes;
    await sleepChecking(options.durationMs, failed);
    const b = cpuSample(t.serverPid, t.peerPid);
    const bytes = client.bytes - bytesA;
    running = false;
    await waitFor(() => client.bytes === sent * BIG, 10_000, 'the last echoes', failed, 5);
    const shares = cpuShares(a, b, t.serverPid);
    return { ...shares, bytes, mbPerSecond: bytes / shares.seconds / 1e6 };
  } finally {
    client.close();
  }
}

/** 64-byte messages, one in flight (ping-pong) on one connection; round-trip percentiles. */
async function latency(t: Target, options: TcpBridgeOptions): Promise<LatencyRun> {
  let failure: Error | undefined;
  const failed = (): Error | undefined => failure ?? t.failure();
  let sent = 0;
  let sentAt = 0n;
  let running = true;
  let measuring = false;
  let finished = false;
  const samples: number[] = [];
  const client = await openClient(
    t.direct,
    t.port,
    SMALL_PAYLOADS,
    (c) => {
      if (c.bytes < sent * SMALL) return;
      const us = Number(process.hrtime.bigint() - sentAt) / 1000;
      if (measuring) samples.push(us);
      if (!running) {
        finished = true;
        return;
      }
      sentAt = process.hrtime.bigint();
      c.send(sent++);
    },
    (error) => (failure ??= error),
  );
  try {
    sentAt = process.hrtime.bigint();
    client.send(sent++);
    await sleepChecking(options.warmupMs, failed);
    measuring = true;
    const a = cpuSample(t.serverPid, t.peerPid);
    await sleepChecking(options.durationMs, failed);
    const b = cpuSample(t.serverPid, t.peerPid);
    measuring = false;
    running = false;
    await waitFor(() => finished, 10_000, 'the last echo', failed, 5);
    const shares = cpuShares(a, b, t.serverPid);
    const sorted = Float64Array.from(samples).sort();
    const at = (p: number): number =>
      sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
    return {
      serverCpu: shares.serverCpu,
      peerCpu: shares.peerCpu,
      loadgenCpu: shares.loadgenCpu,
      roundTrips: samples.length,
      perSecond: samples.length / shares.seconds,
      p50Us: at(50),
      p99Us: at(99),
      meanUs: samples.reduce((x, y) => x + y, 0) / Math.max(1, samples.length),
    };
  } finally {
    client.close();
  }
}

function medianOrNull(values: (number | null)[]): number | null {
  const nums = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return nums.length ? median(nums) : null;
}

function summarizePath(
  path: TcpBridgePath,
  command: string,
  tp: ThroughputRun[],
  lat: LatencyRun[],
  native: TcpBridgePathResult['native'],
  error: string | undefined,
): TcpBridgePathResult {
  const serverCpu = medianOrNull(tp.map((r) => r.serverCpu));
  return {
    path,
    command,
    throughput: tp,
    latency: lat,
    mbPerSecond: median(tp.map((r) => r.mbPerSecond)),
    serverCpu,
    peerCpu: median(tp.map((r) => r.peerCpu)),
    loadgenCpu: median(tp.map((r) => r.loadgenCpu)),
    mbPerServerCpuSecond: medianOrNull(tp.map((r) => (r.serverCpu ? r.mbPerSecond / r.serverCpu : null))),
    p50Us: median(lat.map((r) => r.p50Us)),
    p99Us: median(lat.map((r) => r.p99Us)),
    meanUs: median(lat.map((r) => r.meanUs)),
    roundTripsPerSecond: median(lat.map((r) => r.perSecond)),
    latencyServerCpu: medianOrNull(lat.map((r) => r.serverCpu)),
    ...(native ? { native } : {}),
    ...(error ? { error } : {}),
  };
}

function ratios(paths: TcpBridgePathResult[]): TcpBridgeRatios {
  const get = (p: TcpBridgePath): TcpBridgePathResult | undefined =>
    paths.find((r) => r.path === p && r.throughput.length > 0);
  const mine = get('wsbridge');
  const out: TcpBridgeRatios = {};
  if (!mine) return out;
  const div = (a: number | null | undefined, b: number | null | undefined): number | undefined =>
    a && b && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined;
  const direct = get('direct TCP');
  const ws = get('ws relay');
  const native = get('ws+native relay');
  out.throughputVsDirect = div(mine.mbPerSecond, direct?.mbPerSecond);
  out.throughputVsWs = div(mine.mbPerSecond, ws?.mbPerSecond);
  out.throughputVsWsNative = div(mine.mbPerSecond, native?.mbPerSecond);
  out.cpuEfficiencyVsWs = div(mine.mbPerServerCpuSecond, ws?.mbPerServerCpuSecond);
  out.cpuEfficiencyVsWsNative = div(mine.mbPerServerCpuSecond, native?.mbPerServerCpuSecond);
  out.p50VsDirect = div(mine.p50Us, direct?.p50Us);
  out.p99VsDirect = div(mine.p99Us, direct?.p99Us);
  out.p50VsWs = div(mine.p50Us, ws?.p50Us);
  out.p99VsWs = div(mine.p99Us, ws?.p99Us);
  out.p50VsWsNative = div(mine.p50Us, native?.p50Us);
  out.p99VsWsNative = div(mine.p99Us, native?.p99Us);
  for (const key of Object.keys(out) as (keyof TcpBridgeRatios)[])
    if (out[key] === undefined) delete out[key];
  return out;
}

/**
 * Runs the scenario: one echo peer for the whole run; per repetition (order rotated, as the other
 * scenarios do), each path gets a fresh bridge process, the throughput run, then the latency run.
 */
export async function runTcpBridge(
  options: TcpBridgeOptions,
  log = (line: string) => console.log(line),
): Promise<TcpBridgeResult> {
  const peer = await startPeer();
  const runs = new Map<
    TcpBridgePath,
    {
      tp: ThroughputRun[];
      lat: LatencyRun[];
      command: string;
      native?: TcpBridgePathResult['native'];
      error?: string;
    }
  >(options.paths.map((p) => [p, { tp: [], lat: [], command: p === 'direct TCP' ? peer.command : '' }]));
  try {
    for (let rep = 0; rep < options.reps; rep++) {
      const order = options.paths.map((_, i) => options.paths[(i + rep) % options.paths.length]);
      for (const path of order) {
        const r = runs.get(path)!;
        if (r.error) continue;
        let bridge: Proc | undefined;
        try {
          if (path === 'wsbridge') bridge = await startWsbridge(peer.port, options);
          else if (path !== 'direct TCP') bridge = await startRelay(peer.port, path, options);
          if (bridge) {
            r.command = bridge.command;
            r.native = bridge.native;
          }
          const failureOf = (p: Proc | undefined): Error | undefined => {
            const text = p?.failure();
            return text ? new Error(text) : undefined;
          };
          const target: Target = {
            direct: path === 'direct TCP',
            port: bridge?.port ?? peer.port,
            serverPid: bridge?.pid,
            peerPid: peer.pid,
            failure: () => failureOf(peer) ?? failureOf(bridge),
          };
          const tp = await throughput(target, options);
          const lat = await latency(target, options);
          r.tp.push(tp);
          r.lat.push(lat);
          log(
            `  rep ${rep + 1} ${path.padEnd(15)} ${fmt(tp.mbPerSecond, 1).padStart(7)} MB/s` +
              `  bridge CPU ${pct(tp.serverCpu).padStart(4)}  peer CPU ${pct(tp.peerCpu).padStart(4)}` +
              `  loadgen CPU ${pct(tp.loadgenCpu).padStart(4)}` +
              `  | ${SMALL} B ping-pong p50 ${fmt(lat.p50Us)} µs  p99 ${fmt(lat.p99Us)} µs`,
          );
        } catch (error) {
          r.error = (error as Error).message;
          log(`  rep ${rep + 1} ${path.padEnd(15)} FAILED: ${r.error}`);
        } finally {
          await bridge?.stop();
        }
      }
    }
  } finally {
    await peer.stop();
  }
  const paths = options.paths
    .filter((p) => runs.get(p)!.tp.length > 0 || runs.get(p)!.error)
    .map((p) => {
      const r = runs.get(p)!;
      return summarizePath(p, r.command, r.tp, r.lat, r.native, r.error);
    });
  return {
    messageBytes: BIG,
    window: WINDOW,
    latencyBytes: SMALL,
    reps: options.reps,
    paths,
    ratios: ratios(paths),
  };
}

// Printing, in the shape of bench/run.ts's tables.

function fmt(n: number | null | undefined, digits = 0): string {
  return n === null || n === undefined || !Number.isFinite(n)
    ? '-'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function pct(share: number | null | undefined): string {
  return share === null || share === undefined || !Number.isFinite(share)
    ? '-'
    : `${Math.round(share * 100)}%`;
}

export function tcpBridgeTitle(): string {
  return (
    `WebSocket client -> bridge -> TCP echo peer -> bridge -> client: ${BIG / 1024} KiB binary, 1 connection x ` +
    `${WINDOW} in flight (payload MB/s, one direction); ${SMALL}-byte binary ping-pong, 1 in flight (µs)`
  );
}

/** Prints the result as the other scenarios are printed. */
export function printTcpBridge(result: TcpBridgeResult): void {
  const by = (p: TcpBridgePath): TcpBridgePathResult | undefined =>
    result.paths.find((r) => r.path === p && r.throughput.length > 0);
  const direct = by('direct TCP');
  const ws = by('ws relay');
  const native = by('ws+native relay');
  const div = (a: number | null, b: number | null | undefined): number | undefined =>
    a !== null && b !== null && b !== undefined && b > 0 ? a / b : undefined;
  const done = result.paths.filter((r) => r.throughput.length > 0);

  const tp: string[][] = [
    [
      'path',
      'median MB/s',
      'runs',
      'bridge CPU',
      'peer CPU',
      'loadgen CPU',
      'vs direct',
      'vs ws relay',
      'vs ws+native relay',
      'MB per bridge CPU-s',
    ],
  ];
  for (const r of done)
    tp.push([
      r.path,
      fmt(r.mbPerSecond, 1),
      r.throughput.map((m) => fmt(m.mbPerSecond, 0)).join(' / '),
      pct(r.serverCpu),
      pct(r.peerCpu),
      pct(r.loadgenCpu),
      ratioText(div(r.mbPerSecond, direct?.mbPerSecond)),
      ratioText(div(r.mbPerSecond, ws?.mbPerSecond)),
      ratioText(div(r.mbPerSecond, native?.mbPerSecond)),
      fmt(r.mbPerServerCpuSecond, 0),
    ]);
  console.log(
    `\n${TCP_BRIDGE_SCENARIO} throughput (${BIG / 1024} KiB binary round trip, ${WINDOW} in flight; MB/s one direction)`,
  );
  console.log(table(tp));

  const lat: string[][] = [
    [
      'path',
      'p50 µs',
      'p99 µs',
      'mean µs',
      'round trips/s',
      'p50 runs',
      'bridge CPU',
      'p50 vs direct',
      'p50 vs ws relay',
      'p50 vs ws+native relay',
    ],
  ];
  for (const r of done)
    lat.push([
      r.path,
      fmt(r.p50Us),
      fmt(r.p99Us),
      fmt(r.meanUs),
      fmt(r.roundTripsPerSecond),
      r.latency.map((m) => fmt(m.p50Us)).join(' / '),
      pct(r.latencyServerCpu),
      ratioText(div(r.p50Us, direct?.p50Us)),
      ratioText(div(r.p50Us, ws?.p50Us)),
      ratioText(div(r.p50Us, native?.p50Us)),
    ]);
  console.log(
    `\n${TCP_BRIDGE_SCENARIO} latency (${SMALL}-byte binary ping-pong, 1 in flight; µs, lower is better)`,
  );
  console.log(table(lat));
  for (const r of result.paths) if (r.error) console.log(`${r.path}: FAILED: ${r.error}`);
  for (const r of result.paths) if (r.command) console.log(`  ${r.path}: ${r.command}`);
  if (ws || native)
    console.log(
      '  ws relay: bench/ws-tcp-relay.ts, a ~20-line ws server + net.connect relay (the Node baseline);',
    );
  console.log(
    '  direct TCP: the load generator on the echo peer, no bridge (the reference). Three processes share\n' +
      '  the cores through a bridge (load generator, bridge, peer), two for direct TCP.',
  );
}

/** Rows for bench/run.ts's summary table (its eight columns). */
export function tcpBridgeSummaryRows(result: TcpBridgeResult | undefined, error?: string): string[][] {
  const mine = result?.paths.find((r) => r.path === 'wsbridge');
  const outcome = error || mine?.error ? 'ERROR' : 'n/a';
  const r = result?.ratios ?? {};
  const rows: string[][] = [
    [
      `${TCP_BRIDGE_SCENARIO} (${BIG / 1024} KiB MB/s)`,
      'report wsbridge/direct TCP',
      r.throughputVsDirect === undefined
        ? '-'
        : `${ratioText(r.throughputVsDirect)} (${fmt(mine?.mbPerSecond, 0)} MB/s)`,
      ratioText(r.throughputVsWs),
      ratioText(r.throughputVsWsNative),
      ratioText(r.cpuEfficiencyVsWs),
      ratioText(r.cpuEfficiencyVsWsNative),
      outcome,
    ],
    [
      `${TCP_BRIDGE_SCENARIO} (${SMALL} B p50, lower better)`,
      'report wsbridge/direct TCP',
      r.p50VsDirect === undefined ? '-' : `${ratioText(r.p50VsDirect)} (${fmt(mine?.p50Us)} µs)`,
      ratioText(r.p50VsWs),
      ratioText(r.p50VsWsNative),
      '-',
      '-',
      outcome,
    ],
  ];
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', short: 'd' },
      warmup: { type: 'string' },
      reps: { type: 'string', short: 'r' },
      quick: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick ?? false;
  const options: TcpBridgeOptions = {
    durationMs: Number(values.duration ?? (quick ? 0.5 : 3)) * 1000,
    warmupMs: Number(values.warmup ?? (quick ? 0.3 : 1)) * 1000,
    reps: Number(values.reps ?? 1),
    paths: [...TCP_BRIDGE_PATHS],
  };
  console.log(`== ${TCP_BRIDGE_SCENARIO}: ${tcpBridgeTitle()} (node ${process.version})`);
  runTcpBridge(options).then(
    (result) => {
      printTcpBridge(result);
      if (result.paths.some((p) => p.error)) process.exitCode = 1;
    },
    (error: Error) => {
      console.error(`tcp-bridge scenario failed: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
