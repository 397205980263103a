#!/usr/bin/env node
/** The `wsbridge` command: argv → a Server → run until a signal → exit code. */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { createSecureContext } from 'node:tls';
import {
  ensureFifo,
  FifoWriter,
  FifoReader,
  removeFifo,
  StreamSink,
  type OutputSink,
} from '../bridges/fifo.js';
import { PipeHub } from '../bridges/pipe-hub.js';
import type { ConnectionHandlers } from '../server/connection.js';
import { createServer, type Server } from '../server/server.js';
import { AccessLog } from './access-log.js';
import { CONSOLE_PAGE } from './console-page.js';
import { Logger } from './log.js';
import { parseCommandLine, USAGE, type CliConfig } from './options.js';
import { isProgramCommandLine, runProgramMode } from './program-mode.js';
import { isSocketCommandLine, runSocketMode } from './socket-mode.js';
import { counted, untilSignal } from './until-signal.js';
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

/** What `run` started, for shutdown. */
interface Running {
  server: Server;
  /** Releases what the mode holds (pipes, files), after the server closed. */
  release(): Promise<void>;
}

/** Pipe mode's streams: FIFOs (created if missing) or stdin/stdout. */
function openPipes(config: CliConfig): { input: Readable | FifoReader; output: OutputSink; fifos: string[] } {
  const { pipe } = config;
  const fifos: string[] = [];
  const checked = (path: string): string => {
    try {
      ensureFifo(path);
    } catch (error) {
      for (const made of fifos) removeFifo(made); // e.g. --pipein made, --pipeout refused: leave nothing behind
      throw new UsageError((error as Error).message);
    }
    fifos.push(path);
    return path;
  };
  const input = pipe.stdin ? process.stdin : new FifoReader(checked(pipe.pipeIn));
  const output = pipe.stdout
    ? new StreamSink(process.stdout)
    : new FifoWriter(checked(pipe.pipeOut), pipe.outputQueue);
  return { input, output, fifos };
}

async function run(config: CliConfig, log: Logger): Promise<Running> {
  const tls = config.sslCert
    ? { cert: readPem('--ssl-cert', config.sslCert), key: readPem('--ssl-key', config.sslKey!) }
    : undefined;
  if (tls) {
    try {
      createSecureContext(tls); // a file that is not a PEM certificate or key: say which flags, exit 2
    } catch (error) {
      throw new UsageError(
        `--ssl-cert/--ssl-key: not a usable certificate and key (${(error as Error).message})`,
      );
    }
  }
  const accessLog = config.accessLog ? new AccessLog(config.accessLog) : undefined;
  await accessLog?.ready().catch((error: Error) => {
    throw new UsageError(`cannot open --access-log file: ${error.message}`);
  });

  let handlers: ConnectionHandlers;
  let hub: PipeHub | undefined;
  let pipes: ReturnType<typeof openPipes> | undefined;
  if (config.mode === 'pipe') {
    pipes = openPipes(config);
    hub = new PipeHub(
      pipes.input,
      pipes.output,
      { ...config.pipe, maxMessageSize: config.maxMessageSize },
      log,
    );
    handlers = hub.handlers();
  } else {
    handlers = {
      message: (conn, data, isBinary) => {
        if (!conn.send(data, isBinary)) conn.pause(); // backpressure: stop reading a client that does not read
      },
      drain: (conn) => conn.resume(),
    };
  }
  const server = createServer({
    tls,
    origins: config.origins,
    protocols: config.protocols,
    maxMessageSize: config.maxMessageSize,
    pingInterval: config.pingInterval,
    maxConnections: config.maxConnections,
    perMessageDeflate: config.deflate,
    request: servePage,
    handshakeFailed: (f) => {
      accessLog?.refused(f);
      log.info(`handshake refused ${f.status} ${f.remoteAddress} ${f.request?.url ?? '-'}: ${f.message}`);
    },
    ...handlers,
    open: (conn) => {
      accessLog?.open(conn);
      log.debug(`open #${conn.id} ${conn.remoteAddress} ${conn.request.url}`);
      handlers.open?.(conn);
    },
    close: (conn, code, reason) => {
      accessLog?.close(conn);
      log.debug(`close #${conn.id} ${code}${reason ? ` ${reason}` : ''}`);
      handlers.close?.(conn, code, reason);
    },
  });
  const release = async (): Promise<void> => {
    if (hub) log.info(`pipe statistics: ${JSON.stringify(hub.stats)}`);
    pipes?.output.close();
    if (pipes && pipes.input !== process.stdin) pipes.input.destroy();
    for (const path of pipes?.fifos ?? []) removeFifo(path);
    await accessLog?.end();
  };
  try {
    if (config.unixSocket) await server.listen({ path: config.unixSocket });
    else await server.listen({ port: config.port, host: config.host });
  } catch (error) {
    await release();
    throw error;
  }
  hub?.attach(server);
  const where = server.address();
  const shown =
    typeof where === 'string'
      ? where
      : where?.family === 'IPv6'
        ? `[${where.address}]:${where.port}`
        : `${where?.address}:${where?.port}`;
  const what =
    config.mode === 'echo'
      ? 'echo mode'
      : `pipe mode (${config.pipe.strict ? 'strict' : `standard, ${config.pipe.framing}`}; ` +
        `in: ${config.pipe.stdin ? 'stdin' : config.pipe.pipeIn}, out: ${config.pipe.stdout ? 'stdout' : config.pipe.pipeOut})`;
  log.info(
    `${what} listening on ${tls ? 'wss' : 'ws'}://${shown} (page at ${tls ? 'https' : 'http'}://${shown}/)`,
  );
  return { server, release };
}

async function main(argv: string[]): Promise<number> {
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
    process.stdout.write(`wsbridge ${version()}\n`);
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
