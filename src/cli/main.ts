#!/usr/bin/env node
/** The `wsbridge` command: argv → a Server → run until a signal → exit code. */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from '../server/server.js';
import { CONSOLE_PAGE } from './console-page.js';
import { Logger } from './log.js';
import { parseCommandLine, USAGE, type CliConfig } from './options.js';
import { UsageError } from './usage-error.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function servePage(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if ((req.method === 'GET' || req.method === 'HEAD') && path === '/') {
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(CONSOLE_PAGE),
    });
    res.end(req.method === 'HEAD' ? undefined : CONSOLE_PAGE);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(
      `cannot read ${flag} file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

async function run(config: CliConfig, log: Logger): Promise<Server> {
  const tls = config.sslCert
    ? { cert: readPem('--ssl-cert', config.sslCert), key: readPem('--ssl-key', config.sslKey!) }
    : undefined;
  const server = createServer({
    tls,
    origins: config.origins,
    maxMessageSize: config.maxMessageSize,
    pingInterval: config.pingInterval,
    maxConnections: config.maxConnections,
    request: servePage,
    handshakeFailed: (f) =>
      log.info(`handshake refused ${f.status} ${f.remoteAddress} ${f.url ?? '-'}: ${f.message}`),
    open: (conn) => log.debug(`open #${conn.id} ${conn.remoteAddress} ${conn.request.url}`),
    message: (conn, data, isBinary) => {
      if (!conn.send(data, isBinary)) conn.pause(); // backpressure: stop reading a client that does not read
    },
    drain: (conn) => conn.resume(),
    close: (conn, code, reason) => log.debug(`close #${conn.id} ${code}${reason ? ` ${reason}` : ''}`),
  });
  if (config.unixSocket) await server.listen({ path: config.unixSocket });
  else await server.listen({ port: config.port, host: config.host });
  const where = server.address();
  const shown =
    typeof where === 'string'
      ? where
      : where?.family === 'IPv6'
        ? `[${where.address}]:${where.port}`
        : `${where?.address}:${where?.port}`;
  log.info(
    `echo mode listening on ${tls ? 'wss' : 'ws'}://${shown} (page at ${tls ? 'https' : 'http'}://${shown}/)`,
  );
  return server;
}

async function main(argv: string[]): Promise<number> {
  let config: CliConfig;
  try {
    config = parseCommandLine(argv);
  } catch (error) {
    process.stderr.write(`wsbridge: ${(error as Error).message} (see --help)\n`);
    return 2;
  }
  if (config.mode === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (config.mode === 'version') {
    process.stdout.write(`wsbridge ${version()}\n`);
    return 0;
  }
  const log = new Logger(config.logLevel);
  let server: Server;
  try {
    server = await run(config, log);
  } catch (error) {
    const code = error instanceof UsageError ? 2 : 1;
    process.stderr.write(`wsbridge: ${(error as Error).message}\n`);
    return code;
  }
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      log.info(`${signal}: shutting down (${server.count} connection${server.count === 1 ? '' : 's'})`);
      process.once(signal, () => resolve(130));
      server.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Whatever still holds the loop (a peer that never finished closing) must not keep the process alive.
  setTimeout(() => process.exit(code), 1000).unref();
});
