/**
 * The exec scenario: `wsbridge` in program mode (websocketd's shape) with `cat` as the program, driven
 * over raw sockets from this process. Two figures:
 *
 * - connections per second: `concurrency` loops, each doing handshake (the program is started before the
 *   101), one message echoed through `cat`, closing handshake, and waiting for the server's Close; so one
 *   cycle is a fork/exec, a round trip and a process exit;
 * - message round-trip latency through `cat`: one connection, one 64-byte line in flight at a time
 *   (p50/p99/mean), then 16 connections with one in flight each (rate and percentiles).
 *
 * websocketd itself is not installed here, so there is no comparison: absolute numbers only.
 *
 *   node dist/bench/exec.js [--duration SEC] [--warmup SEC] [--quick]     (also part of `npm run bench`)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HOST, sleep } from './common.js';
import { cpuSeconds } from './processes.js';
import { clientFrame, FrameReader, OP_CLOSE, OP_TEXT, openWebSocket, upgradeRequest } from './wire.js';

/** The name `--scenario` knows this scenario by. */
export const EXEC_SCENARIO = 'exec';

export interface ExecOptions {
  durationMs: number;
  warmupMs: number;
  quick: boolean;
}

export interface LatencyFigures {
  connections: number;
  roundTrips: number;
  perSecond: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
}

export interface ExecResult {
  command: string;
  connectionsPerSecond: number;
  connectionCycles: number;
  concurrency: number;
  /** wsbridge's CPU (with its reaped children, i.e. the cat processes) per wall second while cycling. */
  serverCpuWhileCycling: number;
  latency: LatencyFigures;
  latencyParallel: LatencyFigures;
}

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const LINE = Buffer.from('0123456789abcdef'.repeat(4)); // 64 bytes, no newline
const CLOSE_PAYLOAD = Buffer.from([0x03, 0xe8]); // 1000

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function waitListening(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wsbridge exited: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const probe = connect({ host: HOST, port });
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`wsbridge did not listen: ${stderr()}`);
    await sleep(50);
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/** A connection through the program with one message in flight: echo, measured in µs. */
class EchoConnection {
  private readonly reader: FrameReader;
  private sentAt = 0n;
  private closing = false;
  private onEcho: ((us: number) => void) | undefined;
  private onClosed: (() => void) | undefined;

  constructor(
    readonly socket: Socket,
    rest: Buffer,
    private readonly fail: (error: Error) => void,
  ) {
    this.reader = new FrameReader((opcode, length) => {
      if (opcode === OP_CLOSE) return length === 2 ? CLOSE_PAYLOAD : Buffer.alloc(length);
      if (opcode !== OP_TEXT) throw new Error(`unexpected opcode ${opcode}`);
      return LINE;
    });
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (!this.closing) this.fail(new Error('the server closed a connection unexpectedly'));
      this.onClosed?.();
    });
    socket.resume();
    if (rest.length > 0) this.data(rest);
  }

  private data(chunk: Buffer): void {
    let frames: number;
    try {
      frames = this.reader.push(chunk);
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    for (let i = 0; i < frames; i++) {
      if (this.closing) continue; // the server's Close: the socket end follows
      const done = this.onEcho;
      this.onEcho = undefined;
      done?.(Number(process.hrtime.bigint() - this.sentAt) / 1000);
    }
  }

  echo(frame: Buffer): Promise<number> {
    return new Promise((resolve) => {
      this.onEcho = resolve;
      this.sentAt = process.hrtime.bigint();
      this.socket.write(frame);
    });
  }

  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.onClosed = resolve;
      this.socket.write(clientFrame(OP_CLOSE, CLOSE_PAYLOAD));
    });
  }
}

function open(port: number, request: Buffer, fail: (error: Error) => void): Promise<EchoConnection> {
  return new Promise((resolve, reject) => {
    openWebSocket(port, request, (error, socket, rest) => {
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(new EchoConnection(socket, rest, fail));
    });
  });
}

async function cycles(port: number, options: ExecOptions, concurrency: number, pid: number) {
  const request = upgradeRequest(port);
  const frame = clientFrame(OP_TEXT, LINE);
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
  };
  let completed = 0;
  let running = true;
  const loop = async (): Promise<void> => {
    while (running && !failure) {
      const conn = await open(port, request, fail);
      await conn.echo(frame);
      await conn.close();
      completed++;
    }
  };
  const loops = Array.from({ length: concurrency }, () => loop().catch(fail));
  await sleep(options.warmupMs);
  const startCount = completed;
  const startCpu = cpuSeconds(pid, true); // with the reaped cat processes
  const start = performance.now();
  await sleep(options.durationMs);
  const seconds = (performance.now() - start) / 1000;
  const count = completed - startCount;
  const cpu = (cpuSeconds(pid, true) - startCpu) / seconds;
  running = false;
  await Promise.all(loops);
  if (failure) throw failure;
  return { perSecond: count / seconds, count, cpu };
}

