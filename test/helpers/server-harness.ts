/**
 * Test harness for the server and the client: start a server on port 0 (TCP, IPv6, TLS or a Unix path)
 * with every callback recorded, open recorded clients, wait for events with a deadline, and check that a
 * server still serves healthy clients. Also: a throwaway self-signed certificate, an IPv6 probe, a raw
 * fake server (for client tests), and a server in a child process (for memory measurements).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import {
  createServer as createNetServer,
  type AddressInfo,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import {
  connect,
  createServer,
  type ClientOptions,
  type Connection,
  type ConnectionHandlers,
  type ListenOptions,
  type Server,
  type ServerOptions,
} from '../../src/index.js';

// ---------------------------------------------------------------------------------------------- timing

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Rejects with `label` if `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` every 10 ms until it is truthy; rejects after `ms`. */
export async function until(check: () => boolean, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${label}: not within ${ms} ms`);
    await sleep(10);
  }
}

// ------------------------------------------------------------------------------------------- recording

export type Event<T = unknown> =
  | { type: 'open'; conn: Connection<T> }
  | { type: 'message'; conn: Connection<T>; data: Buffer; isBinary: boolean }
  | { type: 'drain'; conn: Connection<T> }
  | { type: 'close'; conn: Connection<T>; code: number; reason: string }
  | { type: 'shutdown'; conn: Connection<T> }
  | { type: 'ping'; conn: Connection<T>; payload: Buffer }
  | { type: 'pong'; conn: Connection<T>; payload: Buffer };

type EventOf<K extends Event['type'], T> = Extract<Event<T>, { type: K }>;

/**
 * Records every callback of a server or client, in order, and lets a test wait for (and consume) the
 * next event of a kind. Optional inner handlers run after recording.
 */
export class Recorder<T = unknown> {
  readonly events: Event<T>[] = [];
  private readonly taken = new Set<Event<T>>();
  private readonly waiters = new Set<() => void>();
  readonly handlers: Required<ConnectionHandlers<T>>;

  constructor(inner: ConnectionHandlers<T> = {}) {
    const push = (event: Event<T>): void => {
      this.events.push(event);
      for (const waiter of [...this.waiters]) waiter();
    };
    this.handlers = {
      open: (conn) => {
        push({ type: 'open', conn });
        inner.open?.(conn);
      },
      message: (conn, data, isBinary) => {
        push({ type: 'message', conn, data, isBinary });
        inner.message?.(conn, data, isBinary);
      },
      drain: (conn) => {
        push({ type: 'drain', conn });
        inner.drain?.(conn);
      },
      close: (conn, code, reason) => {
        push({ type: 'close', conn, code, reason });
        inner.close?.(conn, code, reason);
      },
      shutdown: (conn) => {
        push({ type: 'shutdown', conn });
        inner.shutdown?.(conn);
      },
      ping: (conn, payload) => {
        push({ type: 'ping', conn, payload });
        inner.ping?.(conn, payload);
      },
      pong: (conn, payload) => {
        push({ type: 'pong', conn, payload });
        inner.pong?.(conn, payload);
      },
    };
  }

  /** Events of one kind (optionally of one connection), consumed or not. */
  all<K extends Event['type']>(type: K, conn?: { id: number }): EventOf<K, T>[] {
    return this.events.filter(
      (e): e is EventOf<K, T> => e.type === type && (conn === undefined || e.conn.id === conn.id),
    );
  }

  /** Waits for the first not-yet-taken event of `type` (and of `conn`, if given) and takes it. */
  next<K extends Event['type']>(type: K, conn?: { id: number }, ms = 3000): Promise<EventOf<K, T>> {
    return new Promise((resolve, reject) => {
      const attempt = (): void => {
        const found = this.events.find(
          (e) => e.type === type && !this.taken.has(e) && (conn === undefined || e.conn.id === conn.id),
        );
        if (!found) return;
        this.taken.add(found);
        done();
        resolve(found as EventOf<K, T>);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no '${type}' event${conn ? ` for connection ${conn.id}` : ''} within ${ms} ms`));
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(attempt);
      };
      this.waiters.add(attempt);
      attempt();
    });
  }

  /** Marks every event recorded so far (of `type`, if given) as taken: `next()` then waits for new ones. */
  discard(type?: Event['type']): void {
    for (const e of this.events) if (type === undefined || e.type === type) this.taken.add(e);
  }

  /** The next message's data as text (taken). */
  async nextText(conn?: { id: number }, ms = 3000): Promise<string> {
    const event = await this.next('message', conn, ms);
    return event.data.toString('utf8');
  }
}

// ----------------------------------------------------------------------------------------------- servers

