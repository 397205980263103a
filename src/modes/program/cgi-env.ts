/**
 * CGI-style environments, as pure functions of the request: websocketd's for a program serving one
 * WebSocket connection, and RFC 3875's (as Go's net/http/cgi builds it) for a `--cgidir` script. Nothing
 * here reads `process.env`: the parent variables to pass (`--passenv`) are picked by `pickParentEnv`.
 */
import { splitHostPort } from '../common/host-port.js';

/** The request, as the server saw it. Header names are lower-case. */
export interface EnvRequest {
  /** Request target as sent: path and query. */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Peer address ('' for a Unix-socket client). */
  remoteAddress: string;
  /** Peer port (0 for a Unix-socket client). */
  remotePort: number;
  /** Request method; a WebSocket handshake is always GET. */
  method?: string;
  /** HTTP version, e.g. '1.1'; a WebSocket handshake is always 1.1. */
  httpVersion?: string;
}

/** What a program's environment depends on besides the request. */
export interface ProgramEnvOptions {
  /** `SERVER_SOFTWARE`, e.g. `wsbridge/0.1.0`. */
  serverSoftware: string;
  /** Listening with TLS: `HTTPS=on`, and 443 as the default `SERVER_PORT`. */
  tls: boolean;
  /** URL path of the script (`/` when one command serves every path). */
  scriptName: string;
  /** The rest of the decoded URL path after `scriptName` (the whole path when one command serves all). */
  pathInfo: string;
  /** The decoded URL path (`PATH_TRANSLATED`: websocketd does not map it to the file system). */
  decodedPath: string;
  /** Per-connection id (`UNIQUE_ID`). */
  uniqueId: string;
  /** Reverse-DNS name of the client (`--reverselookup`); default: its address. */
  remoteHost?: string;
  /** The client came through a Unix socket: `REMOTE_ADDR=unix-socket`, empty `REMOTE_PORT`. */
  unixSocket?: boolean;
  /** Parent variables to pass (see `pickParentEnv`). */
  parentEnv?: Readonly<Record<string, string>>;
}

/** websocketd's default `--passenv` list for this platform. */
export function defaultPassEnv(platform: NodeJS.Platform = process.platform): string[] {
  if (platform === 'win32') return ['PATH', 'SystemRoot', 'COMSPEC', 'PATHEXT', 'WINDIR'];
  if (platform === 'darwin') return ['PATH', 'DYLD_LIBRARY_PATH'];
  return ['PATH', 'LD_LIBRARY_PATH'];
}

/**
 * The parent variables named by `--passenv` that are set in `env`, newlines in values replaced by spaces.
 * `HTTPS` is never passed (it would lie about the connection), as in websocketd.
 */
export function pickParentEnv(names: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) {
    if (name === 'HTTPS' || name === '') continue;
    const value = env[name];
    if (value !== undefined) picked[name] = value.replace(/[\r\n]/g, ' ');
  }
  return picked;
}

/** A header value as websocketd writes it: CR and LF become spaces, then trimmed; repeats joined. */
function cleanValue(value: string | string[], join = ', '): string {
  const values = Array.isArray(value) ? value : [value];
  return values.map((v) => v.replace(/[\r\n]/g, ' ').trim()).join(join);
}

