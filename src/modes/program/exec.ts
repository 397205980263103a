/**
 * The program bridge (websocketd's shape): one process per WebSocket connection, its stdin and stdout
 * wired to the socket.
 *
 * - The process is started before the handshake is answered (`startProgram`), so a program that cannot
 *   start is an HTTP status, not an accepted socket that closes at once.
 * - It runs in its own process group (a new session), so every signal reaches its children too.
 * - Text mode: each message in is written followed by `\n`; each line out (without `\n`, and a `\r` before
 *   it) is one text message, the last one even without a newline. Binary mode: bytes through unchanged,
 *   each read one binary message. Messages of the other type are ignored (websocketd 0.5.0).
 * - Backpressure both ways: while the client's send buffer is full the program's output is not read;
 *   while the program's stdin is full the client's socket is not read. Nothing is dropped, memory is bounded.
 * - Client gone: stdin is closed, then SIGINT, SIGTERM and SIGKILL on websocketd's ladder (100, 250 and
 *   500 ms, each plus `closeMs`) to the whole group, stopping as soon as the group is gone.
 * - Program done (stdout at end and the process exited): a Close frame, 1000 for exit status 0, 1011 with
 *   `exit status N` or `killed by SIGNAL` otherwise.
 */
import { isUtf8 } from 'node:buffer';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { LineSplitter } from '../../framing/lines.js';
import { ClientHold } from '../common/client-hold.js';
import { CloseCode } from '../../protocol/errors.js';
import type { Connection, ConnectionHandlers } from '../../server/connection.js';

