/**
 * An endpoint is one bridge (echo, a pipe hub, a program, a socket peer, static files) seen from the
 * server: how it answers a handshake and a plain HTTP request, the callbacks of its connections, and what
 * it holds. A mode's command line runs one endpoint on a server of its own; a config file mounts many on
 * one server (route-table.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConnectionHandlers } from '../server/connection.js';
import type { ClientGroup } from '../server/hub.js';
import type { UpgradeInfo } from '../server/server.js';

/** Where a request arrived: what the endpoint needs to know of its mount point and listener. */
export interface Mount {
  /** The matched URL prefix without its trailing slash ('' for a route at the root or an exact path). */
  readonly base: string;
  /** The request came through a Unix-socket listener (no remote address). */
  readonly unixSocket: boolean;
}

export const ROOT_MOUNT: Mount = { base: '', unixSocket: false };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each endpoint keeps its own type in conn.data
export interface Endpoint<T = any> {
  /** What the endpoint serves, for the start-up log line. */
  readonly label: string;
  /** Accepts (filling `info.data`, `info.protocol`…) or refuses a handshake. Absent: no WebSockets here. */
  upgrade?(info: UpgradeInfo<T>, mount: Mount): void | Promise<void>;
  /** Callbacks of the connections it accepted. */
  readonly handlers: ConnectionHandlers<T>;
  /** Answers a plain HTTP request. Absent: 426 (or 404 when it takes no WebSockets either). */
  request?(req: IncomingMessage, res: ServerResponse, mount: Mount): void | Promise<void>;
  /** Starts moving data, once the server listens, with the connections this endpoint accepted. */
  start?(clients: ClientGroup<T>): void;
  /** Releases what it holds (pipes, programs, peers), after the server has closed. */
  stop?(): Promise<void>;
  /** What is still running, for the shutdown log line: a count and what it counts ('program'). */
  live?(): { count: number; noun: string };
}

/** Removes a mount's base from a request target, keeping the leading slash: /app/x?q → /x?q. */
export function withinMount(url: string, mount: Mount): string {
  if (mount.base === '') return url;
  const rest = url.slice(mount.base.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}
