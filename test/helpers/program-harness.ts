/**
 * Helpers for the program-mode tests (test/program/): the fixture programs, a `wsbridge` program-mode
 * server with its own environment, `ws` clients that record everything, raw handshakes (for paths a URL
 * parser would normalise), and /proc probes: children and zombies of a process, open descriptors,
 * resident memory, bytes written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket, { type ClientOptions } from 'ws';
import { CLI_PATH, REPO_ROOT, stopProcess, waitExit } from './peers.js';
import { RawClient, rawRequest, upgradeRequest, type RequestOptions, type Target } from './raw-client.js';

/** The fixture programs (in the source tree: tsc does not copy them). */
export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'program');
export const fixture = (name: string): string => join(FIXTURES, name);
/** This Node binary, to run the .mjs fixtures whatever PATH holds. */
export const NODE = process.execPath;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it is truthy; rejects after `ms` with `label`. */
export async function until(check: () => boolean, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${label}: not within ${ms} ms`);
    await sleep(10);
  }
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A running `wsbridge` in program mode. */
export interface ProgramServer {
  child: ChildProcess;
  pid: number;
  /** Port of the first TCP listener (0 if none). */
  port: number;
  /** Every "listening on" line. */
  listening: string[];
  stderr(): string;
  url(path?: string): string;
  /** Resolves once stderr matches (or rejects after `ms`). */
  waitForLog(text: string | RegExp, ms?: number): Promise<void>;
  /** SIGTERM, then wait for the exit (SIGKILL after `ms`). */
  shutdown(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** Starts `wsbridge ARGS` with `env` (default: this process's) and waits for its listening line(s). */
export async function startProgramServer(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; listeners?: number; timeoutMs?: number } = {},
): Promise<ProgramServer> {
  const child = spawn(NODE, [CLI_PATH, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.resume();
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    for (const watcher of [...watchers]) watcher();
  });
  const waitForLog = (text: string | RegExp, ms = 5000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => (typeof text === 'string' ? stderr.includes(text) : text.test(stderr));
      if (check()) return resolve();
      const timer = setTimeout(() => {
        watchers.delete(watcher);
        reject(new Error(`log never showed ${String(text)}; it has:\n${stderr}`));
      }, ms);
      const watcher = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        watchers.delete(watcher);
        resolve();
      };
      watchers.add(watcher);
    });
  const wanted = options.listeners ?? 1;
  const lines = (): string[] => stderr.split('\n').filter((l) => l.includes('listening on'));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`wsbridge did not start; stderr:\n${stderr}`)),
      options.timeoutMs ?? 10_000,
    );
    const onExit = (code: number | null): void =>
      fail(new Error(`wsbridge exited (${code}) before listening:\n${stderr}`));
    const watcher = (): void => {
      if (lines().length < wanted) return;
      clearTimeout(timer);
      watchers.delete(watcher);
      child.removeListener('exit', onExit);
      resolve();
    };
    const fail = (error: Error): void => {
      clearTimeout(timer);
      watchers.delete(watcher);
      child.kill('SIGKILL');
      reject(error);
    };
    child.once('exit', onExit);
    watchers.add(watcher);
    watcher();
  });
  const listening = lines();
  const match = /listening on wss?:\/\/(?:\[[^\]]*\]|[^\s/]+?):(\d+)\//.exec(listening.join('\n'));
  const port = match ? Number(match[1]) : 0;
  const scheme = /listening on wss:/.test(listening[0] ?? '') ? 'wss' : 'ws';
  return {
    child,
    pid: child.pid!,
    port,
    listening,
    stderr: () => stderr,
    url: (path = '/') => `${scheme}://127.0.0.1:${port}${path}`,
    waitForLog,
    shutdown: async (ms = 10_000) => {
      child.kill('SIGTERM');
      return waitExit(child, ms);
    },
    stop: () => stopProcess(child),
  };
}

