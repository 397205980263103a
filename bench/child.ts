/**
 * Starting and talking to a server child. Every child ever forked is tracked (bench/processes.ts) and
 * killed when the bench exits, however it exits (normal end, exception, Ctrl-C, SIGTERM).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  withTimeout,
  type Command,
  type Impl,
  type NativeInfo,
  type Reply,
  type Scenario,
  type Stats,
} from './common.js';
import { track, untrack, wsEnv } from './processes.js';

const SERVER_SCRIPT = fileURLToPath(new URL('./server.js', import.meta.url));

type WithoutId<C> = C extends unknown ? Omit<C, 'id'> : never;
type CommandBody = WithoutId<Command>;

export interface ChildOptions {
  /** Extra node flags for the child (e.g. --cpu-prof). */
  execArgv?: string[];
  /** Extra arguments for server.js. */
  args?: string[];
  /** Environment changes for the child; undefined removes a variable. */
  env?: Record<string, string | undefined>;
}

function withChanges(
  env: NodeJS.ProcessEnv,
  changes: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export class ServerChild {
  readonly port: number;
  readonly native: NativeInfo | null;
  readonly pid: number;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private exited = false;
  private failure: Error | undefined;

  private constructor(
    private readonly child: ChildProcess,
    ready: Extract<Reply, { type: 'ready' }>,
  ) {
    this.port = ready.port;
    this.native = ready.native;
    this.pid = ready.pid;
    child.on('message', (reply: Reply) => {
      if (reply.type === 'ready') return;
      if (reply.type === 'error') {
        const error = new Error(reply.message);
        if (reply.id === undefined) this.failure = error;
        const entry = reply.id === undefined ? undefined : this.waiting.get(reply.id);
        if (entry) {
          this.waiting.delete(reply.id!);
          entry.reject(error);
        }
        return;
      }
      const entry = this.waiting.get(reply.id);
      if (entry) {
        this.waiting.delete(reply.id);
        entry.resolve(reply);
      }
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      const error = this.failure ?? new Error(`server child exited (code ${code}, signal ${signal})`);
      for (const entry of this.waiting.values()) entry.reject(error);
      this.waiting.clear();
    });
  }

  /** Forks `server.js impl scenario` and waits for it to report its port. */
  static async start(impl: Impl, scenario: Scenario, options: ChildOptions = {}): Promise<ServerChild> {
    const child = track(
      fork(SERVER_SCRIPT, [impl, scenario, ...(options.args ?? [])], {
        // Only 'ws' is pure JS (ws+native may load the add-ons; wsbridge does not read these variables).
        env: withChanges(wsEnv(impl !== 'ws'), options.env),
        execArgv: ['--expose-gc', ...(options.execArgv ?? [])],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    try {
      const ready = await withTimeout(
        new Promise<Extract<Reply, { type: 'ready' }>>((resolve, reject) => {
          child.on('message', (reply: Reply) => {
            if (reply.type === 'ready') resolve(reply);
            else if (reply.type === 'error') reject(new Error(reply.message));
          });
          child.once('exit', (code) => reject(new Error(`server child exited early (code ${code})`)));
          child.once('error', reject);
        }),
        15_000,
        `${impl} server start`,
      );
      return new ServerChild(child, ready);
    } catch (error) {
      child.kill('SIGKILL');
      untrack(child);
      throw error;
    }
  }

  private request(body: CommandBody, timeoutMs = 30_000): Promise<Reply> {
    if (this.exited) return Promise.reject(this.failure ?? new Error('server child is gone'));
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ ...body, id } as Command);
    });
    return withTimeout(reply, timeoutMs, `server command ${body.cmd}`);
  }

  async stats(gc = false): Promise<Stats> {
    const reply = await this.request({ cmd: 'stats', gc });
    if (reply.type !== 'stats') throw new Error('bad stats reply');
    return reply.stats;
  }

  async setPayloads(list: string[]): Promise<void> {
    await this.request({ cmd: 'payloads', list });
  }

  /** Sends a burst; resolves (with the receiver count summed over the burst) once the child has queued it. */
  async broadcast(start: number, count: number): Promise<number> {
    const reply = await this.request({ cmd: 'broadcast', start, count });
    return reply.type === 'ok' ? (reply.receivers ?? 0) : 0;
  }

  /** Asks the child to exit by itself (so profiles get written), then kills it if it does not. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      await this.request({ cmd: 'exit' }, 5_000);
      await withTimeout(gone, 10_000, 'server child exit');
    } catch {
      this.child.kill('SIGKILL');
      await withTimeout(gone, 5_000, 'server child kill').catch(() => undefined);
    } finally {
      untrack(this.child);
    }
  }
}
