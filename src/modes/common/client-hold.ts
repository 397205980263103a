/**
 * Holding a client while whatever it sends to cannot take more (a program's stdin, a peer socket):
 * its socket is paused (TCP slows it), and since nothing is read from a paused socket, a Ping every
 * second makes a vanished client show up as a failed write instead of holding its bridge open forever.
 */
import type { Connection } from '../../server/connection.js';

/** While the client's socket is paused, a Ping this often shows whether it is still there. */
export const PAUSED_PROBE_MS = 1000;

/** Pauses a client while its peer cannot take more, pinging it so a vanished client is noticed. */
export class ClientHold {
  private timer: NodeJS.Timeout | undefined;
  held = false;

  hold(conn: Connection<unknown>): void {
    if (this.held) return;
    this.held = true;
    conn.pause();
    this.timer = setInterval(() => {
      try {
        if (conn.isOpen) conn.ping();
      } catch {
        // closing meanwhile: the close callback follows
      }
    }, PAUSED_PROBE_MS);
    this.timer.unref();
  }

  release(conn: Connection<unknown> | undefined): void {
    if (!this.held) return;
    this.held = false;
    clearInterval(this.timer);
    conn?.resume();
  }
}