/** `x-custom-thing` → `HTTP_X_CUSTOM_THING`. */
export function headerVariable(name: string): string {
  return `HTTP_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** Strips the IPv4-mapped prefix a dual-stack socket reports (`::ffff:127.0.0.1` → `127.0.0.1`), as Go does. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function single(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `REQUEST_URI`: path and query as sent (origin form), `?` kept even before an empty query. */
function requestUri(url: string): string {
  if (url.startsWith('/')) return url;
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/.exec(url);
  const rest = authority ? url.slice(authority[0].length) : url;
  return rest.startsWith('/') ? rest : `/${rest}`;
}

function queryOf(url: string): string {
  const mark = url.indexOf('?');
  return mark === -1 ? '' : url.slice(mark + 1);
}

/**
 * The complete environment of a program serving one WebSocket connection: websocketd's variables with
 * its values, plus `HTTP_HOST` (which websocketd drops). The one deliberate omission: no `HTTP_PROXY`
 * from a `Proxy:` request header ("httpoxy": a client could otherwise choose the program's HTTP proxy).
 */
export function programEnvironment(request: EnvRequest, options: ProgramEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  env.SERVER_SOFTWARE = options.serverSoftware;
  // Parent variables come after SERVER_SOFTWARE (which they may replace) and before everything else.
  Object.assign(env, options.parentEnv ?? {});
  const host = single(request.headers.host);
  const { name, port } = splitHostPort(host, options.tls);
  const address = options.unixSocket ? 'unix-socket' : plainAddress(request.remoteAddress);
  env.REMOTE_ADDR = address;
  env.REMOTE_HOST = options.unixSocket ? address : (options.remoteHost ?? address);
  env.SERVER_NAME = name;
  env.SERVER_PORT = port;
  env.SERVER_PROTOCOL = `HTTP/${request.httpVersion ?? '1.1'}`;
  env.GATEWAY_INTERFACE = 'CGI/1.1';
  env.REQUEST_METHOD = request.method ?? 'GET';
  env.SCRIPT_NAME = options.scriptName;
  env.PATH_INFO = options.pathInfo;
  env.PATH_TRANSLATED = options.decodedPath;
  env.QUERY_STRING = queryOf(request.url);
  // Not supported, but set (empty) so that nothing of the same name leaks from the parent environment.
  env.AUTH_TYPE = '';
  env.CONTENT_LENGTH = '';
  env.CONTENT_TYPE = '';
  env.REMOTE_IDENT = '';
  env.REMOTE_USER = '';
  env.UNIQUE_ID = options.uniqueId;
  env.REMOTE_PORT = options.unixSocket ? '' : String(request.remotePort);
  env.REQUEST_URI = requestUri(request.url);
  if (options.tls) env.HTTPS = 'on';
  for (const key of Object.keys(request.headers)) {
    const value = request.headers[key];
    if (value === undefined || key === 'proxy') continue;
    env[headerVariable(key)] = cleanValue(value);
  }
  return env;
}

/** What a CGI script's environment depends on besides the request. */
export interface CgiEnvOptions {
  serverSoftware: string;
  tls: boolean;
  /** URL path of the script, e.g. `/cgi/form.sh`. */
  scriptName: string;
  /** The file run (`SCRIPT_FILENAME`). */
  scriptFilename: string;
  /** The decoded rest of the URL path after the script, '' when none. */
  pathInfo: string;
  unixSocket?: boolean;
  parentEnv?: Readonly<Record<string, string>>;
  /** The server's own `PATH` (the script gets it, or a default, as Go's CGI handler does). */
  path?: string;
}

/**
 * The RFC 3875 environment of a CGI script, with the variables Go's net/http/cgi sets (as websocketd's
 * `--cgidir` used it): `HTTP_HOST`, `SCRIPT_FILENAME`, `REQUEST_URI`, `REMOTE_PORT`, `CONTENT_LENGTH` when
 * there is a body, cookies joined with `; `, no `HTTP_PROXY`.
 */
export function cgiEnvironment(request: EnvRequest, options: CgiEnvOptions): Record<string, string> {
  const env: Record<string, string> = {};
  const host = single(request.headers.host);
  env.SERVER_SOFTWARE = options.serverSoftware;
  env.SERVER_PROTOCOL = `HTTP/${request.httpVersion ?? '1.1'}`;
  env.HTTP_HOST = host;
  env.GATEWAY_INTERFACE = 'CGI/1.1';
  env.REQUEST_METHOD = request.method ?? 'GET';
  env.QUERY_STRING = queryOf(request.url);
  env.REQUEST_URI = requestUri(request.url);
  env.PATH_INFO = options.pathInfo;
  env.SCRIPT_NAME = options.scriptName;
  env.SCRIPT_FILENAME = options.scriptFilename;
  const { name, port } = splitHostPort(host, options.tls);
  env.SERVER_PORT = port;
  const address = options.unixSocket ? 'unix-socket' : plainAddress(request.remoteAddress);
  env.REMOTE_ADDR = address;
  env.REMOTE_HOST = address;
  if (!options.unixSocket) env.REMOTE_PORT = String(request.remotePort);
  env.SERVER_NAME = name;
  if (options.tls) env.HTTPS = 'on';
  for (const key of Object.keys(request.headers)) {
    const value = request.headers[key];
    if (value === undefined || key === 'proxy' || key === 'host') continue;
    env[headerVariable(key)] = cleanValue(value, key === 'cookie' ? '; ' : ', ');
  }
  const length = Number(single(request.headers['content-length']));
  if (length > 0) env.CONTENT_LENGTH = String(length);
  const type = single(request.headers['content-type']);
  if (type !== '') env.CONTENT_TYPE = type;
  env.PATH = options.path || '/bin:/usr/bin:/usr/ucb:/usr/bsd:/usr/local/bin';
  Object.assign(env, options.parentEnv ?? {});
  env.SERVER_SOFTWARE = options.serverSoftware;
  return env;
}

/**
 * `UNIQUE_ID` values: the connection's start time in nanoseconds since the epoch, in decimal, as
 * websocketd does, made strictly increasing so that two connections in the same nanosecond differ.
 */
export class UniqueIds {
  private readonly origin = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
  private last = 0n;

  next(): string {
    let id = this.origin + process.hrtime.bigint();
    if (id <= this.last) id = this.last + 1n;
    this.last = id;
    return id.toString();
  }
}
