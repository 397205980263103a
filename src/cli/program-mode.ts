/**
 * Program mode: `wsbridge [websocketd options] COMMAND [ARGS...]` behaves like websocketd. argv → config
 * (program-options.ts) → servers (one per listen address, sharing one fork limit) → run until a signal.
 *
 * A WebSocket handshake is answered only once its program runs: the upgrade hook checks the fork limit
 * (429), finds the script (`--dir`: 404), checks the origin (403), builds the CGI environment and starts the
 * program (500/503 if it cannot start). Plain HTTP requests go to the dev console, CGI scripts, static
 * files or 404, in websocketd's order.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { reverse } from 'node:dns/promises';
import { delimiter, join } from 'node:path';
import type { TlsOptions } from 'node:tls';
import {
  cgiEnvironment,
  pickParentEnv,
  plainAddress,
  programEnvironment,
  splitHostPort,
  UniqueIds,
} from '../bridges/cgi-env.js';
import { execHandlers, ProgramSession, SpawnError, startProgram, type ExecOptions } from '../bridges/exec.js';
import { ScriptRouter } from '../bridges/script-router.js';
import { HandshakeError } from '../protocol/errors.js';
import { runCgi } from '../server/cgi.js';
import { decodeUrlPath, targetPath } from '../server/safe-path.js';
import { createServer, DEFAULTS, type Server, type UpgradeInfo } from '../server/server.js';
import { createStaticHandler } from '../server/static-files.js';
import { DEVCONSOLE_PAGE } from './devconsole-page.js';
import { Logger } from './log.js';
import { optionSpec } from './options.js';
import {
  parseProgramCommandLine,
  PROGRAM_FLAGS,
  PROGRAM_USAGE,
  type ProgramConfig,
} from './program-options.js';
import { counted, untilSignal } from './until-signal.js';
import { UsageError } from './usage-error.js';
import { originRefusal } from './websocketd-origin.js';

/** Flags only websocketd has: any of them makes a command line a program-mode one. */
const WEBSOCKETD_ONLY = new Set(
  Object.keys(PROGRAM_FLAGS).filter((name) => !['port', 'origin', 'help', 'h', 'version'].includes(name)),
);

/**
 * True for a websocketd-style command line: a positional COMMAND, `--`, any websocketd-only flag, or a
 * Go-style single-dash long flag (`-port=8080`). gwsocket's own flags (and their separate values) are
 * skipped; a positional after a gwsocket-only flag is left to the gwsocket parser to refuse.
 */
export function isProgramCommandLine(argv: readonly string[]): boolean {
  const gwsocket = optionSpec as Record<string, { type: string; short?: string }>;
  const shorts = new Map(
    Object.entries(gwsocket).flatMap(([name, spec]) => (spec.short ? [[spec.short, name]] : [])),
  );
  let gwsocketOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return true;
    if (arg === '-' || !arg.startsWith('-')) return !gwsocketOnly;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0];
      if (WEBSOCKETD_ONLY.has(name)) return true;
      if (gwsocket[name] && !(name in PROGRAM_FLAGS)) gwsocketOnly = true;
      if (!arg.includes('=') && gwsocket[name]?.type === 'string') i++;
      continue;
    }
    const body = arg.slice(1);
    const name = body.split('=')[0];
    if (name.length > 1 && name in PROGRAM_FLAGS) return true; // Go style: -port=8080, -dir DIR
    const long = shorts.get(body[0]);
    if (long && gwsocket[long].type === 'string' && body.length === 1) i++;
  }
  return false;
}

function packageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Go's exec.LookPath: a name with a slash is checked as is; otherwise searched in the server's PATH. */
export function lookPath(command: string, path = process.env.PATH ?? ''): string | undefined {
  if (command.includes('/')) return isExecutableFile(command) ? command : undefined;
  for (const dir of path.split(delimiter)) {
    const candidate = join(dir === '' ? '.' : dir, command);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Counts live programs (WebSocket sessions and CGI runs) against `--maxforks`. */
class ForkLimit {
  live = 0;
  constructor(private readonly max: number) {}
  take(): boolean {
    if (this.max > 0 && this.live >= this.max) return false;
    this.live++;
    return true;
  }
  release(): void {
    this.live--;
  }
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

async function openDir(flag: string, dir: string): Promise<string> {
  try {
    const real = await realpath(dir);
    if (!statSync(real).isDirectory()) throw new Error('not a directory');
    return real;
  } catch (error) {
    throw new UsageError(
      `cannot use ${flag}=${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.catch(() => fallback),
    new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms))),
  ]).finally(() => clearTimeout(timer));
}

function show(where: ReturnType<Server['address']>): string {
  if (typeof where === 'string') return where;
  if (!where) return '?';
  return where.family === 'IPv6' ? `[${where.address}]:${where.port}` : `${where.address}:${where.port}`;
}

/** What `start` set up, for shutdown. */
interface Running {
  servers: Server<ProgramSession>[];
  redirects: HttpServer[];
  sessions: Set<ProgramSession>;
  cgiRuns: Set<Promise<void>>;
}

async function start(config: ProgramConfig, log: Logger): Promise<Running> {
  const serverSoftware = `wsbridge/${packageVersion()}`;
  let command: string | undefined;
  if (config.command !== undefined) {
    command = lookPath(config.command);
    if (!command)
      throw new UsageError(
        config.command.includes('/')
          ? `COMMAND '${config.command}' is not an executable file`
          : `cannot find COMMAND '${config.command}' in PATH`,
      );
  }
  const router = config.dir ? await ScriptRouter.open(await openDir('--dir', config.dir)) : undefined;
  const cgiRouter = config.cgiDir
    ? await ScriptRouter.open(await openDir('--cgidir', config.cgiDir))
    : undefined;
  const serveStatic = config.staticDir
    ? createStaticHandler(await openDir('--staticdir', config.staticDir))
    : undefined;
  let tls: TlsOptions | undefined;
  if (config.ssl) {
    tls = {
      cert: readPem('--sslcert', config.sslCert!),
      key: readPem('--sslkey', config.sslKey!),
      minVersion: 'TLSv1.2',
    };
    if (config.sslCa)
      Object.assign(tls, {
        ca: readPem('--sslca', config.sslCa),
        requestCert: true,
        rejectUnauthorized: true,
      });
  }
  if (config.ssl && config.origins.some((o) => !o.includes('://')))
    log.info('warning: --origin entries without a scheme also match http:// origins');
  const parentEnv = pickParentEnv(config.passEnv, process.env);
  const forks = new ForkLimit(config.maxForks);
  const ids = new UniqueIds();
  const running: Running = { servers: [], redirects: [], sessions: new Set(), cgiRuns: new Set() };
  const execOptions: ExecOptions = {
    binary: config.binary,
    passStderr: config.passStderr,
    closeMs: config.closeMs,
    log,
  };
  const refusalHeaders = Object.fromEntries(config.headers);
  const refuse = (message: string, status: number): HandshakeError =>
    new HandshakeError(message, status, refusalHeaders);
  const wsHeaders = [...config.headers, ...config.wsHeaders];
  const httpHeaders = [...config.headers, ...config.httpHeaders];
  const chosenProtocol = wsHeaders.find(([name]) => name.toLowerCase() === 'sec-websocket-protocol')?.[1];

  const upgrade = async (info: UpgradeInfo<ProgramSession>, unixSocket: boolean): Promise<void> => {
    const who = `${unixSocket ? 'unix-socket' : plainAddress(info.remoteAddress)} ${info.url}`;
    if (!forks.take()) {
      log.error(`${who}: --maxforks (${config.maxForks}) programs already running, refused`);
      throw refuse('too many programs running', 429);
    }
    let owned = true; // the fork slot, until a session takes it
    try {
      const decoded = decodeUrlPath(targetPath(info.url));
      if (decoded === undefined) throw refuse('malformed URL path', 400);
      let file: string;
      let args: readonly string[];
      let scriptName: string;
      let pathInfo: string;
      let decodedPath: string;
      if (router) {
        const match = await router.resolve(info.url);
        if (!match) throw refuse('no such script', 404);
        ({ file, scriptName, pathInfo, decodedPath } = match);
        args = [];
      } else {
        file = command!;
        args = config.args;
        scriptName = '/';
        pathInfo = decodedPath = decoded;
      }
      const origin = info.headers.origin;
      const host = info.headers.host;
      const refusal = originRefusal(
        Array.isArray(origin) ? origin[0] : origin,
        (Array.isArray(host) ? host[0] : host) ?? '',
        { origins: config.origins, sameOrigin: config.sameOrigin, tls: config.ssl },
      );
      if (refusal) throw refuse(refusal, 403);
      const address = plainAddress(info.remoteAddress);
      const remoteHost =
        config.reverseLookup && !unixSocket
          ? await withTimeout(
              reverse(address).then((names) => names[0] ?? address),
              2000,
              address,
            )
          : undefined;
      const env = programEnvironment(info, {
        serverSoftware,
        tls: config.ssl,
        scriptName,
        pathInfo,
        decodedPath,
        uniqueId: ids.next(),
        remoteHost,
        unixSocket,
        parentEnv,
      });
      let session: ProgramSession;
      try {
        session = await startProgram({ command: file, args, env, label: who }, execOptions);
      } catch (error) {
        if (!(error instanceof SpawnError)) throw error;
        log.error(`${who}: ${error.message} (answered ${error.status})`);
        throw refuse(error.message, error.status);
      }
      owned = false;
      running.sessions.add(session);
      void session.done.then(() => {
        forks.release();
        running.sessions.delete(session);
      });
      info.data = session;
      info.abort = () => void session.terminate();
      for (const [name, value] of wsHeaders)
        if (name.toLowerCase() !== 'sec-websocket-protocol') info.responseHeaders[name] = value;
      if (chosenProtocol !== undefined && info.offeredProtocols.includes(chosenProtocol))
        info.protocol = chosenProtocol;
    } finally {
      if (owned) forks.release();
    }
  };

  const handleHttp = async (
    req: IncomingMessage,
    res: ServerResponse,
    unixSocket: boolean,
  ): Promise<void> => {
    for (const [name, value] of httpHeaders) res.appendHeader(name, value);
    if (config.devConsole) {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(DEVCONSOLE_PAGE));
      res.end(req.method === 'HEAD' ? undefined : DEVCONSOLE_PAGE);
      return;
    }
    if (cgiRouter) {
      const match = await cgiRouter.resolve(req.url ?? '/');
      if (match) {
        if (!forks.take()) {
          log.error(`${req.url}: --maxforks (${config.maxForks}) programs already running, CGI refused`);
          res.statusCode = 429;
          res.end('429 Too Many Requests\n');
          return;
        }
        const env = cgiEnvironment(
          {
            url: req.url ?? '/',
            headers: req.headers,
            remoteAddress: req.socket.remoteAddress ?? '',
            remotePort: req.socket.remotePort ?? 0,
            method: req.method,
            httpVersion: req.httpVersion,
          },
          {
            serverSoftware,
            tls: config.ssl,
            scriptName: match.scriptName,
            scriptFilename: match.file,
            pathInfo: match.pathInfo,
            unixSocket,
            parentEnv,
            path: process.env.PATH,
          },
        );
        log.info(
          `${plainAddress(req.socket.remoteAddress ?? '') || 'unix-socket'} ${req.method} ${req.url}: CGI ${match.file}`,
        );
        const run = runCgi(req, res, { file: match.file, env }, { log: (line) => log.error(line) }).finally(
          () => {
            forks.release();
            running.cgiRuns.delete(run);
          },
        );
        running.cgiRuns.add(run);
        await run;
        return;
      }
    }
    if (serveStatic) {
      await serveStatic(req, res);
      return;
    }
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('404 page not found\n');
  };

  const makeServer = (unixSocket: boolean): Server<ProgramSession> => {
    const handlers = execHandlers();
    return createServer<ProgramSession>({
      tls,
      maxMessageSize: config.maxFrameSize === 0 ? Number.MAX_SAFE_INTEGER : config.maxFrameSize,
      pingInterval: config.pingMs,
      pongTimeout: config.pingMs || DEFAULTS.pongTimeout,
      maxConnections:
        config.maxForks === 0 ? 1_000_000 : Math.max(DEFAULTS.maxConnections, config.maxForks * 2),
      upgrade: (info) => upgrade(info, unixSocket),
      request: (req, res) => {
        handleHttp(req, res, unixSocket).catch((error: Error) => {
          log.error(`${req.method} ${req.url}: ${error.message}`);
          if (!res.headersSent) {
            res.statusCode = 500;
            res.end('500 Internal Server Error\n');
          } else res.destroy();
        });
      },
      handshakeFailed: (f) =>
        log.info(
          `${plainAddress(f.remoteAddress) || 'unix-socket'} ${f.request?.url ?? '-'}: refused ${f.status}: ${f.message}`,
        ),
      message: handlers.message,
      drain: handlers.drain,
      open: (conn) => {
        log.info(
          `#${conn.id} ${plainAddress(conn.remoteAddress) || 'unix-socket'} ${conn.request.url}: CONNECT pid ${conn.data?.pid}`,
        );
        handlers.open(conn);
      },
      close: (conn, code, reason) => {
        log.info(
          `#${conn.id} ${plainAddress(conn.remoteAddress) || 'unix-socket'} ${conn.request.url}: DISCONNECT ${code}${reason ? ` ${reason}` : ''}`,
        );
        handlers.close(conn, code, reason);
      },
    });
  };

  const what = command
    ? `${config.command}${config.args.length ? ' …' : ''}`
    : router
      ? `--dir ${router.root}`
      : 'HTTP only';
  const scheme = config.ssl ? 'wss' : 'ws';
  try {
    if (config.tcp) {
      for (const host of config.addresses.length > 0 ? config.addresses : [undefined]) {
        const server = makeServer(false);
        await server.listen({ port: config.port, host });
        running.servers.push(server);
        log.info(`program mode (${what}) listening on ${scheme}://${show(server.address())}/`);
        if (config.redirPort !== undefined) running.redirects.push(await redirectServer(config, host, log));
      }
    }
    if (config.unixSocket) {
      const server = makeServer(true);
      await server.listen({ path: config.unixSocket });
      running.servers.push(server);
      log.info(`program mode (${what}) listening on ${scheme}+unix://${config.unixSocket}`);
    }
  } catch (error) {
    await stop(running, log);
    throw error;
  }
  return running;
}

