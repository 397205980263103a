/**
 * `npm run bench`: wsbridge against ws (pure JS) and ws with its native add-ons, each server in its own
 * child process, driven by a hand-written raw-socket load generator in this process. The machine is small
 * and shared, so what matters is the ratio wsbridge/ws measured in the same run; absolute numbers are
 * printed for context only.
 *
 *   node dist/bench/run.js [--scenario echo-small,handshake] [--duration 3] [--warmup 1] [--reps 3]
 *                          [--impl wsbridge,ws] [--connections 10000] [--quick]
 *                          [--cpu-prof DIR [--cpu-prof-impl wsbridge]] [--json FILE]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ServerChild } from './child.js';
import {
  IMPLS,
  MALLOC_POLICY,
  SCENARIOS,
  median,
  type Impl,
  type NativeInfo,
  type Scenario,
} from './common.js';
import { broadcast, echo, handshakes, memory, type Measurement } from './loadgen.js';
import { MASK_KEY, OP_BINARY, OP_TEXT } from './wire.js';
import { EXEC_SCENARIO, printExec, runExec, splitExecScenario, type ExecResult } from './exec.js';
import { compressionLine, deflateBroadcast, deflateEcho, jsonPayloads } from './deflate.js';
import { ratioText, table } from './format.js';
import { NO_CONTEXT_TAKEOVER_ARG } from './deflate-config.js';
import {
  PIPE_IMPLS,
  PIPE_RATES,
  PIPE_SCENARIO,
  pipeSummaryRow,
  printPipe,
  runPipe,
  type PipeResult,
} from './pipe.js';
import {
  printTcpBridge,
  runTcpBridge,
  TCP_BRIDGE_PATHS,
  TCP_BRIDGE_SCENARIO,
  tcpBridgeSummaryRows,
  tcpBridgeTitle,
  type TcpBridgePath,
  type TcpBridgeResult,
} from './tcp-bridge.js';

const USAGE = `usage: node dist/bench/run.js [options]
  --scenario, -s LIST   scenarios, comma-separated or repeated (default: all)
                        ${[...SCENARIOS, EXEC_SCENARIO, PIPE_SCENARIO, TCP_BRIDGE_SCENARIO].join(', ')}
  --impl LIST           implementations (default: ${IMPLS.join(', ')})
  --duration, -d SEC    measured seconds per run (default 3; --quick 0.5)
  --warmup SEC          warm-up seconds before measuring (default 1; --quick 0.3)
  --reps, -r N          repetitions, median reported (default 3, but 1 for "memory", which is
                        steady; --quick 1)
  --connections N       idle connections for "memory" (default 10000, fewer if ulimit -n is low)
  --quick               short smoke run (also fewer connections)
  --cpu-prof DIR        run server children with --cpu-prof, profiles written to DIR
  --cpu-prof-impl LIST  which implementations to profile (default: wsbridge)
  --batched-broadcast   wsbridge sends each broadcast burst with broadcastPrepared(prepareFrames(burst))
                        (one write per client per burst) instead of one server.broadcast() per message
  --pipe-rates LIST     "pipe": messages/s steps (default ${PIPE_RATES.join(',')});
                        stepping stops after a step that does not drain or two failed steps in a row;
                        --impl wsbridge runs the wsbridge CLI, --impl ws the two ws variants
  --pipe-workers N      "pipe": client worker threads (default 1)
                        "tcp-bridge": --impl wsbridge runs the wsbridge CLI (--peer=tcp://), --impl ws and
                        ws+native a ~20-line ws relay (bench/ws-tcp-relay.ts); direct TCP always runs
  --json FILE           results file (default: dist/bench-results.json)
  --help, -h`;

interface Args {
  scenarios: Scenario[];
  impls: Impl[];
  durationMs: number;
  warmupMs: number;
  reps: number;
  /** --reps was given (then it applies to "memory" too). */
  repsGiven: boolean;
  quick: boolean;
  memoryConnections: number;
  broadcastClients: number;
  cpuProfDir: string | undefined;
  cpuProfImpls: Impl[];
  batchedBroadcast: boolean;
  jsonPath: string;
  nofile: number;
  notes: string[];
  /** Run the program-mode scenario of bench/exec.ts. */
  exec: boolean;
  /** Run the pipe scenario of bench/pipe.ts. */
  pipe: boolean;
  pipeRates: number[];
  pipeWorkers: number;
  /** Run the socket-mode scenario of bench/tcp-bridge.ts. */
  tcpBridge: boolean;
}

