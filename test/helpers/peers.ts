/**
 * Helpers for the peer tests (test/peers/) and the CLI tests (test/cli/): spawning the real `wsbridge`
 * binary, talking to it with the `ws` package, and checking which foreign peers are installed.
 * Every spawned process is tracked and killed when the test process exits, whatever happens.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import WebSocket, { type ClientOptions } from 'ws';

/** The repository root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The built `wsbridge` binary. */
export const CLI_PATH = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** A finished process: how it ended and what it printed. */
export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Waits for a child to exit (at most `timeoutMs`, then SIGKILL and reject). */
export function waitExit(
  child: ChildProcess,
  timeoutMs = 10_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Kills a child if it is still running and waits for it to be gone. Safe to call twice. */
export async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await waitExit(child, 5_000).catch(() => undefined);
}

/** Runs any program to completion, collecting its output. */
export function runProgram(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessResult> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin!.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    waitExit(child, options.timeoutMs ?? 20_000).then(
      // 'exit' may come before the pipes are drained; 'close' comes after both.
      ({ code, signal }) => {
        if (child.stdout!.readableEnded && child.stderr!.readableEnded)
          resolve({ code, signal, stdout, stderr });
        else child.once('close', () => resolve({ code, signal, stdout, stderr }));
      },
      (error: Error) => reject(new Error(`${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`)),
    );
  });
}

/** Runs the CLI to completion (for flags that exit at once: --help, bad flags…). */
export function runCli(args: readonly string[], timeoutMs = 10_000): Promise<ProcessResult> {
  return runProgram(process.execPath, [CLI_PATH, ...args], { timeoutMs });
}

/** A running `wsbridge` process. */
export interface CliServer {
  child: ChildProcess;
  /** TCP port parsed from the listening line (0 for a Unix socket). */
  port: number;
  /** The listening line as logged. */
  listening: string;
  /** Everything written to stderr so far. */
  stderr(): string;
  stdout(): string;
  /** Resolves on exit (with a timeout that kills it). */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills it (SIGKILL) if still running. */
  stop(): Promise<void>;
  /** Resolves once stderr contains `text` (or rejects after `timeoutMs`). */
  waitForStderr(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

const LISTENING = /listening on wss?:\/\/(\[[^\]]*\]|[^\s/]+?)(?::(\d+))?[\s/(]/;

/** Spawns `wsbridge` with `args` without waiting for anything (see `startCli`). */
export function launchCli(args: readonly string[]): CliServer {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stderr = '';
  let stdout = '';
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    for (const watcher of watchers) watcher();
  });
  const waitForStderr = (text: string | RegExp, ms = 5_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => (typeof text === 'string' ? stderr.includes(text) : text.test(stderr));
      if (check()) return resolve();
      const watcher = (): void => {
        if (!check()) return;
        watchers.delete(watcher);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        watchers.delete(watcher);
        reject(new Error(`stderr never showed ${String(text)}; it has:\n${stderr}`));
      }, ms);
      watchers.add(watcher);
    });
  const server: CliServer = {
    child,
    port: 0,
    listening: '',
    stderr: () => stderr,
    stdout: () => stdout,
    exited: (ms = 10_000) => waitExit(child, ms),
    stop: () => stopProcess(child),
    waitForStderr,
  };
  return server;
}

/**
 * Spawns `wsbridge` with `args` and resolves once it logs its listening line. Rejects (and kills it) if
 * it exits first or does not start within `timeoutMs`.
 */
