/**
 * The pipe scenario (issue 3): 64-byte messages written to the input FIFO at a fixed rate and delivered to
 * 1,000 clients; per rate step: deliveries/s, p50/p99 latency (the publisher's timestamp is in the payload)
 * and loss; then the highest rate held with p99 < 50 ms and nothing lost. Three servers, one after the
 * other, each in its own process:
 *
 * - `wsbridge`: the real CLI in pipe mode (`dist/src/cli/main.js -p 0 --addr=127.0.0.1 --pipein=… --pipeout=…
 *   --deflate=off --ping-interval=0 --log-level=info`; the port is read from its `listening on` line);
 * - `ws loop`: bench/ws-pipe-server.ts, `for (const c of wss.clients) c.send(line)`;
 * - `ws frame`: the same, one frame built per line and written to each client's socket.
 *
 * A publisher process (bench/pipe-publisher.ts) writes the lines; the clients live in worker threads
 * (bench/pipe-clients.ts), so that the coordinator's timers never delay reading. Each step: a short lead,
 * `warmup` seconds of messages not measured (their loss counts), `step` seconds measured, then a bounded
 * wait for every client to have everything. Stepping stops after a step that did not drain, or after two
 * failed steps in a row.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { sleep, withTimeout } from './common.js';
import { table } from './format.js';
import type { PublisherCommand, PublisherReply } from './pipe-publisher.js';
import {
  HISTOGRAM_SIZE,
  nowUs,
  percentile,
  type FromWorker,
  type StepCounts,
  type StepWindow,
  type ToWorker,
} from './pipe-wire.js';
import {
  cpuSeconds,
  listeningPort,
  makeTempDir,
  removeTempDir,
  stopChild,
  track,
  wsEnv,
} from './processes.js';

/** The name `--scenario` knows this scenario by. */
export const PIPE_SCENARIO = 'pipe';
/** The issue's target: wsbridge holds at least this many messages/s to 1,000 clients. */
export const PIPE_TARGET_RATE = 300;
export const PIPE_P99_LIMIT_MS = 50;
export const PIPE_RATES = [25, 50, 100, 150, 200, 300, 450, 700, 1000, 1500, 2000];
export const PIPE_IMPLS = ['wsbridge', 'ws loop', 'ws frame'] as const;
export type PipeImpl = (typeof PIPE_IMPLS)[number];

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const WS_SERVER = fileURLToPath(new URL('./ws-pipe-server.js', import.meta.url));
const PUBLISHER = fileURLToPath(new URL('./pipe-publisher.js', import.meta.url));
const CLIENTS = new URL('./pipe-clients.js', import.meta.url);

export interface PipeOptions {
  rates: number[];
  clients: number;
  /** Client worker threads. */
  workers: number;
  warmupMs: number;
  stepMs: number;
  /** Longest wait after a step for every client to have every message. */
  drainMs: number;
  impls: PipeImpl[];
  /** Profile these implementations' server processes into this directory. */
  cpuProfDir?: string;
  cpuProfImpls: PipeImpl[];
}

export interface PipeStep {
  rate: number;
  /** Deliveries received per second during the measured window. */
  deliveriesPerSecond: number;
  /** Measured messages' latency, ms (bucket upper edge: 10 µs resolution below 100 ms). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Messages of the step (× clients) skipped by a client: dropped by the server. */
  lost: number;
  /** Messages of the step (× clients) still missing after the drain wait. */
  missing: number;
  /** Server process CPU / wall over the measured window (1 = one core). */
  serverCpu: number;
  /** Load generator (this process: coordinator + client threads) and publisher CPU / wall. */
  loadgenCpu: number;
  /** Largest delay of the publisher behind its schedule, ms, and bytes it had to queue (pipe full). */
  publisherLagMs: number;
  publisherQueued: number;
  held: boolean;
}