/** Runs `wsbridge ARGS` to completion (flags that exit at once). */
export async function runProgramCli(
  args: readonly string[],
  timeoutMs = 10_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(NODE, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const { code } = await waitExit(child, timeoutMs);
  if (!child.stdout!.readableEnded || !child.stderr!.readableEnded)
    await new Promise((r) => child.once('close', r));
  live.delete(child);
  return { code, stdout, stderr };
}

/** A `ws` client that records every message and its close. */
export interface Recorded {
  ws: WebSocket;
  messages: { data: Buffer; isBinary: boolean }[];
  texts(): string[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves once `n` messages have arrived (rejects after `ms`). */
  waitMessages(n: number, ms?: number): Promise<void>;
}

export function record(ws: WebSocket): Recorded {
  const messages: { data: Buffer; isBinary: boolean }[] = [];
  ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => {
    const buffer = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    messages.push({ data: buffer, isBinary });
  });
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })),
  );
  return {
    ws,
    messages,
    texts: () => messages.map((m) => m.data.toString('utf8')),
    closed,
    waitMessages: (n, ms = 5000) =>
      until(() => messages.length >= n, ms, `${n} messages (have ${messages.length})`),
  };
}

/** Opens a recorded client; rejects with `statusCode` set when the handshake is refused. */
export function connectRecorded(
  url: string,
  options: ClientOptions & { protocols?: string[] } = {},
): Promise<Recorded> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? [], options);
    const recorded = record(ws); // attached before 'open': nothing sent right after the 101 is missed
    ws.once('unexpected-response', (_req, res) => {
      reject(
        Object.assign(new Error(`unexpected response ${res.statusCode}`), { statusCode: res.statusCode }),
      );
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
    ws.once('open', () => resolve(recorded));
  });
}

/**
 * Sends a handshake for exactly `path` (no URL normalisation) and returns the response status, headers and
 * body (none for a 101: the socket is then dropped).
 */
export async function rawUpgrade(
  target: Target,
  options: RequestOptions = {},
): Promise<{ status: number; body: string; headers: Record<string, string> }> {
  const { head } = upgradeRequest({ host: '127.0.0.1', ...options });
  const client = await RawClient.connect(target);
  try {
    client.write(head);
    const response = await client.readHead(5000);
    if (response.status === 101) return { status: 101, body: '', headers: response.headers };
    const length = Number(response.headers['content-length'] ?? 0);
    await until(() => client.pendingLength >= length, 5000, 'response body');
    const body = client.pending.subarray(0, length).toString('utf8');
    return { status: response.status, body, headers: response.headers };
  } finally {
    client.destroy();
  }
}

/** A plain HTTP request for exactly `path`; the whole response. */
export async function rawGet(
  target: Target,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body = '',
): Promise<{ status: number; body: string; headers: Record<string, string> }> {
  let head = `${method} ${path} HTTP/1.1\r\nConnection: close\r\n`;
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'host')) head += 'Host: 127.0.0.1\r\n';
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  if (body) head += `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  if (method === 'HEAD') {
    const client = await RawClient.connect(target);
    try {
      client.write(`${head}\r\n`);
      const response = await client.readHead(5000);
      return { status: response.status, body: '', headers: response.headers };
    } finally {
      client.destroy();
    }
  }
  const response = await rawRequest(target, `${head}\r\n${body}`, { closeWithinMs: 500, timeoutMs: 5000 });
  return { status: response.status, body: response.body, headers: response.headers };
}

// /proc probes (Linux).

/** pid, parent pid, state letter and name of every process. */
export function processes(): { pid: number; ppid: number; state: string; name: string }[] {
  const out: { pid: number; ppid: number; state: string; name: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      out.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        state: fields[0],
        name: stat.slice(stat.indexOf('(') + 1, close),
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function childrenOf(pid: number): { pid: number; state: string; name: string }[] {
  return processes().filter((p) => p.ppid === pid);
}

export function zombiesOf(pid: number): { pid: number; name: string }[] {
  return childrenOf(pid).filter((p) => p.state === 'Z');
}

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident memory, bytes. */
export function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : NaN;
}

/** Bytes the process has written (any descriptor). */
export function bytesWritten(pid: number): number {
  const match = /wchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}
