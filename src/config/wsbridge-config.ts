/**
 * wsbridge's config file (TOML): `[server]` settings and `[[route]]`s, each a URL path (exact, or a
 * prefix) bound to one endpoint. Every key is the long name of a command-line flag and means what the
 * flag means: the values are turned into flags and checked by that mode's own parser. Problems are
 * reported with the file, the line and what is wrong.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { optionSpec, parseCommandLine, type CliConfig } from '../modes/pipe/pipe-options.js';
import {
  parseProgramCommandLine,
  PROGRAM_FLAGS,
  type ProgramConfig,
} from '../modes/program/program-options.js';
import { parseSocketCommandLine, SOCKET_FLAGS, type SocketConfig } from '../modes/socket/socket-mode.js';
import { UsageError } from '../modes/common/usage-error.js';
import { ConfigError } from './config-error.js';
import { flagArgs, KeyTypeError, parseArgsShapes, type FlagShape } from './flag-args.js';
import { KeyLines } from './key-lines.js';
import { didYouMean } from './did-you-mean.js';

export type RouteType = 'echo' | 'pipe' | 'program' | 'socket' | 'static';
export const ROUTE_TYPES: readonly RouteType[] = ['echo', 'pipe', 'program', 'socket', 'static'];

/** `[server]` keys: the main command line's listening, limit, compression and log flags. */
export const SERVER_KEYS = [
  'port',
  'addr',
  'unix-socket',
  'ssl-cert',
  'ssl-key',
  'origin',
  'max-frame-size',
  'ping-interval',
  'max-connections',
  'access-log',
  'deflate',
  'deflate-threshold',
  'deflate-level',
  'deflate-mem-level',
  'deflate-window-bits',
  'deflate-no-context-takeover',
  'log-level',
] as const;

/** `[server]` keys for websocketd's listening flags the main command line lacks (`--sslca`, `--redirport`). */
export const EXTRA_SERVER_KEYS = ['ssl-ca', 'redirect-port'] as const;

/** websocketd's listening flags and the `[server]` keys that mean the same. */
export const WEBSOCKETD_SERVER_KEYS: Readonly<Record<string, string>> = {
  port: 'port',
  address: 'addr',
  unixsocket: 'unix-socket',
  ssl: 'ssl-cert and ssl-key',
  sslcert: 'ssl-cert',
  sslkey: 'ssl-key',
  sslca: 'ssl-ca',
  redirport: 'redirect-port',
  pingms: 'ping-interval (milliseconds)',
  loglevel: 'log-level',
};

const PIPE_KEYS = [
  'pipein',
  'pipeout',
  'std',
  'stdin',
  'stdout',
  'strict',
  'strict-info',
  'framing',
  'backlog',
  'pipe-buffer',
  'max-client-buffer',
  'slow-client',
];

/** Flags that only make sense on a command line (help, version, -q). */
// keepalive: websocksy's -k, seconds; the file has ping-interval (milliseconds) in [server] instead.
const COMMAND_LINE_ONLY = ['help', 'h', 'version', 'license', 'quiet', 'keepalive'];

/** Each route type's keys (beside `path`/`prefix` and `type`), by the flags they stand for. */
export const ROUTE_KEYS: Record<RouteType, readonly string[]> = {
  echo: ['protocol', 'max-frame-size'],
  pipe: [...PIPE_KEYS, 'protocol', 'max-frame-size'],
  // Socket mode's own flags; its listening ones are [server] keys (max-frame-size is both: per route too).
  socket: Object.keys(SOCKET_FLAGS).filter(
    (k) =>
      !COMMAND_LINE_ONLY.includes(k) &&
      (k === 'max-frame-size' || !(SERVER_KEYS as readonly string[]).includes(k)),
  ),
  program: [
    'command',
    ...Object.keys(PROGRAM_FLAGS).filter(
      (k) => !COMMAND_LINE_ONLY.includes(k) && !(k in WEBSOCKETD_SERVER_KEYS),
    ),
  ],
  static: ['staticdir'],
};