export interface PipeImplResult {
  impl: PipeImpl;
  command: string;
  steps: PipeStep[];
  /** Highest rate held (p99 < 50 ms, nothing lost), or 0 when none was. */
  held: number;
  /** wsbridge: its `pipe statistics` line at exit (losses it counted). */
  serverStats?: Record<string, number>;
  error?: string;
}

export interface PipeResult {
  rates: number[];
  clients: number;
  workers: number;
  warmupMs: number;
  stepMs: number;
  impls: PipeImplResult[];
  target: number;
  /** wsbridge's held rate over each ws variant's (undefined when a variant held none). */
  ratios: Partial<Record<PipeImpl, number>>;
  /** The highest rate every implementation held, where CPU efficiency is compared. */
  commonRate?: number;
  /** At `commonRate`: wsbridge's deliveries per server CPU-second over each ws variant's. */
  cpuEfficiency: Partial<Record<PipeImpl, number>>;
  pass: boolean | undefined;
}

interface Server {
  port: number;
  pid: number;
  command: string;
  stop(): Promise<void>;
  stats(): Record<string, number> | undefined;
  failure(): string | undefined;
}

function profileFlags(options: PipeOptions, impl: PipeImpl): string[] {
  if (!options.cpuProfDir || !options.cpuProfImpls.includes(impl)) return [];
  const name = `pipe-${impl.replace(' ', '-')}.cpuprofile`;
  return ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir, '--cpu-prof-name', name];
}

