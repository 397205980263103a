/**
 * Harness for the pipe-mode tests (test/pipe/): the real `wsbridge` binary with its own FIFOs in a fresh
 * temporary directory, real writers and readers (sh, cat, printf, python3, perl, compiled C), `ws`
 * clients that record everything, and a parser for strict-mode records.
 *
 * Every process started here runs in its own process group and is tracked: `stop()`/`kill()` end the
 * whole group, and anything still alive when the test process exits is killed then.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { type ClientOptions } from 'ws';

/** The repository root (this file runs from dist/test/helpers/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The built `wsbridge` binary. */
export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `every` ms until it is truthy; rejects with `label` (and `detail()`) after `ms`. */
export async function until(
  check: () => boolean,
  ms: number,
  label: string,
  detail: () => string = () => '',
  every = 10,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      const more = detail();
      throw new Error(`${label}: not within ${ms} ms${more ? `\n${more}` : ''}`);
    }
    await sleep(every);
  }
}

// ------------------------------------------------------------------------------------------- processes

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // the whole group (spawned detached: pgid = pid)
  } catch {
    try {
      child.kill(signal);
    } catch {
      // gone
    }
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Waits for a child to exit; after `ms` kills its group and rejects. */
export function waitExit(
  child: ChildProcess,
  ms = 10_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (exited(child)) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`process ${child.pid} (${child.spawnargs.join(' ')}) did not exit within ${ms} ms`));
    }, ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** A spawned process with its output collected. */
