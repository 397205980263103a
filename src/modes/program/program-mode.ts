/**
 * Program mode: `wsbridge [websocketd options] COMMAND [ARGS...]` behaves like websocketd. argv → config
 * (program-options.ts) → servers (one per listen address, sharing one fork limit) → run until a signal.
 *
 * A WebSocket handshake is answered only once its program runs: the upgrade hook checks the fork limit
 * (429), finds the script (`--dir`: 404), checks the origin (403), builds the CGI environment and starts the
 * program (500/503 if it cannot start). Plain HTTP requests go to the dev console, CGI scripts, static
 * files or 404, in websocketd's order.
 */
import type { Server as HttpServer } from 'node:http';
import type { TlsOptions } from 'node:tls';
import type { ProgramSession } from './exec.js';
import { createProgramEndpoint, type ProgramEndpoint } from './program-endpoint.js';
import { soleEndpointOptions } from '../../routes/serve-endpoint.js';
import { createServer, DEFAULTS, type Server } from '../../server/server.js';
import { Logger } from '../common/log.js';
import { packageVersion } from '../common/package-version.js';
import { parseProgramCommandLine, PROGRAM_USAGE, type ProgramConfig } from './program-options.js';
import { redirectServer } from '../common/redirect-server.js';
import { RecentRefusals } from '../common/refusals.js';
import { connectionLog } from '../common/server-settings.js';
import { startUrl } from '../common/start-url.js';
import { readSettingFile } from '../common/setting-files.js';
import { counted, serveUntilSignal } from '../common/until-signal.js';
import { listenOn } from '../common/listen.js';

/** websocketd's spelling of the listening flags, for listen errors. */
const WEBSOCKETD_FLAGS = { port: '--port', host: '--address', path: '--unixsocket' };

export { lookPath } from './program-endpoint.js';

/** What `start` set up, for shutdown. */
interface Running {
  servers: Server<ProgramSession>[];
  redirects: HttpServer[];
  endpoint: ProgramEndpoint;
}

async function start(config: ProgramConfig, log: Logger): Promise<Running> {
  const refusals = new RecentRefusals();
  const endpoint = await createProgramEndpoint(config, log, refusals);
  let tls: TlsOptions | undefined;
  if (config.ssl) {
    tls = {
      cert: readSettingFile('--sslcert', config.sslCert!),
      key: readSettingFile('--sslkey', config.sslKey!),
      minVersion: 'TLSv1.2',
    };
    if (config.sslCa)
      Object.assign(tls, {
        ca: readSettingFile('--sslca', config.sslCa),
        requestCert: true,
        rejectUnauthorized: true,
      });
  }
  if (config.ssl && config.origins.some((o) => !o.includes('://')))
    log.info('warning: --origin entries without a scheme also match http:// origins');
  const running: Running = { servers: [], redirects: [], endpoint };
  const logged = connectionLog(log, undefined, refusals);

  const makeServer = (unixSocket: boolean): Server<ProgramSession> =>
    createServer<ProgramSession>({
      tls,
      maxMessageSize: config.maxFrameSize === 0 ? Number.MAX_SAFE_INTEGER : config.maxFrameSize,
      pingInterval: config.pingMs,
      pongTimeout: config.pingMs || DEFAULTS.pongTimeout,
      maxConnections:
        config.maxForks === 0 ? 1_000_000 : Math.max(DEFAULTS.maxConnections, config.maxForks * 2),
      ...soleEndpointOptions(endpoint, { base: '', unixSocket }, log, logged),
      handshakeFailed: logged.handshakeFailed,
    });

  const what = endpoint.label;
  const scheme = config.ssl ? 'wss' : 'ws';
  try {
    if (config.tcp) {
      for (const host of config.addresses.length > 0 ? config.addresses : [undefined]) {
        const server = makeServer(false);
        await listenOn(server, { port: config.port, host }, WEBSOCKETD_FLAGS);
        running.servers.push(server);
        log.info(`program mode (${what}) listening on ${startUrl(server, scheme)}`);
        if (config.redirPort !== undefined)
          running.redirects.push(
            await redirectServer(
              {
                tls: config.ssl,
                port: config.port,
                redirectPort: config.redirPort,
                host,
                headers: [...config.headers, ...config.httpHeaders],
              },
              log,
            ),
          );
      }
    }
    if (config.unixSocket) {
      const server = makeServer(true);
      await listenOn(server, { path: config.unixSocket }, WEBSOCKETD_FLAGS);
      running.servers.push(server);
      log.info(`program mode (${what}) listening on ${scheme}+unix://${config.unixSocket}`);
    }
  } catch (error) {
    await stop(running);
    throw error;
  }
  return running;
}

/** Closes every server (clients get 1001), then waits for every program to be gone. */
async function stop(running: Running): Promise<void> {
  await Promise.all([
    ...running.servers.map((server) => server.close()),
    ...running.redirects.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  ]);
  for (const server of running.redirects) server.closeAllConnections();
  await running.endpoint.stop?.();
}

/** Runs program mode until SIGINT or SIGTERM; resolves with the exit status. */
export async function runProgramMode(argv: readonly string[]): Promise<number> {
  let config: ProgramConfig;
  try {
    config = parseProgramCommandLine(argv);
  } catch (error) {
    process.stderr.write(`wsbridge: ${(error as Error).message} (see wsbridge --help websocketd)\n`);
    return 2;
  }
  if (config.mode === 'help') {
    process.stdout.write(`${PROGRAM_USAGE}\n`);
    return 0;
  }
  if (config.mode === 'version') {
    process.stdout.write(`wsbridge ${packageVersion()} (websocketd-compatible program mode)\n`);
    return 0;
  }
  if (config.mode === 'license') {
    process.stdout.write('wsbridge is free software under the MIT license (see its package).\n');
    return 0;
  }
  const log = new Logger(config.logLevel);
  return serveUntilSignal(
    log,
    () => start(config, log),
    (running) => counted(running.endpoint.sessions.size, 'program'),
    (running) => stop(running),
  );
}
