/** Listening-side settings shared by the command-line modes and config files: TLS, access log, address. */
import { closeSync, openSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Connection } from '../../server/connection.js';
import type { HandshakeFailure, Server } from '../../server/server.js';
import { AccessLog } from './access-log.js';
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

/** The command's per-connection log lines (debug) and access-log records, shared by every mode. */
export function connectionLog(
  log: Logger,
  accessLog?: AccessLog,
): {
  open(conn: Connection<unknown>): void;
  close(conn: Connection<unknown>, code: number, reason: string): void;
  handshakeFailed(failure: HandshakeFailure): void;
} {
  return {
    open: (conn) => {
      accessLog?.open(conn);
      log.debug(`open #${conn.id} ${conn.remoteAddress} ${conn.request.url}`);
    },
    close: (conn, code, reason) => {
      accessLog?.close(conn);
      log.debug(`close #${conn.id} ${code}${reason ? ` ${reason}` : ''}`);
    },
    handshakeFailed: (f) => {
      accessLog?.refused(f);
      log.info(`handshake refused ${f.status} ${f.remoteAddress} ${f.request?.url ?? '-'}: ${f.message}`);
    },
  };
}
