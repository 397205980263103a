/**
 * Idle pings and dead-peer reaping for many connections with one timer. Each sweep looks at every
 * connection: traffic since the last sweep marks it alive; a connection idle for `pingInterval` gets a
 * Ping; one whose Ping went unanswered (no traffic at all) for `pongTimeout` is dropped.
 */
import type { Connection } from './connection.js';

export interface KeepaliveOptions {
  /** Idle time before a Ping is sent, ms. 0 disables keepalive. */
  pingInterval: number;
  /** Time allowed for any answer after a Ping, ms. */
  pongTimeout: number;
}

export class Keepalive {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: KeepaliveOptions,
    private readonly connections: () => Iterable<Connection<unknown>>,
  ) {}

  start(): void {
    const { pingInterval, pongTimeout } = this.options;
    if (pingInterval <= 0 || this.timer) return;
    const tick = Math.max(10, Math.floor(Math.min(pingInterval, pongTimeout) / 4));
    this.timer = setInterval(() => this.sweep(Date.now()), tick);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One pass over all connections (exposed for tests). */
  sweep(now: number): void {
    const { pingInterval, pongTimeout } = this.options;
    for (const conn of this.connections()) {
      if (conn.alive) {
        conn.alive = false;
        conn.idleSince = now;
        conn.pingSentAt = 0;
        continue;
      }
      // A paused connection is silent because we stopped reading it, not because the peer is dead.
      if (!conn.isOpen || conn.isPaused) continue;
      if (conn.pingSentAt !== 0) {
        if (now - conn.pingSentAt >= pongTimeout) {
          conn.transportError = new Error(`no answer to ping within ${pongTimeout} ms`);
          conn.terminate();
        }
      } else if (now - conn.idleSince >= pingInterval) {
        conn.pingSentAt = now;
        conn.ping();
      }
    }
  }
}