async function startWsbridge(dir: string, options: PipeOptions): Promise<Server> {
  const args = [
    CLI,
    '-p',
    '0',
    '--addr=127.0.0.1',
    `--pipein=${join(dir, 'in.fifo')}`,
    `--pipeout=${join(dir, 'out.fifo')}`,
    '--deflate=off',
    '--ping-interval=0',
    '--log-level=info',
  ];
  const child = track(
    spawn(process.execPath, [...profileFlags(options, 'wsbridge'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  let stats: Record<string, number> | undefined;
  let errors = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    const m = /pipe statistics: (\{.*\})/.exec(stderr);
    if (m) stats = JSON.parse(m[1]) as Record<string, number>;
    // The hub logs each slow client and loss at error level: keep the first few for the report.
    for (const line of s.split('\n'))
      if (/slow|dropped|lost/.test(line) && errors.length < 2000) errors += `${line}\n`;
    if (stderr.length > 1_000_000) stderr = stderr.slice(-100_000);
  });
  const port = await listeningPort(child, () => stderr);
  return {
    port,
    pid: child.pid!,
    command: `node dist/src/cli/main.js ${args.slice(1).join(' ')}`.split(dir).join('TMP'),
    stop: () => stopChild(child, () => child.kill('SIGTERM')),
    stats: () => stats,
    failure: () => (child.exitCode !== null ? `wsbridge exited: ${stderr.slice(-500)}` : undefined),
  };
}

async function startWs(dir: string, mode: 'loop' | 'frame', options: PipeOptions): Promise<Server> {
  const fifo = join(dir, 'in.fifo');
  execFileSync('mkfifo', [fifo]);
  const impl: PipeImpl = mode === 'loop' ? 'ws loop' : 'ws frame';
  const child = track(
    fork(WS_SERVER, [mode, fifo], {
      env: wsEnv(false),
      execArgv: profileFlags(options, impl),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const ready = await withTimeout(
    new Promise<{ port: number }>((resolve, reject) => {
      child.once('message', (m: { type: string; port: number }) => resolve(m));
      child.once('exit', (code) => reject(new Error(`ws-pipe-server exited (${code})`)));
    }),
    15_000,
    'ws-pipe-server start',
  );
  return {
    port: ready.port,
    pid: child.pid!,
    command: `node dist/bench/ws-pipe-server.js ${mode} TMP/in.fifo`,
    stop: () => stopChild(child, () => child.send({ cmd: 'exit' })),
    stats: () => undefined,
    failure: () => (child.exitCode !== null ? 'ws-pipe-server exited' : undefined),
  };
}

/** The client worker threads, as one. */
class Clients {
  private nextId = 1;
  private readonly waiting = new Map<number, FromWorker[]>();
  private readonly wake = new Map<number, () => void>();
  failure: string | undefined;

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: FromWorker) => {
        if (m.type === 'error') this.failure ??= m.message;
        else if (m.type === 'progress' || m.type === 'finish') {
          const list = this.waiting.get(m.id);
          if (!list) return;
          list.push(m);
          if (list.length === this.workers.length) this.wake.get(m.id)?.();
        }
      });
      w.on('error', (error) => (this.failure ??= `client worker: ${error.message}`));
    }
  }

  static async open(port: number, clients: number, threads: number): Promise<Clients> {
    const workers: Worker[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < threads; i++) {
      const count = Math.floor(clients / threads) + (i < clients % threads ? 1 : 0);
      const worker = new Worker(CLIENTS, { workerData: { port, count } });
      workers.push(worker);
      ready.push(
        new Promise((resolve, reject) => {
          worker.on('message', (m: FromWorker) => {
            if (m.type === 'ready') resolve();
            else if (m.type === 'error') reject(new Error(m.message));
          });
          worker.once('error', reject);
        }),
      );
    }
    try {
      await withTimeout(Promise.all(ready), 90_000, `opening ${clients} clients`);
    } catch (error) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw error;
    }
    return new Clients(workers);
  }

  step(window: StepWindow): void {
    for (const w of this.workers) w.postMessage({ cmd: 'step', window } satisfies ToWorker);
  }

  private async ask(cmd: 'progress' | 'finish'): Promise<FromWorker[]> {
    const id = this.nextId++;
    const list: FromWorker[] = [];
    this.waiting.set(id, list);
    const done = new Promise<void>((resolve) => this.wake.set(id, resolve));
    for (const w of this.workers) w.postMessage({ cmd, id } satisfies ToWorker);
    try {
      await withTimeout(done, 10_000, `client workers: ${cmd}`);
      return list;
    } finally {
      this.waiting.delete(id);
      this.wake.delete(id);
    }
  }

  /** Smallest "next expected" sequence number over every client. */
  async minNext(): Promise<number> {
    const replies = await this.ask('progress');
    return Math.min(...replies.map((r) => (r.type === 'progress' ? r.minNext : 0)));
  }

  async finish(): Promise<StepCounts> {
    const total: StepCounts = {
      histogram: new Uint32Array(HISTOGRAM_SIZE),
      received: 0,
      inTime: 0,
      lost: 0,
      missing: 0,
    };
    for (const r of await this.ask('finish')) {
      if (r.type !== 'finish') continue;
      const c = r.counts;
      for (let b = 0; b < HISTOGRAM_SIZE; b++) total.histogram[b] += c.histogram[b];
      total.received += c.received;
      total.inTime += c.inTime;
      total.lost += c.lost;
      total.missing += c.missing;
    }
    return total;
  }

  async close(): Promise<void> {
    for (const w of this.workers) w.postMessage({ cmd: 'close' } satisfies ToWorker);
    await Promise.all(
      this.workers.map((w) =>
        withTimeout(new Promise((resolve) => w.once('exit', resolve)), 5_000, 'worker exit').catch(() =>
          w.terminate(),
        ),
      ),
    );
  }
}

class Publisher {
  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {}

