/** Listening-side settings shared by the command-line modes and config files: TLS, access log, address. */
import { closeSync, openSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Connection } from '../../server/connection.js';
import type { HandshakeFailure, Server } from '../../server/server.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessLog } from './access-log.js';
import { plainClientAddress } from './client-address.js';
import type { RecentRefusals } from './refusals.js';
import type { Logger } from './log.js';
import { readSettingFile } from './setting-files.js';
import { UsageError } from './usage-error.js';

/** Reads and checks a certificate and key (both or neither); undefined without them. */
export function serverTls(
  certFile: string | undefined,
  keyFile: string | undefined,
  names = ['--ssl-cert', '--ssl-key'],
): { cert: Buffer; key: Buffer } | undefined {
  if (certFile === undefined || keyFile === undefined) return undefined;
  const tls = { cert: readSettingFile(names[0], certFile), key: readSettingFile(names[1], keyFile) };
  try {
    createSecureContext(tls); // a file that is not a PEM certificate or key: say which settings, exit 2
  } catch (error) {
    throw new UsageError(
      `${names.join('/')}: not a usable certificate and key (${(error as Error).message})`,
    );
  }
  return tls;
}

/** Opens the access log a setting names, or undefined. */
export async function openAccessLog(
  file: string | undefined,
  name = '--access-log',
): Promise<AccessLog | undefined> {
  if (file === undefined) return undefined;
  // Open it once first: AccessLog reports its own stream errors, so a file it cannot open would be
  // reported twice (by the stream and by this start-up check).
  try {
    closeSync(openSync(file, 'a'));
  } catch (error) {
    throw new UsageError(`cannot open ${name} file: ${(error as Error).message}`);
  }
  const log = new AccessLog(file);
  await log.ready().catch((error: Error) => {
    throw new UsageError(`cannot open ${name} file: ${error.message}`);
  });
  return log;
}

/** Where a server listens, for log lines: `127.0.0.1:8080`, `[::1]:8080` or a socket path. */
export function listenAddress(server: Pick<Server, 'address'>): string {
  const where = server.address();
  if (typeof where === 'string') return where;
  if (!where) return '?';
  return where.family === 'IPv6' ? `[${where.address}]:${where.port}` : `${where.address}:${where.port}`;
}

/** A plain-HTTP handler that also logs each request (access log, debug line) when it is answered. */
export function loggedRequests(
  request: ((req: IncomingMessage, res: ServerResponse) => void) | undefined,
  logged: { request(req: IncomingMessage, res: ServerResponse): void },
): ((req: IncomingMessage, res: ServerResponse) => void) | undefined {
  if (!request) return undefined;
  return (req, res) => {
    logged.request(req, res);
    request(req, res);
  };
}

/** The path of a request URL, without its query: the route a log line names. */
function pathOf(url: string | undefined): string {
  return (url ?? '-').split('?')[0];
}

/** Who a log line names: the plain client address, or `unix-socket` for a Unix-socket client. */
function who(address: string | undefined): string {
  return plainClientAddress(address ?? '') || 'unix-socket';
}

/**
 * The per-connection log lines and access-log records, one format for every mode (info level):
 * `open #ID ADDRESS PATH` and `close #ID ADDRESS PATH CODE[ REASON]`; refused handshakes are remembered
 * so the console page can show their status.
 */
export function connectionLog(
  log: Logger,
  accessLog?: AccessLog,
  refusals?: RecentRefusals,
): {
  open(conn: Connection<unknown>): void;
  close(conn: Connection<unknown>, code: number, reason: string): void;
  handshakeFailed(failure: HandshakeFailure): void;
  request(req: IncomingMessage, res: ServerResponse): void;
} {
  return {
    open: (conn) => {
      accessLog?.open(conn);
      log.info(`open #${conn.id} ${who(conn.remoteAddress)} ${pathOf(conn.request.url)}`);
    },
    close: (conn, code, reason) => {
      accessLog?.close(conn, code);
      log.info(
        `close #${conn.id} ${who(conn.remoteAddress)} ${pathOf(conn.request.url)} ${code}${reason ? ` ${reason}` : ''}`,
      );
    },
    handshakeFailed: (f) => {
      accessLog?.refused(f);
      refusals?.record(who(f.remoteAddress), pathOf(f.request?.url), {
        status: f.status,
        message: f.message,
      });
      log.info(
        `handshake refused ${f.status} ${who(f.remoteAddress)} ${pathOf(f.request?.url)}: ${f.message}`,
      );
    },
    request: (req, res) => {
      const started = Date.now();
      res.once('finish', () => {
        accessLog?.request(req, res.statusCode, Date.now() - started);
        log.debug(`http ${who(req.socket.remoteAddress)} ${req.method} ${pathOf(req.url)} ${res.statusCode}`);
      });
    },
  };
}
