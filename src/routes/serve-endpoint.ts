/** Turns an endpoint into server callbacks: alone on a server, or behind a route (route-table.ts). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HandshakeError } from '../protocol/errors.js';
import type { Connection } from '../server/connection.js';
import type { ServerOptions, UpgradeInfo } from '../server/server.js';
import type { Endpoint, Mount } from './endpoint.js';

export interface ErrorLog {
  error(line: string): void;
}

/** Runs the endpoint's upgrade, or refuses with 404 when it takes no WebSockets. */
export function upgradeEndpoint<T>(
  endpoint: Endpoint<T>,
  info: UpgradeInfo<T>,
  mount: Mount,
): void | Promise<void> {
  if (!endpoint.upgrade) throw new HandshakeError('no WebSocket endpoint at this path', 404);
  return endpoint.upgrade(info, mount);
}

/** Answers a plain HTTP request with the endpoint; a failure is a logged 500, never a hang. */
export function requestEndpoint(
  endpoint: Endpoint,
  req: IncomingMessage,
  res: ServerResponse,
  mount: Mount,
  log: ErrorLog,
): void {
  if (!endpoint.request) {
    res.statusCode = endpoint.upgrade ? 426 : 404;
    if (endpoint.upgrade) res.setHeader('Upgrade', 'websocket');
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(endpoint.upgrade ? 'this is a WebSocket endpoint\n' : 'not found\n');
    return;
  }
  Promise.resolve()
    .then(() => endpoint.request!(req, res, mount))
    .catch((error: Error) => {
      log.error(`${req.method} ${req.url}: ${error.message}`);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end('500 Internal Server Error\n');
      } else res.destroy();
    });
}

/** Per-connection hooks run before the endpoint's own `open` and `close` (access log, debug lines). */
export interface ConnectionHooks {
  open?(conn: Connection<unknown>): void;
  close?(conn: Connection<unknown>, code: number, reason: string): void;
}

/** Server callbacks for a server carrying this one endpoint. */
export function soleEndpointOptions<T>(
  endpoint: Endpoint<T>,
  mount: Mount,
  log: ErrorLog,
  hooks: ConnectionHooks = {},
): Pick<ServerOptions<T>, 'upgrade' | 'request' | 'open' | 'message' | 'drain' | 'close' | 'ping' | 'pong'> {
  const own = endpoint.handlers;
  return {
    ...own,
    open: (conn) => {
      hooks.open?.(conn as Connection<unknown>);
      own.open?.(conn);
    },
    close: (conn, code, reason) => {
      hooks.close?.(conn as Connection<unknown>, code, reason);
      own.close?.(conn, code, reason);
    },
    upgrade: (info) => upgradeEndpoint(endpoint, info, mount),
    request: endpoint.request ? (req, res) => requestEndpoint(endpoint, req, res, mount, log) : undefined,
  };
}