async function latency(port: number, options: ExecOptions, connections: number): Promise<LatencyFigures> {
  const request = upgradeRequest(port);
  const frame = clientFrame(OP_TEXT, LINE);
  let failure: Error | undefined;
  const fail = (error: Error): void => {
    failure ??= error;
  };
  const conns = await Promise.all(Array.from({ length: connections }, () => open(port, request, fail)));
  const samples: number[] = [];
  let measuring = false;
  let running = true;
  const loops = conns.map(async (conn) => {
    while (running && !failure) {
      const us = await conn.echo(frame);
      if (measuring) samples.push(us);
    }
  });
  await sleep(options.warmupMs);
  measuring = true;
  const start = performance.now();
  await sleep(options.durationMs);
  measuring = false;
  const seconds = (performance.now() - start) / 1000;
  running = false;
  await Promise.all(loops);
  await Promise.all(conns.map((c) => c.close()));
  if (failure) throw failure;
  const sorted = Float64Array.from(samples).sort();
  return {
    connections,
    roundTrips: samples.length,
    perSecond: samples.length / seconds,
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    meanUs: samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length),
  };
}

/** Runs the exec scenario against a fresh `wsbridge --loglevel=error cat`. */
export async function runExec(options: ExecOptions): Promise<ExecResult> {
  const port = await freePort();
  const args = [CLI, `--port=${port}`, `--address=${HOST}`, '--loglevel=error', '--maxforks=0', 'cat'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  try {
    await waitListening(port, child, () => stderr);
    const concurrency = options.quick ? 4 : 8;
    const cps = await cycles(port, options, concurrency, child.pid!);
    const single = await latency(port, options, 1);
    const parallel = await latency(port, options, 16);
    return {
      command: `wsbridge --port=${port} --address=${HOST} --loglevel=error --maxforks=0 cat`,
      connectionsPerSecond: cps.perSecond,
      connectionCycles: cps.count,
      concurrency,
      serverCpuWhileCycling: cps.cpu,
      latency: single,
      latencyParallel: parallel,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => {
      if (child.exitCode !== null) resolve(undefined);
      else child.once('exit', resolve);
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';
}

/** Prints the result as the other scenarios are printed. */
export function printExec(result: ExecResult): void {
  console.log(`  ${result.command}`);
  console.log(
    `  connections/s (handshake + spawn + 1 echo + close, ${result.concurrency} loops): ${fmt(result.connectionsPerSecond)}` +
      `  (${result.connectionCycles} cycles; wsbridge+cat CPU ${Math.round(result.serverCpuWhileCycling * 100)}%)`,
  );
  for (const l of [result.latency, result.latencyParallel])
    console.log(
      `  round trip through cat, ${l.connections} connection${l.connections === 1 ? '' : 's'} x 1 in flight: ` +
        `p50 ${fmt(l.p50Us)} µs, p99 ${fmt(l.p99Us)} µs, mean ${fmt(l.meanUs)} µs, ${fmt(l.perSecond)} round trips/s`,
    );
}

/** `--scenario` values: the ones run.ts knows, and whether `exec` was asked for (all when none given). */
export function splitExecScenario(values: string[] | undefined): {
  others: string[] | undefined;
  exec: boolean;
} {
  if (!values) return { others: undefined, exec: true };
  const items = values.flatMap((v) => v.split(',')).map((v) => v.trim());
  const others = items.filter((v) => v !== EXEC_SCENARIO && v !== '');
  return { others: others.length > 0 ? others : [], exec: items.includes(EXEC_SCENARIO) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', short: 'd' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick ?? false;
  const options: ExecOptions = {
    durationMs: Number(values.duration ?? (quick ? 0.5 : 3)) * 1000,
    warmupMs: Number(values.warmup ?? (quick ? 0.3 : 1)) * 1000,
    quick,
  };
  console.log(`== exec: wsbridge program mode with cat (node ${process.version})`);
  runExec(options).then(
    (result) => {
      printExec(result);
      console.log(JSON.stringify(result));
    },
    (error: Error) => {
      console.error(`exec scenario failed: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