  static async start(fifo: string): Promise<Publisher> {
    const child = track(fork(PUBLISHER, [fifo], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        child.once('message', (m: PublisherReply) =>
          m.type === 'ready' ? resolve() : reject(new Error(m.type === 'error' ? m.message : 'publisher')),
        );
        child.once('exit', (code) => reject(new Error(`publisher exited (${code})`)));
      }),
      20_000,
      'publisher start',
    );
    return new Publisher(child, child.pid!);
  }

  run(
    command: Extract<PublisherCommand, { cmd: 'run' }>,
  ): Promise<Extract<PublisherReply, { type: 'done' }>> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: PublisherReply): void => {
        this.child.off('message', onMessage);
        if (m.type === 'done') resolve(m);
        else reject(new Error(m.type === 'error' ? m.message : 'publisher'));
      };
      this.child.on('message', onMessage);
      this.child.send(command);
    });
  }

  stop(): Promise<void> {
    return stopChild(this.child, () => this.child.send({ cmd: 'exit' } satisfies PublisherCommand));
  }
}

async function sleepUntil(us: number, failed: () => string | undefined): Promise<void> {
  for (;;) {
    const problem = failed();
    if (problem) throw new Error(problem);
    const left = (us - nowUs()) / 1000;
    if (left <= 0) return;
    await sleep(Math.min(left, 50));
  }
}

async function runImpl(impl: PipeImpl, options: PipeOptions, log: (line: string) => void) {
  const dir = makeTempDir('wsbridge-pipe-');
  const result: PipeImplResult = { impl, command: '', steps: [], held: 0 };
  let server: Server | undefined;
  let clients: Clients | undefined;
  let publisher: Publisher | undefined;
  try {
    server =
      impl === 'wsbridge'
        ? await startWsbridge(dir, options)
        : await startWs(dir, impl === 'ws loop' ? 'loop' : 'frame', options);
    result.command = server.command;
    clients = await Clients.open(server.port, options.clients, options.workers);
    publisher = await Publisher.start(join(dir, 'in.fifo'));
    const failed = (): string | undefined => clients!.failure ?? server!.failure();
    let seq = 0;
    let failuresInARow = 0;
    for (const rate of options.rates) {
      const warmCount = Math.round((rate * options.warmupMs) / 1000);
      const count = warmCount + Math.round((rate * options.stepMs) / 1000);
      const startAt = nowUs() + 100_000;
      const tFrom = startAt + options.warmupMs * 1000;
      const tTo = tFrom + options.stepMs * 1000;
      clients.step({ firstSeq: seq, endSeq: seq + count, seqFrom: seq + warmCount, tFrom, tTo });
      const published = publisher.run({ cmd: 'run', rate, count, firstSeq: seq, startAt });
      await sleepUntil(tFrom, failed);
      const cpu0 = {
        server: cpuSeconds(server.pid),
        publisher: cpuSeconds(publisher.pid),
        self: process.cpuUsage(),
        at: nowUs(),
      };
      await sleepUntil(tTo, failed);
      const self = process.cpuUsage(cpu0.self);
      const wall = (nowUs() - cpu0.at) / 1e6;
      const serverCpu = (cpuSeconds(server.pid) - cpu0.server) / wall;
      const loadgenCpu =
        ((self.user + self.system) / 1e6 + cpuSeconds(publisher.pid) - cpu0.publisher) / wall;
      const pub = await withTimeout(published, 30_000, 'publisher step');
      seq += count;
      const drainEnd = nowUs() + options.drainMs * 1000;
      while (nowUs() < drainEnd && (await clients.minNext()) < seq) {
        const problem = failed();
        if (problem) throw new Error(problem);
        await sleep(20);
      }
      const c = await clients.finish();
      const step: PipeStep = {
        rate,
        deliveriesPerSecond: c.inTime / (options.stepMs / 1000),
        p50Ms: percentile(c.histogram, c.received, 50) / 1000,
        p99Ms: percentile(c.histogram, c.received, 99) / 1000,
        maxMs: percentile(c.histogram, c.received, 100) / 1000,
        lost: c.lost,
        missing: c.missing,
        serverCpu,
        loadgenCpu,
        publisherLagMs: pub.maxLagUs / 1000,
        publisherQueued: pub.maxQueued,
        held: false,
      };
      step.held = c.received > 0 && step.p99Ms < PIPE_P99_LIMIT_MS && c.lost === 0 && c.missing === 0;
      result.steps.push(step);
      log(stepLine(impl, step, options.clients));
      if (step.held) {
        result.held = rate;
        failuresInARow = 0;
      } else if (c.missing > 0 || ++failuresInARow >= 2) break;
    }
  } catch (error) {
    result.error = (error as Error).message;
    log(`  ${impl}: FAILED: ${result.error}`);
  } finally {
    await publisher?.stop();
    await clients?.close();
    await server?.stop();
    result.serverStats = server?.stats();
    removeTempDir(dir);
  }
  return result;
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';
}