/** Keys naming files or directories: relative values are taken from the config file's directory. */
const PATH_KEYS = new Set([
  'unix-socket',
  'ssl-cert',
  'ssl-key',
  'ssl-ca',
  'access-log',
  'pipein',
  'pipeout',
  'staticdir',
  'dir',
  'cgidir',
  'peer-ca',
]);

/**
 * A copy of a table with its relative paths resolved against `base` (the config file's directory), so a
 * config file means the same from any working directory: the path keys, a program given with a slash,
 * a backend module, and the file backend's `path`.
 */
function withPaths(table: Record<string, unknown>, base: string): Record<string, unknown> {
  const fix = (value: unknown): unknown =>
    typeof value === 'string' && value !== '' && !isAbsolute(value) ? resolve(base, value) : value;
  const out: Record<string, unknown> = { ...table };
  for (const key of Object.keys(out)) if (PATH_KEYS.has(key)) out[key] = fix(out[key]);
  const { command, backend } = out;
  if (typeof command === 'string' && command.includes('/')) out.command = fix(command);
  if (Array.isArray(command) && typeof command[0] === 'string' && command[0].includes('/'))
    out.command = [fix(command[0]), ...command.slice(1)];
  if (typeof backend === 'string' && backend !== 'file' && backend !== 'defaultpeer')
    out.backend = fix(backend);
  const settings = out['backend-config'];
  if (backend === 'file' && isTable(settings) && 'path' in settings)
    out['backend-config'] = { ...settings, path: fix(settings.path) };
  const pathPair = (pair: unknown): unknown =>
    typeof pair === 'string' && pair.startsWith('path=') ? `path=${String(fix(pair.slice(5)))}` : pair;
  if (backend === 'file' && (typeof settings === 'string' || Array.isArray(settings)))
    out['backend-config'] = Array.isArray(settings) ? settings.map(pathPair) : pathPair(settings);
  return out;
}

/** How a route's path is matched: exactly, or as a prefix at a `/` boundary. */
export type RouteMatch = { exact: string } | { prefix: string };

/** A checked route. */
export interface RouteConfig {
  type: RouteType;
  match: RouteMatch;
  /** Position in the file, for messages: `[[route]]` index and header line. */
  index: number;
  line: number | undefined;
  /** Largest client message on this route, if it sets its own. */
  maxMessageSize: number | undefined;
  /** The keys the route sets, to place errors found later. */
  keys: string[];
  /** Subprotocols by preference (echo and pipe routes). */
  protocols: string[];
  pipe?: CliConfig['pipe'];
  program?: ProgramConfig;
  socket?: SocketConfig;
}

export interface WsbridgeConfig {
  file: string;
  server: CliConfig;
  /** Client certificates are required and checked against these CA certificates (PEM file). */
  sslCa: string | undefined;
  /** A plain HTTP port answering every request with a 301 to the server. */
  redirectPort: number | undefined;
  routes: RouteConfig[];
  /** Where each key is, to place errors found later (a missing directory, an unknown backend). */
  where(route: RouteConfig, message: string): ConfigError;
  /** The same for `[server]` settings (a certificate that is not one). */
  whereServer(message: string): ConfigError;
}

const GWSOCKET_SHAPES = parseArgsShapes(optionSpec);
const SOCKET_SHAPES = parseArgsShapes(SOCKET_FLAGS);
const PROGRAM_SHAPES: Record<string, FlagShape> = Object.fromEntries(
  Object.entries(PROGRAM_FLAGS).map(([name, kind]) => [
    name,
    kind === 'bool' ? 'go-bool' : kind === 'list' ? 'go-list' : 'go-value',
  ]),
);

/** True for a TOML document (as opposed to websocksy's INI with `[core]`/`[backend]`). */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * A flag parser's message reworded for config keys (`--framing: …` → `framing: …`), and the key it is
 * about, for the line number: the first flag it names that the table sets, else the first key the table
 * sets that the message mentions as a word (`COMMAND`, `backend module`).
 */
