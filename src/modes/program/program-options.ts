/**
 * Program mode's command line: websocketd's flags (0.5.0), parsed the way Go's `flag` package does
 * (`-flag` or `--flag`, `=value` or a separate value, booleans only with `=`, parsing stops at the first
 * argument that is not a flag or after `--`), into a checked configuration.
 */
import { defaultPassEnv } from './cgi-env.js';
import type { LogLevel } from '../common/log.js';
import { integerFlag } from '../common/flag-values.js';
import { UsageError } from '../common/usage-error.js';
import { registerFlags, unknownFlag } from '../common/unknown-flag.js';

type FlagKind = 'bool' | 'string' | 'int' | 'list';

/** Every websocketd flag and its kind ('list': repeatable). */
export const PROGRAM_FLAGS: Readonly<Record<string, FlagKind>> = {
  port: 'int',
  address: 'list',
  unixsocket: 'string',
  ssl: 'bool',
  sslcert: 'string',
  sslkey: 'string',
  sslca: 'string',
  redirport: 'int',
  origin: 'string',
  sameorigin: 'bool',
  passenv: 'string',
  binary: 'bool',
  passstderr: 'bool',
  reverselookup: 'bool',
  dir: 'string',
  staticdir: 'string',
  cgidir: 'string',
  devconsole: 'bool',
  maxforks: 'int',
  closems: 'int',
  pingms: 'int',
  maxframesize: 'int',
  header: 'list',
  'header-ws': 'list',
  'header-http': 'list',
  loglevel: 'string',
  help: 'bool',
  h: 'bool',
  version: 'bool',
  license: 'bool',
};
registerFlags(
  'program',
  Object.keys(PROGRAM_FLAGS).filter((name) => name !== 'h'),
);

/** websocketd's `--loglevel` values, and what the Logger shows for each. */
const LOG_LEVELS: Record<string, LogLevel> = {
  debug: 'debug',
  trace: 'debug',
  access: 'info',
  info: 'info',
  error: 'error',
  fatal: 'error',
};

/** What a websocketd command line asks for, checked. */
export interface ProgramConfig {
  mode: 'run' | 'help' | 'version' | 'license';
  /** Listen port (80, or 443 with --ssl). */
  port: number;
  /** Listen addresses; empty: all interfaces (unless only a Unix socket is asked for). */
  addresses: string[];
  /** Listen on TCP at all (false when --unixsocket is the only listen option). */
  tcp: boolean;
  unixSocket: string | undefined;
  ssl: boolean;
  sslCert: string | undefined;
  sslKey: string | undefined;
  sslCa: string | undefined;
  redirPort: number | undefined;
  origins: string[];
  sameOrigin: boolean;
  passEnv: string[];
  binary: boolean;
  passStderr: boolean;
  reverseLookup: boolean;
  /** COMMAND (not yet looked up in PATH) and its arguments. */
  command: string | undefined;
  args: string[];
  dir: string | undefined;
  staticDir: string | undefined;
  cgiDir: string | undefined;
  devConsole: boolean;
  /** Live programs allowed (WebSocket sessions and CGI runs); 0: no limit. */
  maxForks: number;
  closeMs: number;
  pingMs: number;
  /** Largest message from a client, bytes; 0: no limit. */
  maxFrameSize: number;
  /** `--header` (every response), `--header-ws` (101 only), `--header-http` (plain HTTP only). */
  headers: [string, string][];
  wsHeaders: [string, string][];
  httpHeaders: [string, string][];
  logLevel: LogLevel;
}

const BOOL_VALUES: Record<string, boolean> = {
  '1': true,
  t: true,
  T: true,
  true: true,
  TRUE: true,
  True: true,
  '0': false,
  f: false,
  F: false,
  false: false,
  FALSE: false,
  False: false,
};