export interface Harness<T = unknown> {
  server: Server<T>;
  events: Recorder<T>;
  /** TCP port (0 for a Unix socket). */
  port: number;
  /** `ws://` or `wss://` URL of the server's root. */
  url: string;
  /** Where the server listens, for raw clients. */
  target: { port: number; host: string } | { path: string };
  /** Client options needed to reach it (socketPath for Unix, tls for wss). */
  clientOptions: ClientOptions;
  /** Opens a recorded client to `path` (default `/`). */
  client(path?: string, options?: ClientOptions): Promise<TestClient>;
  /** Closes the server (idempotent). */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Echo every message back (default true). */
  echo?: boolean;
  listen?: ListenOptions;
  /** Client options to reach this server (e.g. tls ca). */
  clientOptions?: ClientOptions;
  /** Hostname put in URLs (default: the listen host, or localhost). */
  urlHost?: string;
}

/** All servers started and not yet stopped, so `stopAll()` can clean up after a failed test. */
const running = new Set<{ stop(): Promise<void> }>();

/** Starts a server with recorded callbacks (echoing by default) on 127.0.0.1 port 0 unless told. */
export async function startServer<T = unknown>(
  options: ServerOptions<T> = {},
  start: StartOptions = {},
): Promise<Harness<T>> {
  const echo = start.echo ?? true;
  const inner: ConnectionHandlers<T> = {
    ...options,
    message: (conn, data, isBinary) => {
      options.message?.(conn, data, isBinary);
      if (echo && conn.isOpen) conn.send(data, isBinary);
    },
  };
  const events = new Recorder<T>(inner);
  const server = createServer<T>({ ...options, ...events.handlers });
  const listen = start.listen ?? { port: 0, host: '127.0.0.1' };
  await server.listen(listen);
  const scheme = options.tls ? 'wss' : 'ws';
  let port = 0;
  let url: string;
  let target: Harness['target'];
  const clientOptions: ClientOptions = { ...start.clientOptions };
  if ('path' in listen) {
    url = `${scheme}://${start.urlHost ?? 'localhost'}`;
    target = { path: listen.path };
    clientOptions.socketPath = listen.path;
  } else {
    port = (server.address() as AddressInfo).port;
    const host = start.urlHost ?? listen.host ?? 'localhost';
    url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    target = { port, host: listen.host ?? '127.0.0.1' };
  }
  let stopped: Promise<void> | undefined;
  const harness: Harness<T> = {
    server,
    events,
    port,
    url,
    target,
    clientOptions,
    client: (path = '/', options: ClientOptions = {}) =>
      openClient(url + path, { ...clientOptions, ...options }),
    stop: () => {
      running.delete(harness);
      stopped ??= server.close();
      return stopped;
    },
  };
  running.add(harness);
  return harness;
}

/** Stops every server still running (use in `afterEach`). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((h) => h.stop()));
  for (const client of openClients) if (client.conn.readyState !== 'closed') client.conn.terminate();
  openClients.clear();
}

// ----------------------------------------------------------------------------------------------- clients

export interface TestClient<T = unknown> {
  conn: Connection<T>;
  events: Recorder<T>;
  /** Sends text and waits for the next message (an echo). */
  roundTrip(text: string, ms?: number): Promise<string>;
  /** Starts the closing handshake and waits for the close callback. */
  close(code?: number, reason?: string): Promise<{ code: number; reason: string }>;
}

const openClients = new Set<{ conn: { readyState: string; terminate(): void } }>();

/** Connects a client whose callbacks are recorded. */
export async function openClient<T = unknown>(
  url: string,
  options: ClientOptions<T> = {},
): Promise<TestClient<T>> {
  const events = new Recorder<T>(options);
  const conn = await connect<T>(url, { handshakeTimeout: 3000, ...options, ...events.handlers });
  const client: TestClient<T> = {
    conn,
    events,
    roundTrip: async (text, ms = 3000) => {
      conn.send(text);
      return events.nextText(conn, ms);
    },
    close: async (code = 1000, reason = '') => {
      conn.close(code, reason);
      const event = await events.next('close', conn);
      return { code: event.code, reason: event.reason };
    },
  };
  openClients.add(client);
  return client;
}

/**
 * Asserts the server at `url` still serves: a fresh client connects, gets its message echoed, and
 * closes cleanly. `existing`, when given, must still echo too.
 */
export async function assertServes(
  url: string,
  options: ClientOptions = {},
  existing?: TestClient,
): Promise<void> {
  if (existing) {
    assert.equal(existing.conn.readyState, 'open', 'the other, healthy connection is still open');
    assert.equal(await existing.roundTrip('still there?'), 'still there?');
  }
  const fresh = await openClient(url, options);
  assert.equal(await fresh.roundTrip('healthy'), 'healthy');
  assert.deepEqual(await fresh.close(1000, 'done'), { code: 1000, reason: '' });
}