export async function startCli(args: readonly string[], timeoutMs = 10_000): Promise<CliServer> {
  const server = launchCli(args);
  const { child, waitForStderr } = server;
  let onExit: ((code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  try {
    await Promise.race([
      waitForStderr('listening on', timeoutMs),
      new Promise<never>((_resolve, reject) => {
        onExit = (code, signal) =>
          reject(
            new Error(`wsbridge exited (${code ?? signal}) before listening; stderr:\n${server.stderr()}`),
          );
        child.once('exit', onExit);
      }),
    ]);
  } catch (error) {
    await stopProcess(child);
    throw error;
  } finally {
    if (onExit) child.removeListener('exit', onExit);
  }
  const line = server
    .stderr()
    .split('\n')
    .find((l) => l.includes('listening on'))!;
  server.listening = line;
  const match = LISTENING.exec(line);
  server.port = match?.[2] ? Number(match[2]) : 0;
  return server;
}

/** A fresh temporary directory; `cleanup()` removes it. */
export function tempDir(prefix = 'wsbridge-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

// ws client helpers

/** Opens a `ws` client and resolves once it is open (rejects on error or a refused handshake). */
export function openWs(
  url: string,
  protocols?: string | string[],
  options: ClientOptions = {},
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    const onError = (error: Error): void => reject(error);
    ws.once('error', onError);
    ws.once('unexpected-response', (_req, res) => {
      ws.removeListener('error', onError);
      reject(
        Object.assign(new Error(`unexpected response ${res.statusCode}`), { statusCode: res.statusCode }),
      );
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => {
      ws.removeListener('error', onError);
      ws.on('error', () => undefined);
      resolve(ws);
    });
  });
}

/** Connects and expects the handshake to be refused; resolves with the HTTP status and body. */
export function refusedWs(
  url: string,
  options: ClientOptions = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => {
      ws.terminate();
      reject(new Error('handshake unexpectedly succeeded'));
    });
    ws.once('error', (error) => reject(error));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => {
        ws.removeAllListeners('error');
        ws.on('error', () => undefined);
        ws.terminate();
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
  });
}

/**
 * Offers subprotocols with ws and reports what the 101 answered, even when ws then refuses the
 * connection (ws fails a handshake whose answer names no subprotocol although some were offered).
 */
export function offerProtocols(
  url: string,
  protocols: string[],
): Promise<{ status: number; protocol: string | undefined; error: string | undefined }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols);
    let status = 0;
    let protocol: string | undefined;
    ws.once('upgrade', (res) => {
      status = res.statusCode ?? 0;
      const header = res.headers['sec-websocket-protocol'];
      protocol = Array.isArray(header) ? header.join(', ') : header;
    });
    ws.once('open', () => {
      ws.on('error', () => undefined);
      ws.once('close', () => resolve({ status, protocol, error: undefined }));
      ws.close();
    });
    ws.once('error', (error) => resolve({ status, protocol, error: error.message }));
  });
}

/** One received message. */
export interface WsMessage {
  data: Buffer;
  isBinary: boolean;
}

/** Resolves with the next message (rejects if the socket closes first or after `timeoutMs`). */
export function nextMessage(ws: WebSocket, timeoutMs = 10_000): Promise<WsMessage> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      ws.removeListener('message', onMessage);
      ws.removeListener('close', onClose);
    };
    const onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
      cleanup();
      resolve({ data: toBuffer(data), isBinary });
    };
    const onClose = (code: number): void => {
      cleanup();
      reject(new Error(`closed with ${code} while waiting for a message`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error('no message in time'));
    }, timeoutMs);
    ws.on('message', onMessage);
    ws.on('close', onClose);
  });
}

/** Sends one message and resolves with the echo. */
export async function echo(
  ws: WebSocket,
  data: string | Buffer,
  binary = typeof data !== 'string',
): Promise<WsMessage> {
  const reply = nextMessage(ws);
  ws.send(data, { binary });
  return reply;
}

/** Resolves with the close code and reason once the socket is closed (after `timeoutMs`: rejects). */
export function closed(ws: WebSocket, timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) return reject(new Error('already closed'));
    const timer = setTimeout(() => reject(new Error('socket not closed in time')), timeoutMs);
    ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString('utf8') });
    });
  });
}