/** Flags as parsed (last value wins, lists accumulate), and the arguments after them. */
export function parseGoFlags(argv: readonly string[]): { flags: Map<string, string[]>; rest: string[] } {
  const flags = new Map<string, string[]>();
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.length < 2 || arg[0] !== '-') break;
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    if (body === '' || body[0] === '-' || body[0] === '=') throw new UsageError(`bad flag syntax: ${arg}`);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    const kind = PROGRAM_FLAGS[name];
    if (!kind) throw unknownFlag(name, 'program');
    let value: string;
    if (kind === 'bool') {
      value = eq === -1 ? 'true' : body.slice(eq + 1);
      if (!(value in BOOL_VALUES)) throw new UsageError(`invalid boolean value '${value}' for -${name}`);
      value = String(BOOL_VALUES[value]);
    } else if (eq !== -1) value = body.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: -${name}`);
      value = argv[++i];
    }
    const values = flags.get(name);
    if (kind === 'list' && values) values.push(value);
    else flags.set(name, [value]);
  }
  return { flags, rest: argv.slice(i) };
}

function commaList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function headerPairs(flag: string, values: string[] | undefined): [string, string][] {
  return (values ?? []).map((text) => {
    const colon = text.indexOf(':');
    const name = colon === -1 ? '' : text.slice(0, colon).trim();
    const value = colon === -1 ? '' : text.slice(colon + 1).trim();
    // Never echo a raw CR/LF: the error must stay one line (and not forge one in a terminal or log).
    if (/[\r\n\0]/.test(text))
      throw new UsageError(`-${flag} ${JSON.stringify(text)}: a header cannot contain CR, LF or NUL`);
    if (!TOKEN.test(name)) throw new UsageError(`-${flag} needs "Name: value", got '${text}'`);
    return [name, value];
  });
}

function address(value: string): string {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (bare === '' || /[\s/]/.test(bare)) throw new UsageError(`invalid -address '${value}'`);
  return bare;
}

/** Parses a websocketd-style argv (without node and script). Throws UsageError naming the problem. */
export function parseProgramCommandLine(argv: readonly string[]): ProgramConfig {
  const { flags, rest } = parseGoFlags(argv);
  const one = (name: string): string | undefined => flags.get(name)?.at(-1);
  const on = (name: string): boolean => one(name) === 'true';
  const ssl = on('ssl');
  const mode = on('help') || on('h') ? 'help' : on('version') ? 'version' : on('license') ? 'license' : 'run';
  const level = one('loglevel') ?? 'access';
  if (!(level in LOG_LEVELS))
    throw new UsageError(`invalid -loglevel '${level}' (one of ${Object.keys(LOG_LEVELS).join(', ')})`);
  const unixSocket = one('unixsocket');
  const config: ProgramConfig = {
    mode,
    port: integerFlag('--port', one('port'), ssl ? 443 : 80, 0, 65535),
    addresses: (flags.get('address') ?? []).map(address),
    tcp: !unixSocket || flags.has('port') || flags.has('address'),
    unixSocket,
    ssl,
    sslCert: one('sslcert'),
    sslKey: one('sslkey'),
    sslCa: one('sslca'),
    redirPort:
      one('redirport') === undefined ? undefined : integerFlag('--redirport', one('redirport'), 0, 1, 65535),
    origins: commaList(one('origin')),
    sameOrigin: on('sameorigin'),
    passEnv: flags.has('passenv') ? commaList(one('passenv')) : defaultPassEnv(),
    binary: on('binary'),
    passStderr: on('passstderr'),
    reverseLookup: on('reverselookup'),
    command: rest[0],
    args: rest.slice(1),
    dir: one('dir'),
    staticDir: one('staticdir'),
    cgiDir: one('cgidir'),
    devConsole: on('devconsole'),
    maxForks: integerFlag('--maxforks', one('maxforks'), 1024, 0, 2 ** 31 - 1),
    closeMs: integerFlag('--closems', one('closems'), 0, 0, 2 ** 31 - 1),
    pingMs: integerFlag('--pingms', one('pingms'), 0, 0, 2 ** 31 - 1),
    maxFrameSize: integerFlag('--maxframesize', one('maxframesize'), 1024 * 1024, 0, 2 ** 53 - 1),
    headers: headerPairs('header', flags.get('header')),
    wsHeaders: headerPairs('header-ws', flags.get('header-ws')),
    httpHeaders: headerPairs('header-http', flags.get('header-http')),
    logLevel: LOG_LEVELS[level],
  };
  if (mode !== 'run') return config;
  if (config.command === undefined && !config.dir && !config.staticDir && !config.cgiDir)
    throw new UsageError('give a COMMAND to run, or --dir, --staticdir or --cgidir');
  if (config.command !== undefined && config.dir)
    throw new UsageError(`ambiguous: both COMMAND '${config.command}' and --dir given; pick one`);
  if (config.devConsole && (config.staticDir || config.cgiDir))
    throw new UsageError('--devconsole cannot be used with --staticdir or --cgidir; pick one');
  if (ssl && (!config.sslCert || !config.sslKey))
    throw new UsageError('--ssl needs both --sslcert and --sslkey');
  if (!ssl && (config.sslCert || config.sslKey || config.sslCa))
    throw new UsageError('--sslcert, --sslkey and --sslca need --ssl');
  if (config.passStderr && config.binary) throw new UsageError('--passstderr cannot be used with --binary');
  if (config.redirPort !== undefined && config.redirPort === config.port && config.tcp)
    throw new UsageError('--redirport must differ from --port');
  return config;
}

export const PROGRAM_USAGE = `Usage: wsbridge [websocketd options] COMMAND [ARGS...]
       wsbridge [websocketd options] --dir=DIR

