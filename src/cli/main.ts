#!/usr/bin/env node
/** The `wsbridge` command: argv → a Server → run until a signal → exit code. */
import { createEchoEndpoint } from '../routes/echo-route.js';
import { ROOT_MOUNT, type Endpoint } from '../routes/endpoint.js';
import { createPipeEndpoint, describePipes } from '../routes/pipe-route.js';
import { soleEndpointOptions } from '../routes/serve-endpoint.js';
import { createServer, type Server } from '../server/server.js';
import { isConfigCommandLine, runConfigMode } from './config-mode.js';
import { Logger } from './log.js';
import { parseCommandLine, USAGE, type CliConfig } from './options.js';
import { packageVersion } from './package-version.js';
import { isProgramCommandLine, runProgramMode } from './program-mode.js';
import { connectionLog, listenAddress, openAccessLog, serverTls } from './server-settings.js';
import { isSocketCommandLine, runSocketMode } from './socket-mode.js';
import { counted, untilSignal } from './until-signal.js';
import { UsageError } from './usage-error.js';

/** What `run` started, for shutdown. */
interface Running {
  server: Server;
  /** Releases what the mode holds (pipes, files), after the server closed. */
  release(): Promise<void>;
}

async function run(config: CliConfig, log: Logger): Promise<Running> {
  const tls = serverTls(config.sslCert, config.sslKey);
  const accessLog = await openAccessLog(config.accessLog);
  const endpoint: Endpoint =
    config.mode === 'pipe'
      ? createPipeEndpoint(config.pipe, config.maxMessageSize, log)
      : createEchoEndpoint();
  const logged = connectionLog(log, accessLog);
  const server = createServer({
    tls,
    origins: config.origins,
    protocols: config.protocols,
    maxMessageSize: config.maxMessageSize,
    pingInterval: config.pingInterval,
    maxConnections: config.maxConnections,
    perMessageDeflate: config.deflate,
    handshakeFailed: logged.handshakeFailed,
    ...soleEndpointOptions(endpoint, ROOT_MOUNT, log, logged),
  });
  const release = async (): Promise<void> => {
    await endpoint.stop?.();
    await accessLog?.end();
  };
  try {
    if (config.unixSocket) await server.listen({ path: config.unixSocket });
    else await server.listen({ port: config.port, host: config.host });
  } catch (error) {
    await release();
    throw error;
  }
  endpoint.start?.(server);
  const shown = listenAddress(server);
  const what = config.mode === 'echo' ? 'echo mode' : `pipe mode (${describePipes(config.pipe)})`;
  log.info(
    `${what} listening on ${tls ? 'wss' : 'ws'}://${shown} (page at ${tls ? 'https' : 'http'}://${shown}/)`,
  );
  return { server, release };
}

async function main(argv: string[]): Promise<number> {
  if (isConfigCommandLine(argv)) return runConfigMode(argv);
  if (isSocketCommandLine(argv)) return runSocketMode(argv);
  if (isProgramCommandLine(argv)) return runProgramMode(argv);
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
  let running: Running;
  try {
    running = await run(config, log);
  } catch (error) {
    const code = error instanceof UsageError ? 2 : 1;
    process.stderr.write(`wsbridge: ${(error as Error).message}\n`);
    return code;
  }
  const { server, release } = running;
  return untilSignal(
    log,
    () => counted(server.count, 'connection'),
    () => server.close().then(release),
  );
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Whatever still holds the loop (a peer that never finished closing) must not keep the process alive.
  setTimeout(() => process.exit(code), 1000).unref();
});