// --------------------------------------------------------------------------------------------- platform

/** True when this host can listen on ::1. */
export function ipv6Available(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port: 0, host: '::1' }, () => probe.close(() => resolve(true)));
  });
}

/** A fresh temporary directory and its removal. */
export async function tempDir(prefix = 'wsb-'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A self-signed certificate for CN=localhost made by openssl now, or a reason it could not be made
 * (openssl missing or failing).
 */
export async function selfSignedCert(): Promise<{ cert: Buffer; key: Buffer } | { skip: string }> {
  const { dir, remove } = await tempDir('wsb-tls-');
  try {
    const keyPath = join(dir, 'key.pem');
    const certPath = join(dir, 'cert.pem');
    const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1'];
    const failure = await new Promise<string | undefined>((resolve) => {
      execFile('openssl', [...args, '-keyout', keyPath, '-out', certPath], { timeout: 20_000 }, (error) =>
        resolve(
          error
            ? (error as NodeJS.ErrnoException).code === 'ENOENT'
              ? 'openssl is not installed'
              : `openssl failed: ${error.message}`
            : undefined,
        ),
      );
    });
    if (failure) return { skip: failure };
    return { cert: await readFile(certPath), key: await readFile(keyPath) };
  } finally {
    await remove();
  }
}

/** A plain TCP server that answers each connection with `onConnection` (e.g. a bogus 101). */
export async function fakeServer(
  onConnection: (socket: Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// ------------------------------------------------------------------------------ server in a child process

const indexUrl = new URL('../../src/index.js', import.meta.url).href;

/** What the child server reports. */
export interface ChildStats {
  heapUsed: number;
  /** Largest `bufferedAmount` of any connection seen, sampled every 5 ms and at every message/ping. */
  maxBufferedAmount: number;
  bufferedAmounts: number[];
  pings: number;
  count: number;
}

export interface ChildServer {
  port: number;
  stats(): Promise<ChildStats>;
  stop(): Promise<void>;
}

/**
 * Runs an echo server in a child node process (run with --expose-gc), so its heap can be measured apart
 * from the test's clients. `options` must be JSON.
 */
export async function startChildServer(options: Record<string, unknown>): Promise<ChildServer> {
  const script = `
    import { createServer } from ${JSON.stringify(indexUrl)};
    let pings = 0, maxBufferedAmount = 0;
    const sample = () => { for (const c of server) maxBufferedAmount = Math.max(maxBufferedAmount, c.bufferedAmount); };
    const server = createServer({
      ...${JSON.stringify(options)},
      message(conn, data, isBinary) { if (conn.isOpen) conn.send(data, isBinary); sample(); },
      ping() { pings++; if ((pings & 63) === 0) sample(); },
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    const timer = setInterval(sample, 5);
    process.on('message', async (msg) => {
      if (msg === 'stats') {
        sample();
        globalThis.gc();
        process.send({ heapUsed: process.memoryUsage().heapUsed, maxBufferedAmount, pings, count: server.count,
          bufferedAmounts: [...server].map((c) => c.bufferedAmount) });
      } else if (msg === 'stop') {
        clearInterval(timer);
        await server.close();
        process.disconnect();
      }
    });
    process.send({ port: server.address().port });
  `;
  return spawnScriptServer<ChildStats>(script);
}

/**
 * Runs `script` (an ES module that sends `{ port }`, answers 'stats' with one message and 'stop' by
 * closing) in a child node process with --expose-gc, so its heap is measured apart from the test's.
 * `track` sees the child (to kill it if the test process dies first).
 */
export async function spawnScriptServer<S>(
  script: string,
  track?: (child: ChildProcess) => void,
): Promise<{ port: number; stats(): Promise<S>; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  track?.(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const nextMessage = <M>(): Promise<M> =>
    within(
      new Promise<M>((resolve, reject) => {
        child.once('message', (m) => resolve(m as M));
        child.once('exit', (code) => reject(new Error(`child server exited (${code})`)));
      }),
      10_000,
      'child server answer',
    );
  const { port } = await nextMessage<{ port: number }>();
  return {
    port,
    stats: () => {
      const answer = nextMessage<S>();
      child.send('stats');
      return answer;
    },
    stop: async () => {
      if (child.exitCode === null && child.connected) child.send('stop');
      await within(exited, 5000, 'child server exit').catch(() => {
        child.kill('SIGKILL');
        return exited;
      });
    },
  };
}