Program mode (websocketd's command line): every WebSocket connection starts COMMAND (or, with --dir,
the executable the URL path selects). What the client sends is written to its stdin, a line per text
message; each line it prints is a message to the client. Flags take one or two dashes and =VALUE or a
separate VALUE. Logs go to stderr.

Listening:
  --port=PORT             TCP port                                        [80, 443 with --ssl]
  --address=ADDR          listen on this address (repeatable; IPv6 as [::1])  [all]
  --unixsocket=PATH       listen on a Unix socket (alone: no TCP listener)
  --ssl --sslcert=FILE --sslkey=FILE   HTTPS/WSS (all three)
  --sslca=FILE            require client certificates signed by this CA
  --redirport=PORT        also answer plain HTTP on PORT with a 301 to the canonical address
  --origin=HOST[:PORT],…  allowed origins (scheme:// optional; no port: any); others get 403
  --sameorigin            the Origin must match the Host header; else 403
  --header="Name: value"  add to every response (repeatable)
  --header-ws=…           add to WebSocket handshake responses only
                          (Sec-WebSocket-Protocol here selects that subprotocol if offered)
  --header-http=…         add to plain HTTP responses only

Programs:
  --dir=DIR               the URL path selects an executable in DIR (SCRIPT_NAME / PATH_INFO split);
                          404 when none; nothing outside DIR, through .. or symlinks
  --passenv=VAR,…         parent variables passed to programs        [${defaultPassEnv().join(',')}]
  --binary                binary mode: bytes through unchanged, each read one binary message
  --passstderr            also send stderr; both streams as JSON {"stream":"stdout"|"stderr","data":…}
  --maxforks=N            live programs (sessions + CGI runs) allowed; past it: 429; 0: no limit [1024]
  --closems=MS            added to each step of the kill ladder (stdin closed, +100 ms SIGINT,
                          +250 ms SIGTERM, +500 ms SIGKILL, to the program's process group)  [0]
  --reverselookup         REMOTE_HOST is the client's reverse-DNS name

Protocol:
  --pingms=MS             ping every MS; drop a client silent for 2×MS; 0: off [0]
  --maxframesize=BYTES    largest message from a client; past it: close 1009; 0: no limit [1048576]

Plain HTTP (requests that are not WebSocket handshakes):
  --devconsole            a test page for the same URL (not with --staticdir/--cgidir)
  --cgidir=DIR            run CGI scripts from DIR
  --staticdir=DIR         serve files from DIR

Other:
  --loglevel=LEVEL        debug, trace, access, info, error, fatal      [access]
  --help, --version, --license

Each program gets websocketd's CGI environment (SERVER_NAME, PATH_INFO, QUERY_STRING, REMOTE_ADDR,
HTTP_<HEADER>…, plus HTTP_HOST) and only the --passenv variables. When it exits the client gets a
Close frame: 1000 for exit status 0, 1011 "exit status N" or "killed by SIGNAL" otherwise.`;