function stepLine(impl: PipeImpl, s: PipeStep, clients: number): string {
  return (
    `  ${impl.padEnd(8)} ${fmt(s.rate).padStart(5)} msg/s: ${fmt(s.deliveriesPerSecond).padStart(9)} deliv/s ` +
    `(${((s.deliveriesPerSecond / (s.rate * clients)) * 100).toFixed(0).padStart(3)}%)  p50 ${fmt(s.p50Ms, 2).padStart(8)} ms  ` +
    `p99 ${fmt(s.p99Ms, 2).padStart(8)} ms  lost ${fmt(s.lost)}  missing ${fmt(s.missing)}  ` +
    `server CPU ${Math.round(s.serverCpu * 100)}%  loadgen CPU ${Math.round(s.loadgenCpu * 100)}%  ` +
    `${s.held ? 'held' : 'NOT held'}`
  );
}

/** Runs the scenario for each implementation (wsbridge first). */
export async function runPipe(options: PipeOptions, log = (line: string) => console.log(line)) {
  const impls: PipeImplResult[] = [];
  for (const impl of options.impls) impls.push(await runImpl(impl, options, log));
  const mine = impls.find((r) => r.impl === 'wsbridge');
  const ratios: Partial<Record<PipeImpl, number>> = {};
  for (const r of impls)
    if (mine && r.impl !== 'wsbridge' && r.held > 0 && !r.error) ratios[r.impl] = mine.held / r.held;
  const ok = impls.filter((r) => !r.error);
  const common = options.rates.filter((rate) =>
    ok.every((r) => r.steps.some((s) => s.rate === rate && s.held)),
  );
  const commonRate = ok.length > 1 && common.length > 0 ? common[common.length - 1] : undefined;
  const eff = (r: PipeImplResult | undefined): number | undefined => {
    const s = r?.steps.find((x) => x.rate === commonRate);
    return s && s.serverCpu > 0 ? s.deliveriesPerSecond / s.serverCpu : undefined;
  };
  const cpuEfficiency: Partial<Record<PipeImpl, number>> = {};
  for (const r of ok)
    if (r.impl !== 'wsbridge' && eff(mine) && eff(r)) cpuEfficiency[r.impl] = eff(mine)! / eff(r)!;
  const result: PipeResult = {
    commonRate,
    cpuEfficiency,
    rates: options.rates,
    clients: options.clients,
    workers: options.workers,
    warmupMs: options.warmupMs,
    stepMs: options.stepMs,
    impls,
    target: PIPE_TARGET_RATE,
    ratios,
    pass: mine && !mine.error ? mine.held >= PIPE_TARGET_RATE : undefined,
  };
  return result;
}

