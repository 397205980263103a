/**
 * `wsbridge --config=FILE`: one server for every route of a wsbridge TOML file (config/wsbridge-config.ts),
 * or websocksy's own INI file run as socket mode (config/websocksy-config.ts).
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { parseArgs } from 'node:util';
import { ConfigError } from './config-error.js';
import { isWebsocksyCommandLine, isWebsocksyConfig, websocksyArgs } from './websocksy-config.js';
import { loadWsbridgeConfig, type RouteConfig, type WsbridgeConfig } from './wsbridge-config.js';
import { createEchoEndpoint } from '../modes/echo/echo-endpoint.js';
import type { Endpoint } from '../routes/endpoint.js';
import { createPipeEndpoint } from '../modes/pipe/pipe-endpoint.js';
import { createProgramEndpoint } from '../modes/program/program-endpoint.js';
import { describeMatch, RouteTable, type Route } from '../routes/route-table.js';
import { createSocketEndpoint } from '../modes/socket/socket-endpoint.js';
import { createServer, type Server } from '../server/server.js';
import type { AccessLog } from '../modes/common/access-log.js';
import { Logger } from '../modes/common/log.js';
import { redirectServer } from '../modes/common/redirect-server.js';
import { RecentRefusals } from '../modes/common/refusals.js';
import { connectionLog, loggedRequests, openAccessLog, serverTls } from '../modes/common/server-settings.js';
import { startUrl } from '../modes/common/start-url.js';
import { readSettingFile } from '../modes/common/setting-files.js';
import { runSocketMode } from '../modes/socket/socket-mode.js';
import { counted, untilSignal } from '../modes/common/until-signal.js';
import { UsageError } from '../modes/common/usage-error.js';
import { listenOn } from '../modes/common/listen.js';

export const CONFIG_USAGE = `Usage: wsbridge --config=FILE   (or wsbridge FILE, for websocksy's config file)

FILE is either a wsbridge TOML file ([server] settings and [[route]] tables, see the README's
"Routes" section) or websocksy's own config file ([core] and [backend] sections).`;

function configFile(argv: readonly string[]): string {
  if (isWebsocksyCommandLine(argv)) return argv[0];
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { config: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    const other = /'([^']+)'/.exec((error as Error).message)?.[1];
    throw new UsageError(
      other
        ? `--config takes no other flags or arguments: put '${other}' in the file`
        : (error as Error).message.split('\n')[0],
    );
  }
  if (!values.config) throw new UsageError('--config needs a file name');
  return values.config;
}

async function endpointFor(
  route: RouteConfig,
  config: WsbridgeConfig,
  tls: boolean,
  log: Logger,
  refusals: RecentRefusals,
): Promise<Endpoint> {
  switch (route.type) {
    case 'echo':
      return createEchoEndpoint(refusals);
    case 'pipe':
      return createPipeEndpoint(
        route.pipe!,
        route.maxMessageSize ?? config.server.maxMessageSize,
        log,
        refusals,
      );
    case 'socket':
      return createSocketEndpoint(route.socket!, log);
    case 'program':
    case 'static':
      return createProgramEndpoint({ ...route.program!, ssl: tls }, log, refusals);
  }
}

interface Running {
  server: Server;
  redirect: HttpServer | undefined;
  table: RouteTable;
  accessLog: AccessLog | undefined;
}

async function start(config: WsbridgeConfig, log: Logger): Promise<Running> {
  const { server: settings } = config;
  let tls: ReturnType<typeof serverTls>;
  let accessLog: AccessLog | undefined;
  try {
    tls = serverTls(settings.sslCert, settings.sslKey, ['--ssl-cert', '--ssl-key']);
    if (tls && config.sslCa)
      Object.assign(tls, {
        ca: readSettingFile('ssl-ca', config.sslCa),
        requestCert: true, // websocketd's --sslca: a client without a certificate the CA signed is refused
        rejectUnauthorized: true,
      });
    accessLog = await openAccessLog(settings.accessLog);
  } catch (error) {
    throw error instanceof UsageError ? config.whereServer(error.message) : error;
  }
  const routes: Route[] = [];
  const refusals = new RecentRefusals(); // the console pages' `?why`
  const stopAll = (): Promise<unknown> => Promise.all(routes.map((r) => r.endpoint.stop?.()));
  try {
    for (const route of config.routes) {
      let endpoint: Endpoint;
      try {
        endpoint = await endpointFor(route, config, tls !== undefined, log, refusals);
      } catch (error) {
        if (error instanceof UsageError) throw config.where(route, error.message);
        throw error;
      }
      routes.push({
        match: route.match,
        endpoint,
        maxMessageSize: route.maxMessageSize,
        protocols: route.protocols,
      });
    }
  } catch (error) {
    await stopAll();
    await accessLog?.end();
    throw error;
  }
  const unixSocket = settings.unixSocket !== undefined;
  const logged = connectionLog(log, accessLog, refusals);
  const table = new RouteTable(routes, unixSocket, logged);
  const served = table.serverOptions(log);
  const server = createServer({
    tls,
    origins: settings.origins,
    maxMessageSize: settings.maxMessageSize,
    pingInterval: settings.pingInterval,
    maxConnections: settings.maxConnections,
    perMessageDeflate: settings.deflate,
    handshakeFailed: logged.handshakeFailed,
    ...served,
    request: loggedRequests(served.request, logged),
  });
  try {
    await listenOn(
      server,
      settings.unixSocket ? { path: settings.unixSocket } : { port: settings.port, host: settings.host },
    );
  } catch (error) {
    await stopAll();
    await accessLog?.end();
    // the [server] key and its line, not a command-line flag
    if (error instanceof UsageError) throw config.whereServer(error.message);
    throw error;
  }
  let redirect: HttpServer | undefined;
  if (config.redirectPort !== undefined) {
    const where = server.address();
    try {
      redirect = await redirectServer(
        {
          tls: tls !== undefined,
          port: typeof where === 'object' && where ? where.port : settings.port,
          redirectPort: config.redirectPort,
          host: settings.host,
        },
        log,
      );
    } catch (error) {
      await server.close();
      await stopAll();
      await accessLog?.end();
      throw config.whereServer(`redirect-port: ${(error as Error).message}`);
    }
  }
  table.start();
  const scheme = tls ? 'wss' : 'ws';
  log.info(`${config.file}: ${counted(routes.length, 'route')}, listening on ${startUrl(server, scheme)}`);
  for (const route of routes) log.info(`  ${describeMatch(route.match)} → ${route.endpoint.label}`);
  return { server, table, accessLog, redirect };
}

/**
 * The file's text, refusing bytes that are not UTF-8: decoded loosely they would become U+FFFD and
 * fail much later (a path, a header) with no hint of where. Newline bytes never occur inside a UTF-8
 * sequence, so checking line by line finds the first bad line.
 */