/** Where a session reports (stderr lines of the program, exits, signals). */
export interface ExecLog {
  error(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

/** The program to start for one connection. */
export interface ProgramSpec {
  /** Executable path (resolved by the caller) and arguments. */
  command: string;
  args: readonly string[];
  /** The complete environment (nothing is inherited). */
  env: Readonly<Record<string, string>>;
  /** Working directory; default: the server's. */
  cwd?: string;
  /** A short name for log lines (e.g. the connection's remote address and path). */
  label?: string;
}

/** How a session relays. */
export interface ExecOptions {
  /** Binary mode (`--binary`): each read of stdout is one binary message; no line handling. */
  binary?: boolean;
  /** Also forward stderr; both streams then go as JSON text messages `{"stream":…,"data":…}`. */
  passStderr?: boolean;
  /** Added to each wait of the kill ladder, ms (`--closems`). Default 0. */
  closeMs?: number;
  /** Longest output line, bytes; a longer one closes the connection with 1009. Default 8 MiB. */
  maxLineLength?: number;
  log?: ExecLog;
}

/** websocketd's kill ladder: after stdin is closed, wait then send, step by step (each wait + closeMs). */
export const KILL_LADDER: readonly { wait: number; signal: NodeJS.Signals }[] = [
  { wait: 100, signal: 'SIGINT' },
  { wait: 250, signal: 'SIGTERM' },
  { wait: 500, signal: 'SIGKILL' },
];

/** A program that could not be started; `status` is the HTTP status to answer (500, or 503 when temporary). */
export class SpawnError extends Error {
  override name = 'SpawnError';
  constructor(
    message: string,
    readonly status: 500 | 503,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const TEMPORARY = new Set(['EAGAIN', 'ENOMEM', 'EMFILE', 'ENFILE']);
const NEWLINE = Buffer.from('\n');
const noop = (): void => undefined;

/** Sessions whose process group may still have members, by group id (= the program's pid). */
const groups = new Map<number, ProgramSession>();

// Whatever happens to the server, its programs' groups do not outlive it.
process.once('exit', () => {
  for (const pid of groups.keys()) signalGroup(pid, 'SIGKILL');
});

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How a process ended, as a close code and reason. */
export function exitCloseCode(
  code: number | null,
  signal: NodeJS.Signals | null,
): { code: number; reason: string } {
  if (code === 0) return { code: CloseCode.Normal, reason: '' };
  if (code !== null) return { code: CloseCode.InternalError, reason: `exit status ${code}` };
  return { code: CloseCode.InternalError, reason: `killed by ${signal ?? 'a signal'}` };
}

/**
 * Starts the program and resolves once it runs (its `spawn` event), or rejects with a SpawnError (its
 * `error` event: ENOENT, EACCES, a bad interpreter…). Attach it to the connection with `attach()`.
 */
export function startProgram(spec: ProgramSpec, options: ExecOptions = {}): Promise<ProgramSession> {
  let child: ChildProcess;
  try {
    child = spawn(spec.command, [...spec.args], {
      env: spec.env,
      cwd: spec.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true, // its own session and process group: signals reach its children too
      windowsHide: true,
    });
  } catch (error) {
    return Promise.reject(spawnFailure(spec, error as NodeJS.ErrnoException));
  }
  return new Promise((resolve, reject) => {
    const onSpawn = (): void => {
      child.removeListener('error', onError);
      resolve(new ProgramSession(child, spec, options));
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      child.removeListener('spawn', onSpawn);
      for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
      reject(spawnFailure(spec, error));
    };
    child.once('spawn', onSpawn);
    child.once('error', onError);
  });
}

function spawnFailure(spec: ProgramSpec, error: NodeJS.ErrnoException): SpawnError {
  const code = error.code;
  return new SpawnError(
    `cannot start ${spec.command}: ${code ?? error.message}`,
    code && TEMPORARY.has(code) ? 503 : 500,
    code,
  );
}

/**
 * One running program and (once attached) its connection. The connection handlers of `execHandlers()`
 * drive it; `terminate()` runs the kill ladder (used when the handshake fails after the start).
 */
export class ProgramSession {
  readonly pid: number;
  /** How the program exited, once it has. */
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves once the program and its group are gone and every pipe is closed. */
  readonly done: Promise<void>;

  private readonly stdin: Writable;
  private readonly stdout: Readable;
  private readonly stderr: Readable;
  private readonly options: Required<Omit<ExecOptions, 'log'>> & { log: ExecLog | undefined };
  private readonly label: string;
  private conn: Connection<unknown> | undefined;
  private stdoutLines: LineSplitter | undefined;
  private stderrLines: LineSplitter;
  private stdoutOpen = true;
  private stderrOpen = true;
  private stdinOpen = true;
  /** Output is read but thrown away (no connection to send it to any more). */
  private discarding = false;
  /** The client's socket is paused until stdin drains. */
  private readonly inputHold = new ClientHold();
  private listening = false;
  private terminating: Promise<void> | undefined;
  private closeSent = false;
  private finished = false;
  private resolveDone!: () => void;
  private readonly exitWaiters = new Set<() => void>();

  /** @internal use `startProgram` */
  constructor(child: ChildProcess, spec: ProgramSpec, options: ExecOptions) {
    this.pid = child.pid!;
    this.stdin = child.stdin!;
    this.stdout = child.stdout!;
    this.stderr = child.stderr!;
    this.label = spec.label ? `${spec.label} pid ${this.pid}` : `pid ${this.pid}`;
    this.options = {
      binary: options.binary ?? false,
      passStderr: options.passStderr ?? false,
      closeMs: options.closeMs ?? 0,
      maxLineLength: options.maxLineLength ?? 8 * 1024 * 1024,
      log: options.log,
    };
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    groups.get(this.pid)?.forgetGroup(); // a reused pid: that older group is gone
    groups.set(this.pid, this);
    this.stdin.on('error', () => this.stdinClosed());
    this.stdin.on('close', () => this.stdinClosed());
    this.stdout.on('error', noop);
    this.stderr.on('error', noop);
    this.stdout.once('close', () => this.outputClosed('stdout'));
    this.stderr.once('close', () => this.outputClosed('stderr'));
    // stderr is read from the start (it is only logged, or forwarded once attached).
    this.stderrLines = new LineSplitter(this.options.maxLineLength, {
      line: (line) => this.stderrLine(line),
      overlong: (length) =>
        this.options.log?.error(`${this.label} stderr: line over ${length} bytes discarded`),
    });
    if (!this.options.passStderr) this.stderr.on('data', (chunk: Buffer) => this.stderrLines.push(chunk));
    this.stderr.once('end', () => this.stderrLines.end());
    child.once('exit', (code, signal) => this.exited(code, signal));
    child.on('error', (error) => this.options.log?.error(`${this.label}: ${error.message}`));
  }

  /** Starts relaying between the program and an open connection. */
  attach(conn: Connection<unknown>): void {
    if (this.conn || this.terminating) return;
    this.conn = conn;
    this.listen();
  }

  /** A message from the client. */
  message(data: Buffer, isBinary: boolean): void {
    if (!this.stdinOpen || this.terminating) return;
    if (isBinary !== this.options.binary) {
      this.options.log?.debug(
        `${this.label}: ${isBinary ? 'binary' : 'text'} message ignored in ${this.options.binary ? 'binary' : 'text'} mode`,
      );
      return;
    }
    let ok: boolean;
    if (isBinary) ok = this.stdin.write(data);
    else if (data.length <= 16 * 1024) ok = this.stdin.write(Buffer.concat([data, NEWLINE], data.length + 1));
    else {
      this.stdin.cork();
      this.stdin.write(data);
      ok = this.stdin.write(NEWLINE);
      this.stdin.uncork();
    }
    if (!ok && !this.inputHold.held && this.conn) {
      this.inputHold.hold(this.conn);
      this.stdin.once('drain', () => this.resumeInput());
    }
  }

  /** The client's send buffer drained: read the program's output again. */
  drain(): void {
    if (this.discarding) return;
    this.stdout.resume();
    if (this.options.passStderr) this.stderr.resume();
  }

  /** The connection is gone: stop the program (stdin closed, then the ladder). */
  connectionClosed(): void {
    void this.terminate();
  }

  /**
   * Stops the program: closes its stdin, then signals its group on the ladder until the group is gone.
   * Its output is read and discarded meanwhile (a program that writes on its way out is not blocked).
   * Resolves once everything is gone.
   */
  terminate(): Promise<void> {
    if (this.finished) return this.done;
    this.terminating ??= this.runLadder();
    return this.terminating;
  }

  private async runLadder(): Promise<void> {
    this.discarding = true;
    this.listen();
    this.stdout.resume();
    this.stderr.resume();
    this.resumeInput();
    this.stdin.end();
    const closeMs = this.options.closeMs;
    for (const step of KILL_LADDER) {
      if (await this.waitGone(step.wait + closeMs)) break;
      this.options.log?.debug(`${this.label}: sending ${step.signal} to the process group`);
      signalGroup(this.pid, step.signal);
    }
    // After SIGKILL the kernel ends the group at once; wait for the exit to be reported.
    await this.waitGone(2000);
    this.finish();
  }

  /** True within `ms` once the program has exited and no process of its group is left. */
  private waitGone(ms: number): Promise<boolean> {
    const gone = (): boolean => this.exit !== undefined && !this.groupAlive();
    if (gone()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const deadline = Date.now() + ms;
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        clearTimeout(timer);
        if (gone()) return settle(true);
        const left = deadline - Date.now();
        if (left <= 0) return settle(false);
        // The program's exit is an event; the end of its children is not: poll for those.
        timer = setTimeout(check, this.exit === undefined ? left : Math.min(left, 10));
      };
      const settle = (value: boolean): void => {
        clearTimeout(timer);
        this.exitWaiters.delete(check);
        resolve(value);
      };
      this.exitWaiters.add(check);
      check();
    });
  }

  private groupAlive(): boolean {
    if (groups.get(this.pid) !== this) return false;
    return signalGroup(this.pid, 0);
  }

  /** Another session got this pid as its group id: ours was empty by then. */
  private forgetGroup(): void {
    if (groups.get(this.pid) === this) groups.delete(this.pid);
  }

  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    if (!this.options.binary || this.options.passStderr) {
      this.stdoutLines = new LineSplitter(this.options.maxLineLength, {
        line: (line) => this.outputLine('stdout', line),
        overlong: (length) => this.overlong(length),
      });
    }
    this.stdout.on('data', (chunk: Buffer) => this.stdoutData(chunk));
    this.stdout.once('end', () => {
      this.stdoutLines?.end();
      this.stdoutOpen = false;
      this.maybeClose();
    });
    if (this.options.passStderr) this.stderr.on('data', (chunk: Buffer) => this.stderrLines.push(chunk));
  }

  private stdoutData(chunk: Buffer): void {
    if (this.discarding) return;
    // The lines of one read are sent in the same tick: the connection writes them out together.
    if (this.stdoutLines) this.stdoutLines.push(chunk);
    else this.send(chunk, true);
  }

  private stderrLine(line: Buffer): void {
    if (this.options.passStderr && this.conn && !this.discarding) this.outputLine('stderr', line);
    else this.options.log?.error(`${this.label} stderr: ${line.toString('utf8')}`);
  }

  private outputLine(stream: 'stdout' | 'stderr', line: Buffer): void {
    if (this.discarding) return;
    if (this.options.passStderr) {
      this.send(JSON.stringify({ stream, data: line.toString('utf8') }), false);
      return;
    }
    // Output is not required to be UTF-8, but a text message must be: invalid bytes become U+FFFD.
    this.send(isUtf8(line) ? line : line.toString('utf8'), false);
  }

  private send(data: Buffer | string, binary: boolean): void {
    const conn = this.conn;
    if (!conn || !conn.isOpen) {
      this.discarding = true;
      return;
    }
    if (!conn.send(data, binary)) {
      this.stdout.pause();
      if (this.options.passStderr) this.stderr.pause();
    }
  }

  private overlong(length: number): void {
    this.options.log?.error(`${this.label}: output line over ${length} bytes, closing`);
    if (this.conn?.isOpen && !this.closeSent) {
      this.closeSent = true;
      this.conn.close(CloseCode.MessageTooBig, 'output line too long');
    }
    this.discarding = true;
    void this.terminate();
  }

  private resumeInput(): void {
    this.inputHold.release(this.conn);
  }

  private stdinClosed(): void {
    if (!this.stdinOpen) return;
    this.stdinOpen = false;
    // The program stopped reading for good: what the client sends from now on has nowhere to go.
    this.resumeInput();
  }

  private exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = { code, signal };
    this.options.log?.debug(
      `${this.label}: ${code !== null ? `exit status ${code}` : `killed by ${signal}`}`,
    );
    for (const waiter of [...this.exitWaiters]) waiter();
    this.maybeClose();
  }