export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout(): Buffer;
  stderr(): string;
  /** Resolves on exit (kills the group and rejects after `ms`), once stdout and stderr are read to the end. */
  done(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` to the whole process group (default SIGKILL) and waits for the exit. Safe to repeat. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves once `check(stdout)` holds (rejects after `ms` with what was seen). */
  waitStdout(check: (out: Buffer) => boolean, ms: number, label: string): Promise<void>;
}

/**
 * Spawns a program in its own process group with stdout and stderr collected. `stdin`: 'pipe' to write
 * to it (child.stdin), or 'ignore'.
 */
export function start(
  command: string,
  args: readonly string[],
  options: { stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Proc {
  const child = spawn(command, args, {
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
    detached: true,
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  if (child.pid === undefined) throw new Error(`cannot spawn ${command}`);
  live.add(child);
  let closed = false;
  child.once('close', () => {
    closed = true;
    live.delete(child);
  });
  const out: Buffer[] = [];
  let outLength = 0;
  let err = '';
  let joined: Buffer | undefined;
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    out.push(chunk);
    outLength += chunk.length;
    joined = undefined;
    for (const watcher of [...watchers]) watcher();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const stdout = (): Buffer => (joined ??= Buffer.concat(out, outLength));
  const proc: Proc = {
    child,
    pid: child.pid,
    stdout,
    stderr: () => err,
    done: async (ms = 20_000) => {
      const result = await waitExit(child, ms);
      if (!closed) await new Promise((resolve) => child.once('close', resolve));
      return result;
    },
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (exited(child)) return;
      killGroup(child, signal);
      await waitExit(child, 5_000).catch(() => killGroup(child, 'SIGKILL'));
    },
    waitStdout: (check, ms, label) =>
      new Promise((resolve, reject) => {
        if (check(stdout())) return resolve();
        const watcher = (): void => {
          if (!check(stdout())) return;
          watchers.delete(watcher);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          watchers.delete(watcher);
          const seen = stdout();
          reject(
            new Error(
              `${label}: not within ${ms} ms; stdout has ${seen.length} bytes: ` +
                JSON.stringify(seen.subarray(-300).toString('latin1')) +
                `\nstderr: ${err}`,
            ),
          );
        }, ms);
        watchers.add(watcher);
      }),
  };
  return proc;
}

/** Runs a program to completion and returns its result; throws if it fails (non-zero exit or signal). */
export async function run(
  command: string,
  args: readonly string[],
  options: { ms?: number; allowFailure?: boolean } = {},
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const proc = start(command, args);
  const { code, signal } = await proc.done(options.ms ?? 20_000);
  if (!options.allowFailure && (code !== 0 || signal !== null))
    throw new Error(`${command} ${args.join(' ')} failed (${code ?? signal}): ${proc.stderr()}`);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/** Runs `script` with `sh -c` to completion (throws if it fails). */
export function sh(
  script: string,
  ms = 20_000,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return run('/bin/sh', ['-c', script], { ms });
}

/** Single-quotes a string for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------- the bridge

/** A running `wsbridge` in pipe mode. */
export interface Bridge {
  proc: Proc;
  /** The wsbridge process id (for /proc sampling); with `shell`, the pipeline's wsbridge node process. */
  pid: number;
  port: number;
  /** The temporary directory holding the FIFOs (removed by `stop()`). */
  dir: string;
  pipeIn: string;
  pipeOut: string;
  url(path?: string): string;
  stderr(): string;
  /** Resolves once stderr matches (rejects after `ms`, showing stderr). */
  waitLog(pattern: RegExp | string, ms?: number): Promise<string>;
  /** Sends `signal` (default SIGINT) and waits for the exit; SIGKILLs the group after `ms`. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops (if running) and removes the temporary directory. Safe to call twice. */
  cleanup(): Promise<void>;
}

const LISTENING = /listening on wss?:\/\/(?:\[[^\]]*\]|[^\s:/]+):(\d+)/;

export interface BridgeOptions {
  /** Do not pass --pipein/--pipeout (for --std). */
  noFifoFlags?: boolean;
  /** Run through `sh -c`: the string gets `$WSBRIDGE` (node + CLI) and `$DIR` (tmp dir) in its env. */
  shell?: string;
  /** Ms to wait for the listening line. */
  ms?: number;
}

/**
 * Starts `wsbridge -p 0 --pipein=DIR/in.fifo --pipeout=DIR/out.fifo ...args` in a fresh temporary
 * directory and resolves once it logs its listening line (port parsed from it).
 */
export async function startBridge(
  args: readonly string[] = [],
  options: BridgeOptions = {},
): Promise<Bridge> {
  const dir = mkdtempSync(join(tmpdir(), 'wsbridge-pipe-'));
  const pipeIn = join(dir, 'in.fifo');
  const pipeOut = join(dir, 'out.fifo');
  const argv = [
    CLI,
    '-p',
    '0',
    ...(options.noFifoFlags ? [] : [`--pipein=${pipeIn}`, `--pipeout=${pipeOut}`]),
    ...args,
  ];
  const proc = options.shell
    ? start('/bin/sh', ['-c', options.shell], {
        stdin: 'pipe',
        env: { ...process.env, WSBRIDGE: [process.execPath, ...argv].map(shq).join(' '), DIR: dir },
      })
    : start(process.execPath, argv, { stdin: 'pipe' });
  const logWatchers = new Set<() => void>();
  proc.child.stderr!.on('data', () => setImmediate(() => logWatchers.forEach((w) => w())));
  const waitLog = (pattern: RegExp | string, ms = 5_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const find = (): string | undefined => {
        const text = proc.stderr();
        if (typeof pattern === 'string') {
          const line = text.split('\n').find((l) => l.includes(pattern));
          return line;
        }
        const m = pattern.exec(text);
        return m ? m[0] : undefined;
      };
      const found = find();
      if (found !== undefined) return resolve(found);
      const watcher = (): void => {
        const hit = find();
        if (hit === undefined) return;
        logWatchers.delete(watcher);
        clearTimeout(timer);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        logWatchers.delete(watcher);
        reject(
          new Error(`wsbridge never logged ${String(pattern)} within ${ms} ms; stderr:\n${proc.stderr()}`),
        );
      }, ms);
      logWatchers.add(watcher);
    });
  let stopped: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGINT', ms = 8_000) => {
    if (stopped) return stopped;
    if (exited(proc.child))
      return (stopped = Promise.resolve({ code: proc.child.exitCode, signal: proc.child.signalCode }));
    if (options.shell) {
      // signal the wsbridge process itself, then let the pipeline end
      const pid = nodePid();
      if (pid) process.kill(pid, signal);
      stopped = waitExit(proc.child, ms).catch(async (error: Error) => {
        await proc.kill('SIGKILL');
        throw error;
      });
      return stopped;
    }
    proc.child.kill(signal);
    stopped = waitExit(proc.child, ms);
    return stopped;
  };
  let nodePidCache: number | undefined;
  const nodePid = (): number | undefined => {
    if (!options.shell) return proc.pid;
    if (nodePidCache) return nodePidCache;
    nodePidCache = findDescendant(proc.pid, (cmd) => cmd.includes(CLI));
    return nodePidCache;
  };
  const bridge: Bridge = {
    proc,
    pid: 0,
    port: 0,
    dir,
    pipeIn,
    pipeOut,
    url: (path = '/') => `ws://127.0.0.1:${bridge.port}${path}`,
    stderr: () => proc.stderr(),
    waitLog,
    stop,
    cleanup: async () => {
      try {
        await stop('SIGINT', 5_000).catch(() => undefined);
      } finally {
        await proc.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    const line = await Promise.race([
      waitLog(LISTENING, options.ms ?? 10_000),
      // (no timeout here: this watch outlives the race, and must never kill a bridge that started)
      new Promise<never>((_, reject) =>
        proc.child.once('close', (code, signal) =>
          reject(
            new Error(`wsbridge exited (${code ?? signal}) before listening; stderr:\n${proc.stderr()}`),
          ),
        ),
      ),
    ]);
    bridge.port = Number(LISTENING.exec(line)![1]);
    bridge.pid = nodePid() ?? 0;
  } catch (error) {
    await bridge.cleanup();
    throw error;
  }
  return bridge;
}

/** The first descendant of `pid` whose command line satisfies `match` (Linux /proc). */
export function findDescendant(pid: number, match: (cmdline: string) => boolean): number | undefined {
  const children = (p: number): number[] => {
    try {
      return readFileSync(`/proc/${p}/task/${p}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  const queue = children(pid);
  while (queue.length > 0) {
    const p = queue.shift()!;
    try {
      if (match(readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' '))) return p;
    } catch {
      // gone
    }
    queue.push(...children(p));
  }
  return undefined;
}

/** CPU time (user + system) of a process in seconds, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / clockTicks();
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond) return ticksPerSecond;
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  ticksPerSecond = Number(result.stdout?.trim()) || 100;
  return ticksPerSecond;
}

/** Fraction of one CPU a process used over `ms` of wall time. */
export async function cpuShare(pid: number, ms = 1_000): Promise<number> {
  const before = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const used = cpuSeconds(pid) - before;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return used / wall;
}

// -------------------------------------------------------------------------------------- writers/readers

/** Writes `data` to a FIFO with `cat > fifo` (one writer open/close). */
export async function catInto(fifo: string, data: Buffer | string): Promise<void> {
  const proc = start('/bin/sh', ['-c', `exec cat > ${shq(fifo)}`], { stdin: 'pipe' });
  proc.child.stdin!.end(data);
  const { code } = await proc.done(30_000);
  if (code !== 0) throw new Error(`cat > ${fifo} failed (${code}): ${proc.stderr()}`);
}

/** A long-lived `cat > fifo` writer: what is written to it reaches the FIFO as cat reads it. */
export interface CatWriter {
  proc: Proc;
  write(data: Buffer | string): Promise<void>;
  /** Closes cat's stdin (cat then closes the FIFO) and waits for it to exit. */
  end(): Promise<void>;
}

export function catWriter(fifo: string): CatWriter {
  const proc = start('/bin/sh', ['-c', `exec cat > ${shq(fifo)}`], { stdin: 'pipe' });
  const stdin = proc.child.stdin!;
  stdin.on('error', () => undefined);
  return {
    proc,
    write: (data) =>
      new Promise((resolve, reject) => stdin.write(data, (error) => (error ? reject(error) : resolve()))),
    end: async () => {
      stdin.end();
      await proc.done(30_000);
    },
  };
}

/** `cat fifo` as the application's reader of the output FIFO. */
export function catReader(fifo: string): Proc {
  return start('/bin/sh', ['-c', `exec cat ${shq(fifo)}`]);
}

/** A Node child that opens the FIFO (O_WRONLY) and writes `pieces` in separate write() calls, `delayMs` apart. */
export async function pieceWriter(fifo: string, pieces: Buffer[], delayMs: number): Promise<void> {
  const script = `
    const fs = require('node:fs');
    const pieces = JSON.parse(process.argv[2]).map((b) => Buffer.from(b, 'base64'));
    const fd = fs.openSync(process.argv[1], fs.constants.O_WRONLY);
    const pause = new Int32Array(new SharedArrayBuffer(4));
    for (const piece of pieces) {
      let at = 0;
      while (at < piece.length) at += fs.writeSync(fd, piece, at);
      if (${delayMs} > 0) Atomics.wait(pause, 0, 0, ${delayMs});
    }
    fs.closeSync(fd);
  `;
  const proc = start(process.execPath, [
    '-e',
    script,
    fifo,
    JSON.stringify(pieces.map((p) => p.toString('base64'))),
  ]);
  const { code } = await proc.done(60_000);
  if (code !== 0) throw new Error(`piece writer failed (${code}): ${proc.stderr()}`);
}

// ---------------------------------------------------------------------------------------- strict records

export interface StrictRecord {
  id: number;
  type: number;
  payload: Buffer;
}

export const T = { Text: 1, Binary: 2, Close: 8, Ping: 9, Open: 0x10, Request: 0x11, Error: 0x20 } as const;

/** Encodes a strict-mode record. */
export function record(id: number, type: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(12);
  head.writeUInt32BE(id, 0);
  head.writeUInt32BE(type, 4);
  head.writeUInt32BE(body.length, 8);
  return Buffer.concat([head, body]);
}

/** Parses complete records from a byte stream; `rest` is an incomplete tail. */
export function parseRecords(data: Buffer): { records: StrictRecord[]; rest: number } {
  const records: StrictRecord[] = [];
  let at = 0;
  while (data.length - at >= 12) {
    const length = data.readUInt32BE(at + 8);
    if (data.length - at - 12 < length) break;
    records.push({
      id: data.readUInt32BE(at),
      type: data.readUInt32BE(at + 4),
      payload: data.subarray(at + 12, at + 12 + length),
    });
    at += 12 + length;
  }
  return { records, rest: data.length - at };
}

/** Records read so far by a reader process. */
export function recordsOf(reader: Proc): StrictRecord[] {
  return parseRecords(reader.stdout()).records;
}

/** Shows records compactly for failure messages. */
export function showRecords(records: StrictRecord[]): string {
  return records
    .map(
      (r) =>
        `{id ${r.id} type 0x${r.type.toString(16)} len ${r.payload.length}` +
        (r.payload.length <= 80 ? ` ${JSON.stringify(r.payload.toString('latin1'))}` : '') +
        '}',
    )
    .join('\n');
}

// -------------------------------------------------------------------------------------------- clients

export interface Received {
  data: Buffer;
  binary: boolean;
}

/** A `ws` client that records what it receives. */
export interface Client {
  ws: WebSocket;
  messages: Received[];
  /** Text of each message received. */
  texts(): string[];
  pings: Buffer[];
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  isClosed(): boolean;
  /** Resolves once `n` messages arrived in total. */
  waitCount(n: number, ms?: number): Promise<void>;
  /** Resolves once a message satisfying `check` arrived. */
  waitFor(check: (m: Received) => boolean, ms?: number, label?: string): Promise<Received>;
  close(): Promise<void>;
}

export async function connect(
  url: string,
  protocols?: string | string[],
  options: ClientOptions = {},
): Promise<Client> {
  const ws = new WebSocket(url, protocols, { maxPayload: 64 * 1024 * 1024, ...options });
  const messages: Received[] = [];
  const pings: Buffer[] = [];
  const watchers = new Set<() => void>();
  let isClosed = false;
  const notify = (): void => {
    for (const watcher of [...watchers]) watcher();
  };
  ws.on('message', (data, binary) => {
    messages.push({ data: data as Buffer, binary });
    notify();
  });
  ws.on('ping', (payload) => {
    pings.push(payload);
    notify();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      isClosed = true;
      resolve({ code, reason: reason.toString() });
      notify();
    }),
  );
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
  });
  const waitUntil = (check: () => boolean, ms: number, label: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (check()) return resolve();
      const watcher = (): void => {
        if (!check()) return;
        watchers.delete(watcher);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        watchers.delete(watcher);
        const last = messages.slice(-3).map((m) => m.data.subarray(0, 60).toString());
        reject(
          new Error(
            `${label}: not within ${ms} ms (${messages.length} messages, last ${JSON.stringify(last)})`,
          ),
        );
      }, ms);
      watchers.add(watcher);
    });
  return {
    ws,
    messages,
    texts: () => messages.map((m) => m.data.toString()),
    pings,
    closed,
    isClosed: () => isClosed,
    waitCount: (n, ms = 5_000) => waitUntil(() => messages.length >= n, ms, `waiting for ${n} messages`),
    waitFor: async (check, ms = 5_000, label = 'waiting for a message') => {
      let found: Received | undefined;
      await waitUntil(() => (found = messages.find(check)) !== undefined, ms, label);
      return found!;
    },
    close: async () => {
      if (isClosed) return;
      ws.close();
      await Promise.race([closed, sleep(2_000)]);
      if (!isClosed) ws.terminate();
    },
  };
}

// -------------------------------------------------------------------------------------------- peers

/** Why a program is unusable, or undefined when it is there. */
export function missingProgram(path: string): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return undefined;
  } catch {
    return `${path} is not installed`;
  }
}

export const PYTHON = '/usr/bin/python3';
export const PERL = '/usr/bin/perl';
export const CHROMIUM = '/usr/bin/chromium';

/** A C compiler: `cc` on the PATH. */
export function findCc(): string | undefined {
  const result = spawnSync('/bin/sh', ['-c', 'command -v cc || command -v gcc'], { encoding: 'utf8' });
  const path = result.stdout?.trim().split('\n')[0];
  return path ? path : undefined;
}

/** Skip reason for a peer, or `false`; with WSBRIDGE_REQUIRE_PEERS=1 a missing peer is a failure instead. */
export function skipUnless(missing: string | undefined): string | false {
  if (!missing) return false;
  if (process.env.WSBRIDGE_REQUIRE_PEERS === '1')
    throw new Error(`${missing} (WSBRIDGE_REQUIRE_PEERS=1: peers are required)`);
  console.log(`# skipping: ${missing}`);
  return missing;
}
