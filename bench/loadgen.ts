/**
 * The load generator: one function per workload, run in the bench parent against a server child. Every
 * loop is bounded in time (warm-up + duration, plus bounded drains) and in count, and connects only to
 * 127.0.0.1. Every received message is checked byte for byte against what the server must send.
 */
import type { Socket } from 'node:net';
import type { ServerChild } from './child.js';
import { sleep, sleepChecking, waitFor, type Stats } from './common.js';
import { FrameReader, FrameRing, openMany, openWebSocket, upgradeRequest } from './wire.js';

export interface Measurement {
  /** The scenario's figure (messages/s, MB/s, handshakes/s, bytes/connection, deliveries/s). */
  figure: number;
  /** Server CPU time / wall time over the measured window (1 = one core busy), or null. */
  serverCpu: number | null;
  /** Load generator CPU time / wall time over the window, or null. */
  loadgenCpu: number | null;
  /** Other numbers worth keeping (counts, RSS…). */
  detail: Record<string, number>;
}

interface Sample {
  count: number;
  wall: number;
  cpu: NodeJS.CpuUsage;
  server: Stats;
}

async function sample(server: ServerChild, counter: () => number): Promise<Sample> {
  const count = counter();
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return { count, wall, cpu, server: await server.stats() };
}

/** Waits `warmupMs`, then counts over `durationMs`; returns the rate and both CPU shares. */
export async function measure(
  server: ServerChild,
  warmupMs: number,
  durationMs: number,
  counter: () => number,
  failed: () => Error | undefined,
): Promise<{ rate: number; serverCpu: number; loadgenCpu: number; count: number; seconds: number }> {
  await sleepChecking(warmupMs, failed);
  const a = await sample(server, counter);
  await sleepChecking(durationMs, failed);
  const b = await sample(server, counter);
  const seconds = (b.wall - a.wall) / 1000;
  const loadgenCpu = (b.cpu.user + b.cpu.system - a.cpu.user - a.cpu.system) / 1e6 / seconds;
  const serverSeconds = (b.server.now - a.server.now) / 1000;
  const serverCpu = (b.server.user + b.server.system - a.server.user - a.server.system) / 1e6 / serverSeconds;
  return { rate: (b.count - a.count) / seconds, serverCpu, loadgenCpu, count: b.count - a.count, seconds };
}

export interface EchoOptions {
  connections: number;
  /** Messages in flight per connection; also the number of distinct payloads cycled through. */
  inFlight: number;
  payloads: Buffer[];
  opcode: number;
  warmupMs: number;
  durationMs: number;
}

/** Echo: each connection keeps `inFlight` messages outstanding; figure = echoed messages per second. */
export async function echo(server: ServerChild, options: EchoOptions): Promise<Measurement> {
  const { connections, inFlight, payloads, opcode } = options;
  if (payloads.length !== inFlight) throw new Error('need one payload per in-flight message');
  const ring = new FrameRing(opcode, payloads);
  const opened = await openMany(server.port, connections, 50, 30_000);
  let running = true;
  let received = 0;
  let failure: Error | undefined;
  const states = opened.map(({ socket }) => {
    const state = { socket, sent: 0, received: 0, expected: 0 };
    const reader = new FrameReader((op, length) => {
      if (op !== opcode) throw new Error(`opcode ${op}, expected ${opcode} (length ${length})`);
      return payloads[state.expected++ % inFlight];
    });
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
      if (running) {
        socket.write(ring.slice(state.sent, done));
        state.sent += done;
      }
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
      state.socket.write(ring.slice(0, inFlight));
      state.sent = inFlight;
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
    const bytes = m.rate * payloads[0].length;
    return {
      figure: m.rate,
      serverCpu: m.serverCpu,
      loadgenCpu: m.loadgenCpu,
      detail: { messages: m.count, seconds: m.seconds, mbPerSecond: bytes / 1e6, totalVerified: received },
    };
  } finally {
    running = false;
    for (const { state } of states) state.socket.destroy();
  }
}

export interface HandshakeOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Hard cap on handshakes started. */
  maxCount: number;
}

/**
 * Handshakes: `concurrency` loops, each opening a connection (TCP + upgrade + checked 101) and dropping
 * it with a RST (no TIME_WAIT left behind, so ephemeral ports never run out), then starting the next.
 */
export async function handshakes(server: ServerChild, options: HandshakeOptions): Promise<Measurement> {
  const request = upgradeRequest(server.port);
  let running = true;
  let started = 0;
  let completed = 0;
  let errors = 0;
  let active = 0;
  let failure: Error | undefined;
  const loop = (): void => {
    if (!running || started >= options.maxCount || failure) {
      active--;
      return;
    }
    started++;
    openWebSocket(server.port, request, (error, socket) => {
      if (error) {
        errors++;
        if (errors > 100) failure ??= new Error(`too many handshake failures, last: ${error.message}`);
        socket.destroy();
      } else {
        completed++;
        socket.resetAndDestroy();
      }
      loop();
    });
  };
  for (let i = 0; i < options.concurrency; i++) {
    active++;
    loop();
  }
  const failed = (): Error | undefined => failure;
  try {
    const m = await measure(server, options.warmupMs, options.durationMs, () => completed, failed);
    running = false;
    await waitFor(() => active === 0, 20_000, 'handshake loops to stop', failed);
    return {
      figure: m.rate,
      serverCpu: m.serverCpu,
      loadgenCpu: m.loadgenCpu,
      detail: { handshakes: m.count, seconds: m.seconds, errors, total: completed },
    };
  } finally {
    running = false;
  }
}

export interface MemoryOptions {
  connections: number;
  settleMs: number;
}