/** Resolves once the socket is closed, whatever the state now (for cleanup). */
export function settle(ws: WebSocket | undefined): Promise<void> {
  if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    ws.terminate();
  });
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Waits until `predicate()` holds (polling every 10 ms); false if it never did within `timeoutMs`. */
export async function until(predicate: () => boolean, timeoutMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** Deterministic pseudo-random bytes (a test failure can be reproduced). */
export function patternBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// Which foreign peers are here

/** The system python (the Debian package python3-websockets is only importable by it). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const CHROMIUM = '/usr/bin/chromium';

function succeeds(command: string, args: string[]): boolean {
  try {
    return spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}

/** undefined when usable, otherwise the reason to skip. */
export function pythonWebsocketsMissing(): string | undefined {
  return succeeds(SYSTEM_PYTHON, ['-c', 'import websockets'])
    ? undefined
    : 'python3-websockets not installed: apt-get install python3-websockets';
}

/** The Python client script, read from the source tree (tsc does not copy it to dist/). */
export const PY_CLIENT = join(REPO_ROOT, 'test', 'peers', 'py_client.py');

/** One JSON line printed by py_client.py. */
export type PyStep = { step: string } & Record<string, unknown>;

/** Environment for the system python: without pyenv's or a virtualenv's settings. */
function pythonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYENV_VERSION']) delete env[name];
  return env;
}

/** Parses py_client.py's output lines. */
export function parseSteps(stdout: string): PyStep[] {
  const steps: PyStep[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    try {
      steps.push(JSON.parse(line) as PyStep);
    } catch {
      // a line still being written
    }
  }
  return steps;
}

/** Runs a py_client.py scenario to completion; returns its steps (and the raw result for messages). */
export async function runPython(
  scenario: string,
  url: string,
  arg?: string,
): Promise<{ steps: PyStep[]; step(name: string): PyStep; result: ProcessResult }> {
  const args = [PY_CLIENT, scenario, url, ...(arg === undefined ? [] : [arg])];
  const result = await runProgram(SYSTEM_PYTHON, args, { timeoutMs: 30_000, env: pythonEnv() });
  const steps = parseSteps(result.stdout);
  const step = (name: string): PyStep => {
    const found = steps.find((s) => s.step === name);
    if (!found)
      throw new Error(
        `python printed no '${name}' step; stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
      );
    return found;
  };
  return { steps, step, result };
}

/** Starts a py_client.py scenario and returns the child, for tests that act while it runs. */
export function spawnPython(
  scenario: string,
  url: string,
  arg?: string,
): { child: ChildProcess; stdout(): string; waitFor(step: string, timeoutMs?: number): Promise<void> } {
  const args = [PY_CLIENT, scenario, url, ...(arg === undefined ? [] : [arg])];
  const child = spawn(SYSTEM_PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'], env: pythonEnv() });
  track(child);
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    for (const watcher of watchers) watcher();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const waitFor = (step: string, timeoutMs = 10_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const seen = (): boolean => parseSteps(stdout).some((s) => s.step === step);
      if (seen()) return resolve();
      const timer = setTimeout(() => {
        watchers.delete(watcher);
        reject(new Error(`python never printed '${step}'; stdout:\n${stdout}\nstderr:\n${stderr}`));
      }, timeoutMs);
      const watcher = (): void => {
        if (!seen()) return;
        clearTimeout(timer);
        watchers.delete(watcher);
        resolve();
      };
      watchers.add(watcher);
    });
  return { child, stdout: () => stdout, waitFor };
}

export function chromiumMissing(): string | undefined {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return undefined;
  } catch {
    return 'chromium not installed: apt-get install chromium';
  }
}
export function opensslMissing(): string | undefined {
  return succeeds('openssl', ['version']) ? undefined : 'openssl not installed: apt-get install openssl';
}

/** Chromium flags for tests: no sandbox (root in a container), no GPU, no background traffic. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium, headless, driven by playwright-core (which gives it a fresh temporary profile). */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core'); // loaded only by the browser tests
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/**
 * Writes a fresh self-signed certificate for localhost and 127.0.0.1 (valid one day) and its key into
 * `dir` with openssl; returns their paths.
 */
export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'].concat([
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore', timeout: 30_000 },
  );
  return { cert, key };
}