export function printPipe(result: PipeResult): void {
  const mine = result.impls.find((r) => r.impl === 'wsbridge');
  const rows: string[][] = [
    [
      'impl',
      'msg/s',
      'deliveries/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'lost',
      'missing',
      'srv CPU',
      'lg CPU',
      'held',
    ],
  ];
  for (const r of result.impls)
    for (const s of r.steps)
      rows.push([
        r.impl,
        fmt(s.rate),
        fmt(s.deliveriesPerSecond),
        fmt(s.p50Ms, 2),
        fmt(s.p99Ms, 2),
        fmt(s.maxMs, 1),
        fmt(s.lost),
        fmt(s.missing),
        `${Math.round(s.serverCpu * 100)}%`,
        `${Math.round(s.loadgenCpu * 100)}%`,
        s.held ? 'yes' : 'no',
      ]);
  console.log(
    `\npipe (${fmt(result.clients)} clients in ${result.workers} thread(s); ${result.warmupMs / 1000} s warm-up + ` +
      `${result.stepMs / 1000} s measured per step; held = p99 < ${PIPE_P99_LIMIT_MS} ms, nothing lost or missing)`,
  );
  console.log(table(rows));
  for (const r of result.impls) {
    console.log(
      `  ${r.impl.padEnd(8)} highest rate held: ${r.held > 0 ? `${fmt(r.held)} msg/s` : `none (lowest step ${fmt(result.rates[0])} msg/s)`}` +
        (r.error ? `  (FAILED: ${r.error})` : '') +
        `  [${r.command}]`,
    );
    if (r.serverStats)
      console.log(
        `           wsbridge pipe statistics: fromApplication ${r.serverStats.fromApplication}, ` +
          `droppedSlowClient ${r.serverStats.droppedSlowClient}, droppedNoClient ${r.serverStats.droppedNoClient}`,
      );
  }
  const ratio = (impl: PipeImpl): string =>
    result.ratios[impl] === undefined ? 'n/a' : `${result.ratios[impl]!.toFixed(2)}x`;
  const effText = (impl: PipeImpl): string =>
    result.cpuEfficiency[impl] === undefined ? 'n/a' : `${result.cpuEfficiency[impl]!.toFixed(2)}x`;
  if (result.commonRate !== undefined)
    console.log(
      `  deliveries per server CPU-second at ${result.commonRate} msg/s (the highest rate all held), ` +
        `wsbridge/ws loop: ${effText('ws loop')}, wsbridge/ws frame: ${effText('ws frame')}`,
    );
  const top =
    mine && mine.held === result.rates[result.rates.length - 1]
      ? ' (wsbridge held the highest step: ratios are lower bounds)'
      : '';
  console.log(
    `  wsbridge held rate vs ws loop: ${ratio('ws loop')}, vs ws frame: ${ratio('ws frame')}${top}; ` +
      `target >= ${result.target} msg/s: ${result.pass === undefined ? 'n/a' : result.pass ? 'PASS' : 'MISS'}`,
  );
}

/** The summary table's row: scenario, target, measured, vs ws, vs ws+native, CPU-eff ×2, result. */
export function pipeSummaryRow(result: PipeResult | undefined, error?: string): string[] {
  const mine = result?.impls.find((r) => r.impl === 'wsbridge');
  const ratio = (impl: PipeImpl): string =>
    result?.ratios[impl] === undefined ? '-' : `${result.ratios[impl]!.toFixed(2)}x`;
  const eff = (impl: PipeImpl): string =>
    result?.cpuEfficiency[impl] === undefined ? '-' : `${result.cpuEfficiency[impl]!.toFixed(2)}x`;
  return [
    PIPE_SCENARIO,
    `wsbridge held >= ${PIPE_TARGET_RATE} msg/s`,
    mine && !mine.error
      ? `${fmt(mine.held)}${mine.held === result!.rates[result!.rates.length - 1] ? '+' : ''} msg/s`
      : '-',
    result ? `loop ${ratio('ws loop')} / frame ${ratio('ws frame')}` : '-',
    '-',
    result?.commonRate === undefined
      ? '-'
      : `loop ${eff('ws loop')} / frame ${eff('ws frame')} @${result.commonRate}/s`,
    '-',
    error || mine?.error ? 'ERROR' : result?.pass === undefined ? 'n/a' : result.pass ? 'PASS' : 'MISS',
  ];
}