/** `--redirport`: answers every request with a 301 to the canonical scheme, host and port. */
function redirectServer(config: ProgramConfig, host: string | undefined, log: Logger): Promise<HttpServer> {
  const scheme = config.ssl ? 'https' : 'http';
  const portPart = config.port === (config.ssl ? 443 : 80) ? '' : `:${config.port}`;
  const server = createHttpServer({ headersTimeout: 10_000, requestTimeout: 10_000 }, (req, res) => {
    const hostHeader = req.headers.host ?? '';
    const { name } = splitHostPort(hostHeader, config.ssl);
    const hostName = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
    for (const [header, value] of [...config.headers, ...config.httpHeaders]) res.appendHeader(header, value);
    res.statusCode = 301;
    res.setHeader('Location', `${scheme}://${hostName || 'localhost'}${portPart}${req.url ?? '/'}`);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: config.redirPort, host }, () => {
      server.removeListener('error', reject);
      const where = server.address();
      log.info(
        `redirecting http://${typeof where === 'object' && where ? `${where.family === 'IPv6' ? `[${where.address}]` : where.address}:${where.port}` : '?'}/ to ${scheme}://…${portPart}/`,
      );
      resolve(server);
    });
  });
}

/** Closes every server (clients get 1001), then waits for every program to be gone. */
async function stop(running: Running, log: Logger): Promise<void> {
  await Promise.all([
    ...running.servers.map((server) => server.close()),
    ...running.redirects.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  ]);
  for (const server of running.redirects) server.closeAllConnections();
  const left = [...running.sessions];
  for (const session of left) void session.terminate();
  await Promise.race([
    Promise.all([...left.map((s) => s.done), ...running.cgiRuns]),
    new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
  ]);
  if (running.sessions.size > 0) log.error(`${running.sessions.size} program(s) still running at exit`);
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
  let running: Running;
  try {
    running = await start(config, log);
  } catch (error) {
    process.stderr.write(`wsbridge: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
  return untilSignal(
    log,
    () => counted(running.sessions.size, 'program'),
    () => stop(running, log),
  );
}
