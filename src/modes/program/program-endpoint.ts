/**
 * The program endpoint (websocketd's model): each WebSocket connection runs its own program; plain HTTP
 * requests go to the dev console, CGI scripts, static files or 404, in websocketd's order.
 *
 * A handshake is answered only once its program runs: the upgrade checks the fork limit (429), finds the
 * script (`--dir`: 404), checks the origin (403), builds the CGI environment and starts the program
 * (500/503 if it cannot start).
 */
import { accessSync, constants, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { reverse } from 'node:dns/promises';
import { delimiter, join } from 'node:path';
import { cgiEnvironment, pickParentEnv, plainAddress, programEnvironment, UniqueIds } from './cgi-env.js';
import { execHandlers, ProgramSession, SpawnError, startProgram, type ExecOptions } from './exec.js';
import { ScriptRouter } from './script-router.js';
import { HandshakeError } from '../../protocol/errors.js';
import { runCgi } from './cgi.js';
import { decodeUrlPath, targetPath } from '../../server/safe-path.js';
import type { UpgradeInfo } from '../../server/server.js';
import { createStaticHandler } from '../../server/static-files.js';
import { devconsolePage } from './devconsole-page.js';
import { answerWhy } from '../common/console-request.js';
import type { RecentRefusals } from '../common/refusals.js';
import type { Logger } from '../common/log.js';
import { packageVersion } from '../common/package-version.js';
import type { ProgramConfig } from './program-options.js';
import { openSettingDir } from '../common/setting-files.js';
import { UsageError } from '../common/usage-error.js';
import { originRefusal } from './websocketd-origin.js';
import { withinMount, type Endpoint, type Mount } from '../../routes/endpoint.js';

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

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.catch(() => fallback),
    new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** The settings of program-options.ts an endpoint uses (listening ones stay with the server). */
export type ProgramRouteConfig = Pick<
  ProgramConfig,
  | 'ssl'
  | 'origins'
  | 'sameOrigin'
  | 'passEnv'
  | 'binary'
  | 'passStderr'
  | 'reverseLookup'
  | 'command'
  | 'args'
  | 'dir'
  | 'staticDir'
  | 'cgiDir'
  | 'devConsole'
  | 'maxForks'
  | 'closeMs'
  | 'headers'
  | 'wsHeaders'
  | 'httpHeaders'
>;

export interface ProgramEndpoint extends Endpoint<ProgramSession> {
  /** Programs running for WebSocket connections. */
  readonly sessions: ReadonlySet<ProgramSession>;
}

/** Checks the settings (COMMAND in PATH, directories) and builds the endpoint. */
export async function createProgramEndpoint(
  config: ProgramRouteConfig,
  log: Logger,
  refusals?: RecentRefusals,
): Promise<ProgramEndpoint> {
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
  const router = config.dir ? await ScriptRouter.open(await openSettingDir('--dir', config.dir)) : undefined;
  const cgiRouter = config.cgiDir
    ? await ScriptRouter.open(await openSettingDir('--cgidir', config.cgiDir))
    : undefined;
  const serveStatic = config.staticDir
    ? createStaticHandler(await openSettingDir('--staticdir', config.staticDir))
    : undefined;
  const parentEnv = pickParentEnv(config.passEnv, process.env);
  const forks = new ForkLimit(config.maxForks);
  const ids = new UniqueIds();
  const sessions = new Set<ProgramSession>();
  const cgiRuns = new Set<Promise<void>>();
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
  const who = (address: string, url: string): string => `${plainAddress(address) || 'unix-socket'} ${url}`;

  const upgrade = async (info: UpgradeInfo<ProgramSession>, mount: Mount): Promise<void> => {
    const label = who(info.remoteAddress, info.url);
    if (!forks.take()) {
      log.error(`${label}: --maxforks (${config.maxForks}) programs already running, refused`);
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
        const match = await router.resolve(withinMount(info.url, mount));
        if (!match) throw refuse('no such script', 404);
        ({ file, scriptName, pathInfo, decodedPath } = match);
        scriptName = mount.base + scriptName;
        args = [];
      } else {
        file = command!;
        args = config.args;
        scriptName = mount.base || '/';
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
        config.reverseLookup && !mount.unixSocket
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
        unixSocket: mount.unixSocket,
        parentEnv,
      });
      let session: ProgramSession;
      try {
        session = await startProgram({ command: file, args, env, label }, execOptions);
      } catch (error) {
        if (!(error instanceof SpawnError)) throw error;
        log.error(`${label}: ${error.message} (answered ${error.status})`);
        throw refuse(error.message, error.status);
      }
      owned = false;
      sessions.add(session);
      void session.done.then(() => {
        forks.release();
        sessions.delete(session);
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

  const runCgiScript = async (
    req: IncomingMessage,
    res: ServerResponse,
    mount: Mount,
    match: { file: string; scriptName: string; pathInfo: string },
  ): Promise<void> => {
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
        scriptName: mount.base + match.scriptName,
        scriptFilename: match.file,
        pathInfo: match.pathInfo,
        unixSocket: mount.unixSocket,
        parentEnv,
        path: process.env.PATH,
      },
    );
    log.info(`${who(req.socket.remoteAddress ?? '', req.url ?? '/')}: ${req.method} CGI ${match.file}`);
    const run = runCgi(req, res, { file: match.file, env }, { log: (line) => log.error(line) }).finally(
      () => {
        forks.release();
        cgiRuns.delete(run);
      },
    );
    cgiRuns.add(run);
    await run;
  };

  const request = async (req: IncomingMessage, res: ServerResponse, mount: Mount): Promise<void> => {
    for (const [name, value] of httpHeaders) res.appendHeader(name, value);
    if (config.devConsole) {
      if (answerWhy(req, res, refusals)) return;
      const page = devconsolePage(config.command ?? `scripts in ${config.dir ?? '?'}`);
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(page));
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    const url = withinMount(req.url ?? '/', mount);
    const match = cgiRouter ? await cgiRouter.resolve(url) : undefined;
    if (match) return runCgiScript(req, res, mount, match);
    if (serveStatic) return serveStatic(req, res, url);
    res.statusCode = 404;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end('404 page not found\n');
  };

  const handlers = execHandlers();
  return {
    label: command
      ? `program ${config.command}${config.args.length ? ' …' : ''}`
      : router
        ? `scripts in ${router.root}`
        : config.staticDir && !config.cgiDir && !config.devConsole
          ? `static files in ${config.staticDir}`
          : 'HTTP only',
    sessions,
    upgrade: command || router ? upgrade : undefined,
    request,
    handlers: {
      ...handlers,
      open: (conn) => {
        log.debug(`#${conn.id} ${who(conn.remoteAddress, conn.request.url)}: CONNECT pid ${conn.data?.pid}`);
        handlers.open(conn);
      },
      close: (conn, code, reason) => {
        log.debug(
          `#${conn.id} ${who(conn.remoteAddress, conn.request.url)}: DISCONNECT ${code}${reason ? ` ${reason}` : ''}`,
        );
        handlers.close(conn, code, reason);
      },
    },
    live: () => ({ count: sessions.size, noun: 'program' }),
    async stop() {
      const left = [...sessions];
      for (const session of left) void session.terminate();
      await Promise.race([
        Promise.all([...left.map((s) => s.done), ...cgiRuns]),
        new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
      ]);
      if (sessions.size > 0) log.error(`${sessions.size} program(s) still running at exit`);
    },
  };
}