/** Memory per idle connection: server heapUsed+external and RSS after forced GC, minus the baseline. */
export async function memory(server: ServerChild, options: MemoryOptions): Promise<Measurement> {
  const n = options.connections;
  let sockets: Socket[] = [];
  try {
    // Warm-up: let the handshake and connection code paths be compiled and their one-off objects made.
    const warm = await openMany(server.port, 200, 50, 30_000);
    for (const { socket } of warm) socket.destroy();
    await sleep(300);
    let before = await server.stats(true);
    for (let i = 0; i < 100 && before.connections !== 0; i++) {
      await sleep(50);
      before = await server.stats(true);
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const opened = await openMany(server.port, n, 100, 180_000);
    sockets = opened.map(({ socket }) => socket);
    const openSeconds = (performance.now() - t0) / 1000;
    const cpu1 = process.cpuUsage(cpu0);
    let after = await server.stats();
    for (let i = 0; i < 200 && after.connections !== n; i++) {
      await sleep(50);
      after = await server.stats();
    }
    if (after.connections !== n)
      throw new Error(`server holds ${after.connections} connections, expected ${n}`);
    await sleep(options.settleMs);
    after = await server.stats(true);
    const heapPlusExternal = (after.heapUsed + after.external - before.heapUsed - before.external) / n;
    return {
      figure: heapPlusExternal,
      serverCpu: null,
      loadgenCpu: (cpu1.user + cpu1.system) / 1e6 / openSeconds,
      detail: {
        connections: n,
        heapUsedPerConn: (after.heapUsed - before.heapUsed) / n,
        externalPerConn: (after.external - before.external) / n,
        rssPerConn: (after.rss - before.rss) / n,
        rssBefore: before.rss,
        rssAfter: after.rss,
        heapBefore: before.heapUsed,
        heapAfter: after.heapUsed,
        openSeconds,
      },
    };
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

export interface BroadcastOptions {
  clients: number;
  /** Messages per burst (one IPC command); at most two bursts are outstanding. */
  burst: number;
  payloads: string[];
  warmupMs: number;
  durationMs: number;
  /** Hard cap on bursts. */
  maxBursts: number;
}

/** Broadcast: the server sends bursts to all clients; figure = deliveries (message × client) per second. */
export async function broadcast(server: ServerChild, options: BroadcastOptions): Promise<Measurement> {
  const { clients, payloads } = options;
  const expectedPayloads = payloads.map((p) => Buffer.from(p, 'utf8'));
  for (const p of expectedPayloads)
    if (p.length !== expectedPayloads[0].length) throw new Error('payload sizes differ');
  await server.setPayloads(payloads);
  const opened = await openMany(server.port, clients, 100, 60_000);
  const run = await driveBroadcast(server, opened, options, 20_000, () => {
    let expected = 0;
    return new FrameReader((op, length) => {
      if (op !== 0x1) throw new Error(`opcode ${op}, expected text (length ${length})`);
      return expectedPayloads[expected++ % expectedPayloads.length];
    });
  });
  return {
    figure: run.rate,
    serverCpu: run.serverCpu,
    loadgenCpu: run.loadgenCpu,
    detail: { deliveries: run.count, seconds: run.seconds, bursts: run.bursts, totalVerified: run.delivered },
  };
}

/** What a broadcast client reads with: `push` returns how many whole (checked) messages a chunk completed. */
export interface MessageCounter {
  push(chunk: Buffer): number;
}

/**
 * Drives a broadcast run over `opened` clients: bursts of `burst` messages (one IPC command each, at
 * most two outstanding), each client's bytes checked by its own reader; after the measurement, waits for
 * every issued message to reach every client, then closes them.
 */
export async function driveBroadcast(
  server: ServerChild,
  opened: { socket: Socket; rest: Buffer }[],
  options: { clients: number; burst: number; warmupMs: number; durationMs: number; maxBursts: number },
  drainMs: number,
  newReader: () => MessageCounter,
): Promise<Awaited<ReturnType<typeof measure>> & { bursts: number; delivered: number }> {
  const { clients, burst } = options;
  let running = true;
  let failure: Error | undefined;
  let delivered = 0;
  let issued = 0;
  let nextIssueAt = 0;
  const perBurst = burst * clients;
  const issue = (): void => {
    if (!running || issued >= options.maxBursts || failure) return;
    const start = issued * burst;
    issued++;
    nextIssueAt = (issued - 1) * perBurst;
    server.broadcast(start, burst).then(
      (receivers) => {
        if (receivers !== perBurst)
          failure ??= new Error(`burst reached ${receivers} receivers, expected ${perBurst}`);
      },
      (error: Error) => {
        failure ??= error;
      },
    );
  };
  const states = opened.map(({ socket, rest }) => {
    const state = { socket, received: 0 };
    const reader = newReader();
    const onData = (chunk: Buffer): void => {
      let done: number;
      try {
        done = reader.push(chunk);
      } catch (error) {
        failure ??= error as Error;
        socket.destroy();
        return;
      }
      state.received += done;
      delivered += done;
      if (delivered >= nextIssueAt) issue();
    };
    socket.on('data', onData);
    socket.on('close', () => {
      if (running) failure ??= new Error('server closed a broadcast client');
    });
    if (rest.length > 0) onData(rest);
    socket.resume();
    return state;
  });
  const failed = (): Error | undefined => failure;
  try {
    issue();
    issue();
    const m = await measure(server, options.warmupMs, options.durationMs, () => delivered, failed);
    running = false;
    await waitFor(() => delivered === issued * perBurst, drainMs, 'broadcast drain', failed);
    for (const s of states)
      if (s.received !== issued * burst)
        throw new Error(`a client got ${s.received} of ${issued * burst} messages`);
    return { ...m, bursts: issued, delivered };
  } finally {
    running = false;
    for (const s of states) s.socket.destroy();
  }
}
