/**
 * One server, many endpoints: each route binds a URL path (exact, or a prefix at a `/` boundary) to an
 * endpoint. An exact path wins over prefixes, a longer prefix over a shorter one. The route found at the
 * handshake gives the connection its callbacks (`info.handlers`), so messages go straight to the endpoint
 * with no lookup; each route keeps its own group of connections for its broadcasts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HandshakeError } from '../protocol/errors.js';
import type { ConnectionHandlers } from '../server/connection.js';
import { Hub } from '../server/hub.js';
import { targetPath } from '../server/safe-path.js';
import type { ServerOptions, UpgradeInfo } from '../server/server.js';
import type { Endpoint, Mount } from './endpoint.js';
import { requestEndpoint, upgradeEndpoint, type ConnectionHooks, type ErrorLog } from './serve-endpoint.js';

export type PathMatch = { exact: string } | { prefix: string };

export interface Route {
  match: PathMatch;
  endpoint: Endpoint;
  /** Largest client message on this route (default: the server's). */
  maxMessageSize?: number;
  /** Subprotocols by preference, for endpoints that do not choose one themselves. */
  protocols?: readonly string[];
}

interface Mounted {
  route: Route;
  mount: Mount;
  group: Hub<unknown>;
  handlers: ConnectionHandlers<unknown>;
}

/** How a route is shown in logs: `/chat` (exact) or `/files/*` (prefix). */
export function describeMatch(match: PathMatch): string {
  return 'exact' in match ? match.exact : `${match.prefix === '/' ? '' : match.prefix}/*`;
}

export class RouteTable {
  private readonly exact = new Map<string, Mounted>();
  private readonly prefixes: { prefix: string; mounted: Mounted }[] = [];
  private readonly all: Mounted[] = [];

  constructor(routes: readonly Route[], unixSocket: boolean, hooks: ConnectionHooks = {}) {
    for (const route of routes) {
      const base =
        'exact' in route.match ? route.match.exact : route.match.prefix === '/' ? '' : route.match.prefix;
      const group = new Hub<unknown>();
      const own = route.endpoint.handlers;
      const mounted: Mounted = {
        route,
        mount: { base, unixSocket },
        group,
        handlers: {
          ...own,
          open: (conn) => {
            group.add(conn);
            hooks.open?.(conn);
            own.open?.(conn);
          },
          close: (conn, code, reason) => {
            group.remove(conn);
            hooks.close?.(conn, code, reason);
            own.close?.(conn, code, reason);
          },
        },
      };
      this.all.push(mounted);
      if ('exact' in route.match) {
        if (this.exact.has(route.match.exact)) throw new Error(`two routes for ${route.match.exact}`);
        this.exact.set(route.match.exact, mounted);
      } else this.prefixes.push({ prefix: base, mounted });
    }
    this.prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The route for a request path, if any. */
  find(path: string): Mounted | undefined {
    const exact = this.exact.get(path);
    if (exact) return exact;
    for (const { prefix, mounted } of this.prefixes)
      if (prefix === '' || path === prefix || path.startsWith(`${prefix}/`)) return mounted;
    return undefined;
  }

  /** Starts every endpoint with its own group of connections (after the server listens). */
  start(): void {
    for (const { route, group } of this.all) route.endpoint.start?.(group);
  }

  /** Stops every endpoint (after the server closed). */
  async stop(): Promise<void> {
    await Promise.all(this.all.map(({ route }) => route.endpoint.stop?.()));
  }

  /** What the endpoints still run, summed by kind, for the shutdown line: ['2 programs']. */
  live(): string[] {
    const totals = new Map<string, number>();
    for (const { route } of this.all) {
      const live = route.endpoint.live?.();
      if (live) totals.set(live.noun, (totals.get(live.noun) ?? 0) + live.count);
    }
    return [...totals].map(([noun, count]) => `${count} ${noun}${count === 1 ? '' : 's'}`);
  }

  /** The server's `upgrade` and `request` callbacks for this table. */
  serverOptions(log: ErrorLog): Pick<ServerOptions<unknown>, 'upgrade' | 'request'> {
    return {
      upgrade: (info: UpgradeInfo<unknown>) => {
        const mounted = this.find(info.path);
        if (!mounted) throw new HandshakeError('no route for this path', 404);
        const { route } = mounted;
        info.handlers = mounted.handlers;
        if (route.maxMessageSize !== undefined) info.maxMessageSize = route.maxMessageSize;
        if (route.protocols && route.protocols.length > 0)
          info.protocol = route.protocols.find((p) => info.offeredProtocols.includes(p));
        return upgradeEndpoint(route.endpoint, info, mounted.mount);
      },
      request: (req: IncomingMessage, res: ServerResponse) => {
        const mounted = this.find(targetPath(req.url ?? '/'));
        if (!mounted) {
          res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end('not found\n');
          return;
        }
        requestEndpoint(mounted.route.endpoint, req, res, mounted.mount, log);
      },
    };
  }
}