function list<T extends string>(
  values: string[] | undefined,
  allowed: readonly T[],
  what: string,
): T[] | undefined {
  if (!values) return undefined;
  const items = values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  for (const item of items)
    if (!allowed.includes(item as T))
      throw new Error(`unknown ${what} "${item}" (one of: ${allowed.join(', ')})`);
  return items as T[];
}

function positive(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what} must be a positive number`);
  return n;
}

function openFileLimit(): number {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? Infinity : Number(out);
  } catch {
    return NaN;
  }
}

function parse(): Args {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', short: 's', multiple: true },
      impl: { type: 'string', multiple: true },
      duration: { type: 'string', short: 'd' },
      warmup: { type: 'string' },
      reps: { type: 'string', short: 'r' },
      connections: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      'cpu-prof-impl': { type: 'string', multiple: true },
      json: { type: 'string' },
      'batched-broadcast': { type: 'boolean', default: false },
      'pipe-rates': { type: 'string' },
      'pipe-workers': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const notes: string[] = [];
  const nofile = openFileLimit();
  let memoryConnections = Math.floor(positive(values.connections, quick ? 1000 : 10_000, 'connections'));
  // Each side of every idle connection is one fd, in two processes; the brief asks for headroom of ~25,000.
  if (!(nofile >= 25_000)) {
    const cap = Number.isFinite(nofile) ? Math.floor(nofile * 0.45) : 1000;
    if (memoryConnections > cap) {
      notes.push(
        `ulimit -n is ${nofile} (< 25,000): memory scenario uses ${cap} connections, not ${memoryConnections}`,
      );
      memoryConnections = cap;
    }
  }
  // "pipe" (bench/pipe.ts) and "tcp-bridge" (bench/tcp-bridge.ts) are picked out here, like "exec"; the rest
  // go through DEFS.
  const named = values.scenario?.flatMap((v) => v.split(',')).map((v) => v.trim());
  const others = named?.filter((v) => v !== PIPE_SCENARIO && v !== TCP_BRIDGE_SCENARIO);
  const pipeRates = (values['pipe-rates']?.split(',') ?? PIPE_RATES.map(String)).map((v) =>
    positive(v, 0, 'pipe-rates'),
  );
  return {
    pipe: named === undefined || named.includes(PIPE_SCENARIO),
    pipeRates: quick && !values['pipe-rates'] ? [50, 200, 400] : pipeRates,
    pipeWorkers: Math.floor(positive(values['pipe-workers'], 1, 'pipe-workers')),
    tcpBridge: named === undefined || named.includes(TCP_BRIDGE_SCENARIO),
    scenarios: list(splitExecScenario(others).others, SCENARIOS, 'scenario') ?? [...SCENARIOS],
    exec: splitExecScenario(others).exec,
    impls: list(values.impl, IMPLS, 'implementation') ?? [...IMPLS],
    durationMs: positive(values.duration, quick ? 0.5 : 3, 'duration') * 1000,
    warmupMs: positive(values.warmup, quick ? 0.3 : 1, 'warmup') * 1000,
    reps: Math.floor(positive(values.reps, quick ? 1 : 3, 'reps')),
    repsGiven: values.reps !== undefined,
    quick,
    memoryConnections,
    broadcastClients: quick ? 200 : 1000,
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    cpuProfImpls: list(values['cpu-prof-impl'], IMPLS, 'implementation') ?? ['wsbridge'],
    batchedBroadcast: values['batched-broadcast'] ?? false,
    jsonPath: resolve(values.json ?? fileURLToPath(new URL('../bench-results.json', import.meta.url))),
    nofile,
    notes,
  };
}

// Workloads: the same bytes for every implementation.

/** A 64-byte text payload: two multi-byte characters, then random printable ASCII. */
function text64(): Buffer {
  const head = Buffer.from('é€', 'utf8');
  const tail = randomBytes(64 - head.length).map((b) => 0x20 + (b % 95));
  return Buffer.concat([head, tail]);
}

interface Target {
  vs: Impl;
  /** Higher is better unless `atMost`; undefined: no target, the ratio is reported only. */
  ratio?: number;
  atMost?: boolean;
}

/** A further configuration measured beside the implementations (extra server.js arguments). */
interface Variant {
  label: string;
  impl: Impl;
  args: string[];
  /** Environment changes for its server child (undefined removes a variable). */
  env?: Record<string, string | undefined>;
  /** The row it is compared with like for like in the summary. */
  compareTo?: string;
}

interface ScenarioDef {
  title: string;
  unit: string;
  target: Target;
  run(server: ServerChild, args: Args): Promise<Measurement>;
  /** Environment changes for the plain implementation rows' server children. */
  env?: Record<string, string | undefined>;
  variants?: Variant[];
}

const SMALL_PAYLOADS = Array.from({ length: 16 }, text64);
const P64K = Array.from({ length: 2 }, () => randomBytes(64 * 1024));
const P256K = Array.from({ length: 2 }, () => randomBytes(256 * 1024));
const P1M = Array.from({ length: 2 }, () => randomBytes(1024 * 1024));
const P4M = Array.from({ length: 2 }, () => randomBytes(4 * 1024 * 1024));

/**
 * Echo of large binary messages. The plain rows run under glibc's default malloc (as `node app.js`
 * starts); the "policy" rows under MALLOC_POLICY, which the wsbridge command uses by default. So
 * "wsbridge policy" vs ws+native is what each gives as started by default, and vs "ws+native policy"
 * is like for like.
 */
function largeEcho(size: string, payloads: Buffer[], target: Target): ScenarioDef {
  return {
    title: `echo of ${size} binary, 4 connections x 2 in flight (payload MB/s, one direction)`,
    unit: 'MB/s',
    target,
    env: { GLIBC_TUNABLES: undefined },
    variants: [
      {
        label: 'wsbridge policy',
        impl: 'wsbridge',
        args: [],
        env: { GLIBC_TUNABLES: MALLOC_POLICY },
        compareTo: 'ws+native policy',
      },
      { label: 'ws+native policy', impl: 'ws+native', args: [], env: { GLIBC_TUNABLES: MALLOC_POLICY } },
    ],
    run: async (server, a) => {
      const m = await echo(server, {
        connections: 4,
        inFlight: 2,
        payloads,
        opcode: OP_BINARY,
        warmupMs: a.warmupMs,
        durationMs: a.durationMs,
      });
      return { ...m, figure: m.detail.mbPerSecond, detail: { ...m.detail, messagesPerSecond: m.figure } };
    },
  };
}
const BROADCAST_PAYLOADS = Array.from({ length: 16 }, () => text64().toString('utf8'));
// Compressed scenarios: enough distinct JSON-like messages that none finds its own copy in the 32 KiB window.
const JSON_1K = jsonPayloads(64, 1024, 1);
const JSON_64K = jsonPayloads(4, 64 * 1024, 2);
const JSON_1K_BROADCAST = jsonPayloads(64, 1024, 3);

const DEFS: Record<Scenario, ScenarioDef> = {
  'echo-small': {
    title: 'echo of 64-byte text, 100 connections x 16 in flight',
    unit: 'msg/s',
    target: { vs: 'ws', ratio: 2 },
    run: (server, a) =>
      echo(server, {
        connections: 100,
        inFlight: 16,
        payloads: SMALL_PAYLOADS,
        opcode: OP_TEXT,
        warmupMs: a.warmupMs,
        durationMs: a.durationMs,
      }),
  },
  'echo-64k': largeEcho('64 KiB', P64K, { vs: 'ws+native', ratio: 1.5 }),
  'echo-256k': largeEcho('256 KiB', P256K, { vs: 'ws+native' }),
  'echo-1m': largeEcho('1 MiB', P1M, { vs: 'ws+native', ratio: 1.2 }),
  'echo-4m': largeEcho('4 MiB', P4M, { vs: 'ws+native' }),
  handshake: {
    title: 'handshakes: TCP connect + upgrade + checked 101, then RST; 50 concurrent loops',
    unit: 'hs/s',
    target: { vs: 'ws', ratio: 1.5 },
    run: (server, a) =>
      handshakes(server, {
        concurrency: 50,
        warmupMs: a.warmupMs,
        durationMs: a.durationMs,
        maxCount: 5_000_000,
      }),
  },
  memory: {
    title: 'memory per idle connection: server heapUsed+external delta after forced GC (lower is better)',
    unit: 'B/conn',
    target: { vs: 'ws', ratio: 0.5, atMost: true },
    run: (server, a) => memory(server, { connections: a.memoryConnections, settleMs: a.quick ? 200 : 1000 }),
  },
  broadcast: {
    title: 'broadcast of 64-byte text to 1,000 clients, bursts of 10 (deliveries/s)',
    unit: 'deliv/s',
    target: { vs: 'ws', ratio: 2 },
    run: (server, a) =>
      broadcast(server, {
        clients: a.broadcastClients,
        burst: 10,
        payloads: BROADCAST_PAYLOADS,
        warmupMs: a.warmupMs,
        durationMs: a.durationMs,
        maxBursts: 1_000_000,
      }),
  },
  'deflate-echo-1k': {
    title: 'permessage-deflate echo of 1 KiB JSON-like text, 100 connections x 8 in flight',
    unit: 'msg/s',
    target: { vs: 'ws' },
    run: (server, a) =>
      deflateEcho(server, {
        connections: 100,
        inFlight: 8,
        payloads: JSON_1K,
        warmupMs: a.warmupMs,
        durationMs: a.durationMs,
      }),
  },
  'deflate-echo-64k': {
    title:
      'permessage-deflate echo of 64 KiB JSON-like text, 4 connections x 2 in flight (payload MB/s, one direction)',
    unit: 'MB/s',
    target: { vs: 'ws' },
    run: async (server, a) => {
      const m = await deflateEcho(server, {
        connections: 4,
        inFlight: 2,
        payloads: JSON_64K,
        warmupMs: a.warmupMs,
        durationMs: a.durationMs,
      });
      return { ...m, figure: m.detail.mbPerSecond, detail: { ...m.detail, messagesPerSecond: m.figure } };
    },
  },
  'deflate-broadcast': {
    title:
      'permessage-deflate broadcast of 1 KiB JSON-like text to 1,000 clients, bursts of 10 (deliveries/s); ' +
      'nct = serverNoContextTakeover (compressed once per message instead of once per receiver)',
    unit: 'deliv/s',
    target: { vs: 'ws' },
    run: (server, a) =>
      deflateBroadcast(server, {
        clients: a.broadcastClients,
        burst: 10,
        payloads: JSON_1K_BROADCAST,
        warmupMs: a.warmupMs,
        durationMs: a.durationMs,
        maxBursts: 1_000_000,
      }),
    variants: [
      { label: 'wsbridge nct', impl: 'wsbridge', args: [NO_CONTEXT_TAKEOVER_ARG], compareTo: 'ws nct' },
      { label: 'ws nct', impl: 'ws', args: [NO_CONTEXT_TAKEOVER_ARG] },
    ],
  },
};

// Formatting.

function fmt(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function pct(value: number | null): string {
  return value === null || !Number.isFinite(value) ? 'n/a' : `${Math.round(value * 100)}%`;
}

interface ImplResult {
  runs: Measurement[];
  figure: number;
  serverCpu: number | null;
  loadgenCpu: number | null;
  /** Figure per second of server CPU (median over runs): less sensitive to a busy machine. */
  perServerCpuSecond: number | null;
}

interface ScenarioResult {
  title: string;
  unit: string;
  impls: Partial<Record<Impl, ImplResult>>;
  ratios: {
    vsWs?: number;
    vsWsNative?: number;
    cpuEfficiencyVsWs?: number;
    cpuEfficiencyVsWsNative?: number;
  };
  target: Target;
  targetRatio?: number;
  pass?: boolean;
  error?: string;
  /** Further configurations (ScenarioDef.variants), by label. */
  variants?: Record<string, ImplResult & { impl: Impl; compareTo?: string }>;
}

function summarize(runs: Measurement[]): ImplResult {
  const nums = (pick: (m: Measurement) => number | null): number | null => {
    const values = runs.map(pick).filter((v): v is number => v !== null);
    return values.length ? median(values) : null;
  };
  return {
    runs,
    figure: median(runs.map((r) => r.figure)),
    serverCpu: nums((r) => r.serverCpu),
    loadgenCpu: nums((r) => r.loadgenCpu),
    perServerCpuSecond: nums((r) => (r.serverCpu ? r.figure / r.serverCpu : null)),
  };
}

async function main(): Promise<void> {
  const args = parse();
  const started = Date.now();
  console.log(
    `wsbridge bench — node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ` +
      `load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ulimit -n ${args.nofile}`,
  );
  console.log(
    `duration ${args.durationMs / 1000} s after ${args.warmupMs / 1000} s warm-up, ${args.reps} rep(s), ` +
      `median reported; mask key ${MASK_KEY.toString('hex')}; every echoed/broadcast byte is verified`,
  );
  for (const note of args.notes) console.log(`note: ${note}`);
  if (args.cpuProfDir) mkdirSync(args.cpuProfDir, { recursive: true });

  const natives: Partial<Record<Impl, NativeInfo | null>> = {};
  const results: Partial<Record<Scenario, ScenarioResult>> = {};

  for (const scenario of args.scenarios) {
    const def = DEFS[scenario];
    const title =
      scenario === 'broadcast' && args.batchedBroadcast
        ? `${def.title} [wsbridge: one broadcastPrepared(prepareFrames(burst)) per burst]`
        : def.title;
    console.log(`\n== ${scenario}: ${title}`);
    const runs: Partial<Record<Impl, Measurement[]>> = {};
    const variantRuns: Record<string, Measurement[]> = {};
    const result: ScenarioResult = { title, unit: def.unit, impls: {}, ratios: {}, target: def.target };
    results[scenario] = result;
    const variants = (def.variants ?? []).filter((v) => args.impls.includes(v.impl));
    const entries = [
      ...args.impls.map((impl) => ({
        impl,
        label: impl as string,
        extraArgs: [] as string[],
        env: def.env,
        variant: false,
      })),
      ...variants.map((v) => ({
        impl: v.impl,
        label: v.label,
        extraArgs: v.args,
        env: v.env ?? def.env,
        variant: true,
      })),
    ];
    try {
      const reps = scenario === 'memory' && !args.repsGiven ? 1 : args.reps;
      for (let rep = 0; rep < reps; rep++) {
        // Rotate the order each repetition so that drifting machine load does not favour one implementation.
        const order = entries.map((_, i) => entries[(i + rep) % entries.length]);
        for (const { impl, label, extraArgs, env, variant } of order) {
          const execArgv =
            args.cpuProfDir && args.cpuProfImpls.includes(impl)
              ? [
                  '--cpu-prof',
                  '--cpu-prof-dir',
                  args.cpuProfDir,
                  '--cpu-prof-name',
                  `${label.replace(' ', '-')}-${scenario}-r${rep + 1}.cpuprofile`,
                ]
              : [];
          const extra =
            args.batchedBroadcast && impl === 'wsbridge' && scenario === 'broadcast'
              ? ['--batched', ...extraArgs]
              : extraArgs;
          const server = await ServerChild.start(impl, scenario, { execArgv, args: extra, env });
          try {
            if (!(impl in natives)) {
              natives[impl] = server.native;
              checkNative(impl, server.native);
            }
            const m = await def.run(server, args);
            if (variant) (variantRuns[label] ??= []).push(m);
            else (runs[impl] ??= []).push(m);
            process.stdout.write(
              `  rep ${rep + 1} ${label.padEnd(16)} ${fmt(m.figure, def.unit === 'MB/s' ? 1 : 0).padStart(12)} ${def.unit}` +
                `  server CPU ${pct(m.serverCpu).padStart(4)}  loadgen CPU ${pct(m.loadgenCpu).padStart(4)}\n`,
            );
          } finally {
            await server.stop();
          }
        }
      }
    } catch (error) {
      result.error = (error as Error).message;
      console.log(`  FAILED: ${result.error}`);
    }
    for (const impl of args.impls) if (runs[impl]?.length) result.impls[impl] = summarize(runs[impl]!);
    for (const v of variants)
      if (variantRuns[v.label]?.length)
        (result.variants ??= {})[v.label] = {
          ...summarize(variantRuns[v.label]),
          impl: v.impl,
          compareTo: v.compareTo,
        };
    const mine = result.impls.wsbridge?.figure;
    const ws = result.impls.ws?.figure;
    const native = result.impls['ws+native']?.figure;
    if (mine !== undefined && ws !== undefined) result.ratios.vsWs = mine / ws;
    if (mine !== undefined && native !== undefined) result.ratios.vsWsNative = mine / native;
    const eff = (impl: Impl): number | null | undefined => result.impls[impl]?.perServerCpuSecond;
    if (eff('wsbridge') && eff('ws')) result.ratios.cpuEfficiencyVsWs = eff('wsbridge')! / eff('ws')!;
    if (eff('wsbridge') && eff('ws+native'))
      result.ratios.cpuEfficiencyVsWsNative = eff('wsbridge')! / eff('ws+native')!;
    result.targetRatio = def.target.vs === 'ws' ? result.ratios.vsWs : result.ratios.vsWsNative;
    if (result.targetRatio !== undefined && !result.error && def.target.ratio !== undefined)
      result.pass = def.target.atMost
        ? result.targetRatio <= def.target.ratio
        : result.targetRatio >= def.target.ratio;
    printScenario(scenario, result);
  }

  let pipe: PipeResult | undefined;
  let pipeError: string | undefined;
  if (args.pipe) {
    const clients = args.quick ? 200 : 1000;
    console.log(
      `\n== ${PIPE_SCENARIO}: 64-byte lines written to the input FIFO at fixed rates, delivered to ${clients} clients` +
        ` (wsbridge CLI pipe mode vs ws reading the same FIFO)`,
    );
    try {
      pipe = await runPipe({
        rates: args.pipeRates,
        clients,
        workers: args.pipeWorkers,
        warmupMs: args.quick ? 300 : 1000,
        stepMs: args.quick ? 1000 : 4000,
        drainMs: 2000,
        // --impl: "wsbridge" runs the CLI, "ws" (or "ws+native") the two ws variants.
        impls: PIPE_IMPLS.filter((p) =>
          p === 'wsbridge' ? args.impls.includes('wsbridge') : args.impls.some((i) => i !== 'wsbridge'),
        ),
        cpuProfDir: args.cpuProfDir,
        cpuProfImpls: PIPE_IMPLS.filter((p) =>
          args.cpuProfImpls.includes(p === 'wsbridge' ? 'wsbridge' : 'ws'),
        ),
      });
      printPipe(pipe);
    } catch (error) {
      pipeError = (error as Error).message;
      console.log(`  FAILED: ${pipeError}`);
    }
  }

  let exec: ExecResult | undefined;
  if (args.exec) {
    console.log(`\n== ${EXEC_SCENARIO}: program mode with cat (connections/s, round trips)`);
    exec = await runExec(args).catch((error: Error) => void console.log(`  FAILED: ${error.message}`));
    if (exec) printExec(exec);
  }

  let tcpBridge: TcpBridgeResult | undefined;
  let tcpBridgeError: string | undefined;
  if (args.tcpBridge) {
    console.log(`\n== ${TCP_BRIDGE_SCENARIO}: ${tcpBridgeTitle()}`);
    // --impl: "wsbridge" runs the CLI, "ws" / "ws+native" the ws relay; direct TCP is the reference, always run.
    const relay: Partial<Record<TcpBridgePath, Impl>> = {
      wsbridge: 'wsbridge',
      'ws relay': 'ws',
      'ws+native relay': 'ws+native',
    };
    const picked = (p: TcpBridgePath): boolean => relay[p] === undefined || args.impls.includes(relay[p]);
    try {
      tcpBridge = await runTcpBridge({
        durationMs: args.durationMs,
        warmupMs: args.warmupMs,
        reps: args.reps,
        paths: TCP_BRIDGE_PATHS.filter(picked),
        cpuProfDir: args.cpuProfDir,
        cpuProfPaths: TCP_BRIDGE_PATHS.filter(
          (p) => relay[p] !== undefined && args.cpuProfImpls.includes(relay[p]),
        ),
      });
      printTcpBridge(tcpBridge);
    } catch (error) {
      tcpBridgeError = (error as Error).message;
      console.log(`  FAILED: ${tcpBridgeError}`);
    }
  }
  const summary = printSummary(args, results, [
    ...(args.pipe ? [pipeSummaryRow(pipe, pipeError)] : []),
    ...(args.tcpBridge ? tcpBridgeSummaryRows(tcpBridge, tcpBridgeError) : []),
  ]);
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    loadavg: loadavg(),
    seconds: (Date.now() - started) / 1000,
    options: { ...args },
    maskKey: MASK_KEY.toString('hex'),
    native: natives,
    scenarios: results,
    pipe,
    exec,
    tcpBridge,
    summary,
  };
  mkdirSync(dirname(args.jsonPath), { recursive: true });
  writeFileSync(args.jsonPath, JSON.stringify(json, null, 2) + '\n');
  console.log(`\nresults written to ${args.jsonPath} (${json.seconds.toFixed(0)} s)`);
}

function checkNative(impl: Impl, native: NativeInfo | null): void {
  if (!native) return;
  const loaded = `bufferutil ${native.bufferutil ? 'in use' : 'not loaded'}, utf-8-validate ${
    native.utf8Validate ? 'loaded' : 'not loaded'
  }${native.builtinIsUtf8 ? ' (ws validates UTF-8 with node:buffer isUtf8, native, whatever the env)' : ''}`;
  console.log(`  ${impl}: ${loaded}`);
  if (impl === 'ws+native' && !native.bufferutil) throw new Error('ws+native: bufferutil did not load');
  if (impl === 'ws' && (native.bufferutil || native.utf8Validate))
    throw new Error('ws: a native add-on loaded');
}

function printScenario(scenario: Scenario, result: ScenarioResult): void {
  const digits = result.unit === 'MB/s' ? 1 : 0;
  const rows: string[][] = [
    [
      'impl',
      `median ${result.unit}`,
      'runs',
      'server CPU',
      'loadgen CPU',
      'vs ws',
      'vs ws+native',
      'per srv CPU-s',
      'eff. vs ws',
    ],
  ];
  const named: [string, ImplResult][] = [
    ...IMPLS.filter((impl) => result.impls[impl]).map((impl): [string, ImplResult] => [
      impl,
      result.impls[impl]!,
    ]),
    ...Object.entries(result.variants ?? {}),
  ];
  for (const [name, r] of named) {
    const ws = result.impls.ws?.figure;
    const native = result.impls['ws+native']?.figure;
    rows.push([
      name,
      fmt(r.figure, digits),
      r.runs.map((m) => fmt(m.figure, digits)).join(' / '),
      pct(r.serverCpu),
      pct(r.loadgenCpu),
      ratioText(ws === undefined ? undefined : r.figure / ws),
      ratioText(native === undefined ? undefined : r.figure / native),
      fmt(r.perServerCpuSecond, digits),
      ratioText(
        r.perServerCpuSecond && result.impls.ws?.perServerCpuSecond
          ? r.perServerCpuSecond / result.impls.ws.perServerCpuSecond
          : undefined,
      ),
    ]);
  }
  console.log(`\n${scenario} (${result.unit}${scenario === 'memory' ? ', lower is better' : ''})`);
  console.log(table(rows));
  const compression = compressionLine(named.map(([name, r]) => [name, r.runs]));
  if (compression) console.log(compression);
  if (scenario === 'memory') {
    const rss: string[][] = [['impl', 'heapUsed B/conn', 'external B/conn', 'RSS B/conn', 'connections']];
    for (const impl of IMPLS) {
      const r = result.impls[impl];
      if (!r) continue;
      const d = (k: string): number => median(r.runs.map((m) => m.detail[k]));
      rss.push([
        impl,
        fmt(d('heapUsedPerConn')),
        fmt(d('externalPerConn')),
        fmt(d('rssPerConn')),
        fmt(d('connections')),
      ]);
    }
    console.log(table(rss));
    const mine = result.impls.wsbridge;
    const ws = result.impls.ws;
    if (mine && ws) {
      const rssRatio =
        median(mine.runs.map((m) => m.detail.rssPerConn)) / median(ws.runs.map((m) => m.detail.rssPerConn));
      console.log(
        `RSS ratio wsbridge/ws: ${ratioText(rssRatio)} (informational; RSS is noisier than the heap)`,
      );
    }
  }
}

interface SummaryRow {
  scenario: string;
  target: string;
  ratio: number | null;
  vsWs: number | null;
  vsWsNative: number | null;
  result: 'PASS' | 'MISS' | 'ERROR' | 'n/a';
}

function printSummary(
  args: Args,
  results: Partial<Record<Scenario, ScenarioResult>>,
  /** Rows of the scenarios outside DEFS (pipe, tcp-bridge), already in this table's eight columns. */
  extraRows: string[][] = [],
): SummaryRow[] {
  const rows: string[][] = [
    ['scenario', 'target', 'measured', 'vs ws', 'vs ws+native', 'CPU-eff. vs ws', 'vs ws+native', 'result'],
  ];
  const summary: SummaryRow[] = [];
  for (const scenario of args.scenarios) {
    const r = results[scenario]!;
    const t = r.target;
    const target =
      t.ratio === undefined
        ? `report wsbridge/${t.vs}`
        : `wsbridge/${t.vs} ${t.atMost ? '<=' : '>='} ${t.ratio}`;
    const outcome = r.error ? 'ERROR' : r.pass === undefined ? 'n/a' : r.pass ? 'PASS' : 'MISS';
    summary.push({
      scenario,
      target,
      ratio: r.targetRatio ?? null,
      vsWs: r.ratios.vsWs ?? null,
      vsWsNative: r.ratios.vsWsNative ?? null,
      result: outcome,
    });
    rows.push([
      scenario,
      target,
      ratioText(r.targetRatio),
      ratioText(r.ratios.vsWs),
      ratioText(r.ratios.vsWsNative),
      ratioText(r.ratios.cpuEfficiencyVsWs),
      ratioText(r.ratios.cpuEfficiencyVsWsNative),
      outcome,
    ]);
    // wsbridge's further configurations: "measured" is the ratio to the row it is compared with like for like.
    for (const [label, v] of Object.entries(r.variants ?? {})) {
      if (v.impl !== 'wsbridge') continue;
      const other = v.compareTo ? r.variants?.[v.compareTo] : undefined;
      const per = (x: ImplResult | undefined): number | undefined =>
        v.perServerCpuSecond && x?.perServerCpuSecond
          ? v.perServerCpuSecond / x.perServerCpuSecond
          : undefined;
      const vsWs = r.impls.ws ? v.figure / r.impls.ws.figure : undefined;
      const vsNative = r.impls['ws+native'] ? v.figure / r.impls['ws+native'].figure : undefined;
      summary.push({
        scenario: `${scenario} [${label}]`,
        target: other ? `report vs ${v.compareTo}` : 'report',
        ratio: other ? v.figure / other.figure : null,
        vsWs: vsWs ?? null,
        vsWsNative: vsNative ?? null,
        result: r.error ? 'ERROR' : 'n/a',
      });
      rows.push([
        `${scenario} [${label}]`,
        other ? `report vs ${v.compareTo}` : 'report',
        ratioText(other ? v.figure / other.figure : undefined),
        ratioText(vsWs),
        ratioText(vsNative),
        ratioText(per(r.impls.ws)),
        ratioText(per(r.impls['ws+native'])),
        r.error ? 'ERROR' : 'n/a',
      ]);
    }
  }
  for (const row of extraRows) {
    rows.push(row);
    summary.push({
      scenario: row[0],
      target: row[1],
      ratio: null,
      vsWs: null,
      vsWsNative: null,
      result: row[7] as SummaryRow['result'],
    });
  }
  console.log('\n== summary (ratios of medians from this run; PASS/MISS judged on the measured figure)');
  console.log(table(rows));
  console.log(
    'CPU-eff.: figure per second of server CPU, wsbridge/other: how much less CPU wsbridge spends per unit of work;\n' +
      'it is steadier than the raw figure when other processes compete for the 2 cores.',
  );
  return summary;
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