  private outputClosed(stream: 'stdout' | 'stderr'): void {
    if (stream === 'stdout') this.stdoutOpen = false;
    else this.stderrOpen = false;
    this.maybeClose();
  }

  /**
   * The program said all it will say once stdout (and, forwarded, stderr) is at its end: then the
   * connection is closed with its exit status. Output ended while it still runs: it is stopped.
   */
  private maybeClose(): void {
    if (this.stdoutOpen || (this.options.passStderr && this.stderrOpen)) return;
    if (this.exit === undefined) {
      if (!this.terminating && this.conn) void this.terminate();
      return;
    }
    if (!this.closeSent && this.conn?.isOpen) {
      this.closeSent = true;
      const { code, reason } = exitCloseCode(this.exit.code, this.exit.signal);
      this.conn.close(code, reason);
    }
    if (this.terminating === undefined && !this.groupAlive() && !this.stderrOpen) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.discarding = true;
    this.resumeInput();
    for (const stream of [this.stdin, this.stdout, this.stderr]) stream.destroy();
    this.forgetGroup();
    this.resolveDone();
  }
}

/**
 * Connection callbacks that drive the session in `conn.data` (set through the upgrade hook's `info.data`).
 * Module-level functions: no closure per connection.
 */
export function execHandlers(): Required<
  Pick<ConnectionHandlers<ProgramSession>, 'open' | 'message' | 'drain' | 'close'>
> {
  return {
    open: (conn) => conn.data?.attach(conn as Connection<unknown>),
    message: (conn, data, isBinary) => conn.data?.message(data, isBinary),
    drain: (conn) => conn.data?.drain(),
    close: (conn) => conn.data?.connectionClosed(),
  };
}
