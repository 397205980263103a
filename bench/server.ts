/**
 * A benchmark server child: `node dist/bench/server.js <impl> <scenario>`, forked by run.js with an IPC
 * channel. It echoes every message (text as text, binary as binary), reports its port and (for ws) which
 * native add-ons are really in use, and answers the parent's commands: CPU/memory stats (optionally after
 * forced GCs, needs --expose-gc), broadcast bursts, exit. It exits when the parent goes away.
 */
import { createRequire } from 'node:module';
import { isUtf8 } from 'node:buffer';
import { HOST, IMPLS, type Command, type Impl, type NativeInfo, type Reply, type Stats } from './common.js';
import { wsbridgeDeflateOptions, wsDeflateOptions } from './deflate-config.js';

const impl = process.argv[2] as Impl;
const scenario = process.argv[3] ?? '';
/** wsbridge only: send each broadcast burst as one prepared multi-frame write per client. */
const batched = process.argv.includes('--batched');
if (!IMPLS.includes(impl) || !process.send) {
  console.error(`usage (forked by run.js): server.js <${IMPLS.join('|')}> <scenario>`);
  process.exit(2);
}

function send(reply: Reply): void {
  process.send!(reply);
}

process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (error) => {
  send({ type: 'error', message: `server child (${impl}, ${scenario}): ${error.stack ?? error.message}` });
  process.exit(1);
});

interface Backend {
  port: number;
  connections(): number;
  /** Sends the messages in order to every open connection; returns the number of deliveries queued. */
  broadcast(messages: string[]): number;
  native: NativeInfo | null;
}

async function startWsbridge(): Promise<Backend> {
  const { createServer } = await import('../src/index.js');
  const { prepareFrames } = await import('../src/server/hub.js');
  const server = createServer({
    pingInterval: 0,
    // The memory scenario holds up to 10,000 connections; the default cap is exactly that.
    maxConnections: 100_000,
    // echo-4m sends 4 MiB messages; ws's default limit (100 MiB) allows them too.
    ...(scenario === 'echo-4m' ? { maxMessageSize: 8 * 1024 * 1024 } : {}),
    // deflate-* scenarios: the settings of bench/deflate-config.ts; otherwise the default (no client offers it).
    perMessageDeflate: wsbridgeDeflateOptions(scenario, process.argv),
    message(conn, data, isBinary) {
      conn.send(data, isBinary);
    },
  });
  await server.listen({ port: 0, host: HOST });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    connections: () => server.count,
    broadcast: batched
      ? (messages) => messages.length * server.broadcastPrepared(prepareFrames(messages, false))
      : (messages) => {
          let n = 0;
          for (const message of messages) n += server.broadcast(message);
          return n;
        },
    native: null,
  };
}

/** What ws really uses: compiled add-ons present in the process, and whether ws's functions call them. */
function inspectNative(): NativeInfo {
  const require = createRequire(import.meta.url);
  const addons = (process.report.getReport() as { sharedObjects: string[] }).sharedObjects.filter((p) =>
    p.endsWith('.node'),
  );
  const cache = require.cache;
  let bufferUtilCalled = false;
  for (const [id, mod] of Object.entries(cache)) {
    if (id.endsWith('/ws/lib/buffer-util.js') && mod) {
      const unmask = (mod.exports as { unmask: (...a: unknown[]) => void }).unmask;
      bufferUtilCalled = String(unmask).includes('bufferUtil.unmask');
    }
  }
  return {
    bufferutil: bufferUtilCalled && addons.some((p) => p.includes('bufferutil')),
    utf8Validate: addons.some((p) => p.includes('utf-8-validate')),
    builtinIsUtf8: typeof isUtf8 === 'function',
    addons,
  };
}

async function startWs(): Promise<Backend> {
  const { WebSocketServer, WebSocket } = await import('ws');
  // host added so nothing listens beyond loopback; otherwise the settings the brief asks for.
  const wss = new WebSocketServer({
    port: 0,
    host: HOST,
    perMessageDeflate: wsDeflateOptions(scenario, process.argv), // false unless a deflate-* scenario
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data as Buffer, { binary: isBinary }));
    ws.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const address = wss.address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  return {
    port: address.port,
    connections: () => wss.clients.size,
    broadcast: (messages) => {
      let n = 0;
      for (const message of messages) {
        for (const client of wss.clients) {
          if (client.readyState === WebSocket.OPEN) {
            client.send(message);
            n++;
          }
        }
      }
      return n;
    },
    native: inspectNative(),
  };
}

async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('--expose-gc is required for stats with gc');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

async function stats(server: Backend, gc: boolean): Promise<Stats> {
  if (gc) await collectGarbage();
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    user: cpu.user,
    system: cpu.system,
    now: performance.now(),
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    arrayBuffers: mem.arrayBuffers,
    connections: server.connections(),
  };
}

const server = impl === 'wsbridge' ? await startWsbridge() : await startWs();
let payloads: string[] = [];

process.on('message', (message: Command) => {
  void (async () => {
    try {
      switch (message.cmd) {
        case 'stats':
          send({ type: 'stats', id: message.id, stats: await stats(server, message.gc ?? false) });
          break;
        case 'payloads':
          payloads = message.list;
          send({ type: 'ok', id: message.id });
          break;
        case 'broadcast': {
          const burst: string[] = [];
          for (let i = 0; i < message.count; i++) burst.push(payloads[(message.start + i) % payloads.length]);
          send({ type: 'ok', id: message.id, receivers: server.broadcast(burst) });
          break;
        }
        case 'exit':
          send({ type: 'ok', id: message.id });
          // process.exit (not a signal) so that --cpu-prof / --prof write their output.
          setImmediate(() => process.exit(0));
          break;
      }
    } catch (error) {
      send({ type: 'error', id: message.id, message: (error as Error).stack ?? String(error) });
    }
  })();
});

send({ type: 'ready', port: server.port, native: server.native, pid: process.pid });
