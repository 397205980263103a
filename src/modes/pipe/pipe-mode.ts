/**
 * Pipe and echo modes: gwsocket's command line (`wsbridge -p 7890 --pipein=… --pipeout=…`, `--echo-mode`)
 * → one endpoint served alone → run until a signal.
 */
import { createEchoEndpoint } from '../echo/echo-endpoint.js';
import { ROOT_MOUNT, type Endpoint } from '../../routes/endpoint.js';
import { createPipeEndpoint, describePipes } from './pipe-endpoint.js';
import { soleEndpointOptions } from '../../routes/serve-endpoint.js';
import { createServer, type Server } from '../../server/server.js';
import { Logger } from '../common/log.js';
import { parseCommandLine, USAGE, type CliConfig } from './pipe-options.js';
import { packageVersion } from '../common/package-version.js';
import { RecentRefusals } from '../common/refusals.js';
import { connectionLog, loggedRequests, openAccessLog, serverTls } from '../common/server-settings.js';
import { startUrl } from '../common/start-url.js';
import { counted, serveUntilSignal } from '../common/until-signal.js';
import { listenOn } from '../common/listen.js';

/** What `run` started, for shutdown. */
interface Running {
  server: Server;
  /** Releases what the mode holds (pipes, files), after the server closed. */
  release(): Promise<void>;
}

async function run(config: CliConfig, log: Logger): Promise<Running> {
  const tls = serverTls(config.sslCert, config.sslKey);
  const accessLog = await openAccessLog(config.accessLog);
  const refusals = new RecentRefusals();
  const endpoint: Endpoint =
    config.mode === 'pipe'
      ? createPipeEndpoint(config.pipe, config.maxMessageSize, log, refusals)
      : createEchoEndpoint(refusals);
  const logged = connectionLog(log, accessLog, refusals);
  const served = soleEndpointOptions(endpoint, ROOT_MOUNT, log, logged);
  const server = createServer({
    tls,
    origins: config.origins,
    protocols: config.protocols,
    maxMessageSize: config.maxMessageSize,
    pingInterval: config.pingInterval,
    maxConnections: config.maxConnections,
    perMessageDeflate: config.deflate,
    handshakeFailed: logged.handshakeFailed,
    ...served,
    request: loggedRequests(served.request, logged),
  });
  const release = async (): Promise<void> => {
    await endpoint.stop?.();
    await accessLog?.end();
  };
  try {
    await listenOn(
      server,
      config.unixSocket ? { path: config.unixSocket } : { port: config.port, host: config.host },
    );
  } catch (error) {
    await release();
    throw error;
  }
  endpoint.start?.(server);
  const what = config.mode === 'echo' ? 'echo mode' : `pipe mode (${describePipes(config.pipe)})`;
  log.info(
    `${what} listening on ${startUrl(server, tls ? 'wss' : 'ws')} (page at ${startUrl(server, tls ? 'https' : 'http')})`,
  );
  return { server, release };
}

/** Runs gwsocket's command line (pipe mode, or echo mode) until a signal; returns the exit status. */
export async function runPipeMode(argv: readonly string[]): Promise<number> {
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
    process.stdout.write(`wsbridge ${packageVersion()}\n`);
    return 0;
  }
  const log = new Logger(config.logLevel);
  return serveUntilSignal(
    log,
    () => run(config, log),
    ({ server }) => counted(server.count, 'connection'),
    ({ server, release }) => server.close().then(release),
  );
}