function keyMessage(
  message: string,
  keys: readonly string[],
  present: readonly string[],
): { key?: string; text: string } {
  const flags = [...message.matchAll(/(?:^|[\s'(/])--?([a-z][a-z0-9-]*)/g)].map((m) => m[1]);
  const words = [...present]
    .sort((a, b) => b.length - a.length)
    .filter((key) => new RegExp(`(^|[^a-z0-9-])${key}($|[^a-z0-9-])`, 'i').test(message));
  const key = flags.find((name) => present.includes(name)) ?? words[0];
  return {
    key,
    text: message.replace(/(^|[\s'(/])--?([a-z][a-z0-9-]*)/g, (all, before: string, name: string) =>
      keys.includes(name) ? `${before}${name}` : all,
    ),
  };
}

function toArgs(
  table: Record<string, unknown>,
  keys: readonly string[],
  shapes: Record<string, FlagShape>,
): string[] {
  const args: string[] = [];
  for (const key of keys) {
    if (!(key in table)) continue;
    let value = table[key];
    if (key === 'deflate' && typeof value === 'boolean') value = value ? 'on' : 'off';
    if (key === 'origin' && shapes[key] === 'go-value' && Array.isArray(value)) value = value.join(',');
    if (key === 'backend-config' && isTable(value))
      value = Object.entries(value).flatMap(([k, v]) =>
        (Array.isArray(v) ? v : [v]).map((item) => `${k}=${String(item)}`),
      );
    args.push(...flagArgs(key, value, shapes[key]));
  }
  return args;
}

function routeMatch(
  route: Record<string, unknown>,
  fail: (key: string | undefined, message: string) => never,
): RouteMatch {
  const { path, prefix } = route;
  if ((path === undefined) === (prefix === undefined))
    fail(undefined, 'a route needs exactly one of path (exact match) or prefix');
  const key = path !== undefined ? 'path' : 'prefix';
  const value = route[key];
  if (typeof value !== 'string' || !value.startsWith('/'))
    fail(key, `${key} must be a string starting with '/'`);
  if (/[?#\s]/.test(value)) fail(key, `${key} must be a plain URL path (no '?', '#' or spaces)`);
  if (key === 'path') return { exact: value };
  return { prefix: value.replace(/\/+$/, '') || '/' };
}

function routeLabel(match: RouteMatch): string {
  return 'exact' in match ? match.exact : `${match.prefix === '/' ? '' : match.prefix}/*`;
}

/** Reads and checks a config file. Throws ConfigError (file:line: problem). */
export function loadWsbridgeConfig(file: string, source = readSource(file)): WsbridgeConfig {
  let document: Record<string, unknown>;
  try {
    document = parse(source) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError)
      throw new ConfigError(
        file,
        error.line,
        error.message.split('\n')[0].replace(/^Invalid TOML document: /, ''),
      );
    throw error;
  }
  const lines = new KeyLines(source);
  for (const name of Object.keys(document))
    if (name !== 'server' && name !== 'route')
      throw new ConfigError(
        file,
        lines.of(name) ?? lines.of(undefined, 0, name),
        `unknown ${isTable(document[name]) || Array.isArray(document[name]) ? 'table' : 'key'} '${name}' (expected [server] and [[route]] tables)`,
      );

  const base = dirname(resolve(file));
  const serverTable = isTable(document.server) ? withPaths(document.server, base) : (document.server ?? {});
  if (!isTable(serverTable))
    throw new ConfigError(file, lines.of(undefined, 0, 'server'), 'server must be a table: [server]');
  const serverError = (key: string | undefined, message: string): ConfigError =>
    new ConfigError(file, lines.of('server', 0, key), `[server] ${message}`);
  for (const key of Object.keys(serverTable)) {
    if ((SERVER_KEYS as readonly string[]).includes(key)) continue;
    if ((EXTRA_SERVER_KEYS as readonly string[]).includes(key)) continue;
    const owner = ROUTE_TYPES.find((type) => ROUTE_KEYS[type].includes(key));
    throw serverError(
      key,
      owner ? `'${key}' is a route setting: put it in a [[route]] of type ${owner}` : `unknown key '${key}'`,
    );
  }
  let server: CliConfig;
  try {
    server = parseCommandLine(['--echo-mode', ...toArgs(serverTable, SERVER_KEYS, GWSOCKET_SHAPES)]);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof KeyTypeError)) throw error;
    const { key, text } =
      error instanceof KeyTypeError
        ? { key: error.key, text: error.message }
        : keyMessage(error.message, SERVER_KEYS, Object.keys(serverTable));
    throw serverError(key, text);
  }

  const sslCa = serverTable['ssl-ca'];
  if (sslCa !== undefined) {
    if (typeof sslCa !== 'string') throw serverError('ssl-ca', 'ssl-ca: expected a file name');
    if (server.sslCert === undefined) throw serverError('ssl-ca', 'ssl-ca needs ssl-cert and ssl-key');
  }
  const redirectPort = serverTable['redirect-port'];
  if (
    redirectPort !== undefined &&
    (typeof redirectPort !== 'number' ||
      !Number.isInteger(redirectPort) ||
      redirectPort < 0 ||
      redirectPort > 65535)
  )
    throw serverError('redirect-port', 'redirect-port must be a whole number from 0 to 65535');

  const routeTables = document.route ?? [];
  if (!Array.isArray(routeTables) || !routeTables.every(isTable))
    throw new ConfigError(
      file,
      lines.of('route') ?? lines.of(undefined, 0, 'route'),
      'routes are written as [[route]] tables',
    );
  if (routeTables.length === 0)
    throw new ConfigError(file, undefined, 'no [[route]]: a config file needs at least one route');
  const routes: RouteConfig[] = [];
  const seen = new Map<string, number>();
  routeTables.forEach((written, index) => {
    const table = withPaths(written, base);
    const fail = (key: string | undefined, message: string): never => {
      throw new ConfigError(file, lines.of('route', index, key), message);
    };
    const match = routeMatch(table, fail);
    const label = routeLabel(match);
    const where = (key: string | undefined, message: string): never =>
      fail(key, `route ${label}: ${message}`);
    const previous = seen.get(label);
    if (previous !== undefined)
      where('exact' in match ? 'path' : 'prefix', `the same path as route ${previous + 1}`);
    seen.set(label, index);
    // A key no route type knows is reported first: a misspelt `tpye` would otherwise look like a
    // missing type.
    const anyRouteKeys = ['type', 'path', 'prefix', ...new Set(Object.values(ROUTE_KEYS).flat())];
    for (const key of Object.keys(table))
      if (
        !anyRouteKeys.includes(key) &&
        !(SERVER_KEYS as readonly string[]).includes(key) &&
        !(key in WEBSOCKETD_SERVER_KEYS)
      )
        where(key, `unknown key '${key}'${didYouMean(key, anyRouteKeys)}`);
    const type = table.type;
    if (typeof type !== 'string' || !(ROUTE_TYPES as readonly string[]).includes(type))
      where(
        'type',
        `type must be one of ${ROUTE_TYPES.join(', ')}${type === undefined ? '' : `, not '${String(type)}'`}`,
      );
    const keys = ROUTE_KEYS[type as RouteType];
    for (const key of Object.keys(table)) {
      if (key === 'type' || key === 'path' || key === 'prefix' || keys.includes(key)) continue;
      if ((SERVER_KEYS as readonly string[]).includes(key) && key !== 'max-frame-size')
        where(key, `'${key}' is a server setting: put it in [server]`);
      if (type === 'program' && key in WEBSOCKETD_SERVER_KEYS)
        where(key, `'${key}' is a server setting: use ${WEBSOCKETD_SERVER_KEYS[key]} in [server]`);
      where(key, `unknown key '${key}' for a ${type} route (known: ${keys.join(', ')})`);
    }
    const command = written.command;
    if (typeof command === 'string' && /\s/.test(command.trim()) && !existsSync(String(table.command)))
      where(
        'command',
        `command is one program name; for a program and its arguments use an array: command = ${JSON.stringify(command.trim().split(/\s+/)).replaceAll('","', '", "')}`,
      );
    try {
      routes.push({
        ...parseRoute(type as RouteType, table, keys),
        match,
        index,
        line: lines.of('route', index),
        keys: Object.keys(table),
      });
    } catch (error) {
      if (!(error instanceof UsageError || error instanceof KeyTypeError)) throw error;
      const { key, text } =
        error instanceof KeyTypeError
          ? { key: error.key, text: error.message }
          : keyMessage(error.message, keys, Object.keys(table));
      where(key, text);
    }
  });
  checkPipes(routes, (route, key, message) => {
    throw new ConfigError(
      file,
      lines.of('route', route.index, key),
      `route ${routeLabel(route.match)}: ${message}`,
    );
  });
  return {
    file,
    server,
    sslCa,
    redirectPort: redirectPort as number | undefined,
    routes,
    whereServer: (message) => {
      const { key, text } = keyMessage(message, SERVER_KEYS, Object.keys(serverTable));
      return serverError(key, text);
    },
    where: (route, message) => {
      const { key, text } = keyMessage(message, ROUTE_KEYS[route.type], route.keys);
      return new ConfigError(
        file,
        lines.of('route', route.index, key),
        `route ${routeLabel(route.match)}: ${text}`,
      );
    },
  };
}

function readSource(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(
      file,
      undefined,
      `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

type ParsedRoute = Omit<RouteConfig, 'match' | 'index' | 'line' | 'keys'>;

function parseRoute(type: RouteType, table: Record<string, unknown>, keys: readonly string[]): ParsedRoute {
  const ownSize = (parsed: number): number | undefined => ('max-frame-size' in table ? parsed : undefined);
  switch (type) {
    case 'echo':
    case 'pipe': {
      const parsed = parseCommandLine([
        ...(type === 'echo' ? ['--echo-mode'] : []),
        ...toArgs(table, keys, GWSOCKET_SHAPES),
      ]);
      return {
        type,
        maxMessageSize: ownSize(parsed.maxMessageSize),
        protocols: parsed.protocols,
        pipe: type === 'pipe' ? parsed.pipe : undefined,
      };
    }
    case 'socket': {
      const socket = parseSocketCommandLine(toArgs(table, keys, SOCKET_SHAPES));
      return { type, maxMessageSize: ownSize(socket.maxFrameSize), protocols: [], socket };
    }
    case 'program':
    case 'static': {
      const command = table.command;
      let argv: string[] = [];
      if (command !== undefined) {
        const list = Array.isArray(command) ? command : [command];
        if (list.length === 0 || !list.every((item) => typeof item === 'string' && item !== ''))
          throw new KeyTypeError(
            'command',
            'expected a program name or an array of strings (the program and its arguments)',
          );
        argv = ['--', ...(list as string[])];
      }
      const flagKeys = keys.filter((k) => k !== 'command');
      if (type === 'static' && typeof table.staticdir !== 'string')
        throw new KeyTypeError('staticdir', 'a static route needs staticdir = "DIRECTORY"');
      const program = parseProgramCommandLine([...toArgs(table, flagKeys, PROGRAM_SHAPES), ...argv]);
      const size = 'maxframesize' in table ? program.maxFrameSize || Number.MAX_SAFE_INTEGER : undefined;
      return { type, maxMessageSize: size, protocols: [], program };
    }
  }
}

/** Two pipe routes cannot share a FIFO, nor both read stdin or write stdout. */
function checkPipes(
  routes: readonly RouteConfig[],
  fail: (route: RouteConfig, key: string, message: string) => never,
): void {
  const used = new Map<string, string>();
  for (const route of routes) {
    if (!route.pipe) continue;
    const { pipe } = route;
    const ends: [string, string, string][] = [
      ['pipein', pipe.stdin ? 'stdin' : `FIFO ${pipe.pipeIn}`, pipe.stdin ? 'stdin' : pipe.pipeIn],
      ['pipeout', pipe.stdout ? 'stdout' : `FIFO ${pipe.pipeOut}`, pipe.stdout ? 'stdout' : pipe.pipeOut],
    ];
    for (const [key, shown, id] of ends) {
      const owner = used.get(id);
      if (owner !== undefined)
        fail(route, pipe.stdin || pipe.stdout ? 'std' : key, `${shown} is already used by route ${owner}`);
      used.set(id, routeLabel(route.match));
    }
  }
}