function utf8Source(file: string, bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  let line = 1;
  for (let start = 0; start <= bytes.length; line += 1) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    if (!isUtf8(bytes.subarray(start, end))) break;
    start = end + 1;
  }
  throw new ConfigError(file, line, 'not valid UTF-8 text (save the file as UTF-8)');
}

/** Runs a config file until SIGINT or SIGTERM; resolves with the exit status. */
export async function runConfigMode(argv: readonly string[]): Promise<number> {
  let config: WsbridgeConfig;
  let log: Logger;
  try {
    const file = configFile(argv);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (error) {
      throw new ConfigError(
        file,
        undefined,
        `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
    const source = utf8Source(file, bytes);
    if (isWebsocksyConfig(source)) return runSocketMode(websocksyArgs(file, source));
    config = loadWsbridgeConfig(file, source);
    log = new Logger(config.server.logLevel);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof ConfigError)) throw error;
    process.stderr.write(`wsbridge: ${error.message}\n`);
    return 2;
  }
  let running: Running;
  try {
    running = await start(config, log);
  } catch (error) {
    process.stderr.write(`wsbridge: ${(error as Error).message}\n`);
    return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
  }
  const { server, table, accessLog, redirect } = running;
  return untilSignal(
    log,
    () => [counted(server.count, 'connection'), ...table.live()].join(', '),
    async () => {
      redirect?.close();
      redirect?.closeAllConnections();
      await server.close();
      await table.stop();
      await accessLog?.end();
    },
  );
}
