/** The opening handshake (RFC 6455 §4), both roles, as pure functions over parsed heads. */
import { createHash, randomBytes } from 'node:crypto';
import { HandshakeError } from './errors.js';
import { assertSafeHeader, hasToken, headerList, isToken, type HeaderMap } from './http-head.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const KEY_PATTERN = /^[+/0-9A-Za-z]{22}==$/;

/** `Sec-WebSocket-Accept` for a client key (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + GUID)
    .digest('base64');
}

/** Picks a subprotocol from the client's offer; undefined answers none. */
export type ProtocolSelector = (offered: readonly string[]) => string | undefined;

/** What the server checks and chooses during a handshake. */
export interface ServerHandshakeOptions {
  /**
   * Subprotocols by preference: the first of this list that the client offered is chosen. A function
   * may choose instead. Default: none (no `Sec-WebSocket-Protocol` answered).
   */
  protocols?: readonly string[] | ProtocolSelector;
  /** Allowed `Origin` values (compared case-insensitively, whole string). Default: any origin. */
  origins?: readonly string[];
}

/** The request's parts that the handshake reads. Header names lower-case. */
export interface UpgradeRequest {
  method: string;
  url: string;
  httpVersion?: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** A request the server may answer with 101. */
export interface AcceptedUpgrade {
  key: string;
  accept: string;
  /** The chosen subprotocol, if any. */
  protocol: string | undefined;
  /** The subprotocols the client offered, in its order. */
  offeredProtocols: string[];
  /** The raw `Sec-WebSocket-Extensions` offer (negotiated by the deflate layer, when present). */
  extensions: string;
}

function header(headers: UpgradeRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** True when the request asks to upgrade to WebSocket (whether or not it is a valid handshake). */
export function isWebSocketUpgrade(request: UpgradeRequest): boolean {
  return hasToken(header(request.headers, 'upgrade'), 'websocket');
}

/**
 * Validates a client's opening handshake (RFC 6455 §4.2.1) and chooses a subprotocol. A refusal throws
 * HandshakeError: 400 for a malformed request, 426 for an unsupported version, 403 for a foreign origin.
 */
export function checkUpgradeRequest(
  request: UpgradeRequest,
  options: ServerHandshakeOptions = {},
): AcceptedUpgrade {
  const { headers } = request;
  if (request.method !== 'GET') throw new HandshakeError('WebSocket handshake must use GET', 400);
  if (request.httpVersion !== undefined && !/^1\.[1-9]$|^[2-9]\./.test(request.httpVersion))
    throw new HandshakeError('WebSocket handshake needs HTTP/1.1', 400);
  if (!header(headers, 'host')) throw new HandshakeError('missing Host header', 400);
  if (!hasToken(header(headers, 'upgrade'), 'websocket'))
    throw new HandshakeError('Upgrade header must name websocket', 400);
  if (!hasToken(header(headers, 'connection'), 'upgrade'))
    throw new HandshakeError('Connection header must contain Upgrade', 400);
  const version = header(headers, 'sec-websocket-version');
  if (version !== '13')
    throw new HandshakeError('unsupported Sec-WebSocket-Version (13 only)', 426, {
      'Sec-WebSocket-Version': '13',
    });
  const key = header(headers, 'sec-websocket-key')?.trim() ?? '';
  if (!KEY_PATTERN.test(key)) throw new HandshakeError('invalid Sec-WebSocket-Key', 400);

  if (options.origins && options.origins.length > 0) {
    const origin = header(headers, 'origin')?.toLowerCase();
    if (!origin || !options.origins.some((allowed) => allowed.toLowerCase() === origin))
      throw new HandshakeError('origin not allowed', 403);
  }

  const offeredProtocols = headerList(header(headers, 'sec-websocket-protocol'));
  const seen = new Set<string>();
  for (const name of offeredProtocols) {
    if (!isToken(name)) throw new HandshakeError('invalid subprotocol name', 400);
    if (seen.has(name)) throw new HandshakeError('duplicate subprotocol', 400);
    seen.add(name);
  }
  let protocol: string | undefined;
  const preference = options.protocols;
  if (offeredProtocols.length > 0 && preference) {
    if (typeof preference === 'function') {
      protocol = preference(offeredProtocols);
      if (protocol !== undefined && !seen.has(protocol))
        throw new HandshakeError('selected subprotocol was not offered', 500);
    } else protocol = preference.find((name) => seen.has(name));
  }
  return {
    key,
    accept: acceptKey(key),
    protocol,
    offeredProtocols,
    extensions: header(headers, 'sec-websocket-extensions') ?? '',
  };
}

/** The 101 response head for an accepted upgrade. Extra headers are checked (no CR/LF injection). */
export function switchingProtocolsResponse(
  accepted: AcceptedUpgrade,
  extraHeaders: Readonly<Record<string, string>> = {},
): string {
  let head =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accepted.accept}\r\n`;
  if (accepted.protocol !== undefined) head += `Sec-WebSocket-Protocol: ${accepted.protocol}\r\n`;
  for (const name of Object.keys(extraHeaders)) {
    assertSafeHeader(name, extraHeaders[name]);
    head += `${name}: ${extraHeaders[name]}\r\n`;
  }
  return head + '\r\n';
}

/** What a client puts in its opening request. */
export interface ClientHandshakeOptions {
  /** `host[:port]` for the Host header. */
  host: string;
  /** Request target: path and query. */
  path: string;
  /** Subprotocols to offer, in preference order. */
  protocols?: readonly string[];
  /** `Origin` header, if any. */
  origin?: string;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** Fixed key (tests only); default: 16 random bytes. */
  key?: string;
}

/** Builds the client's request head and the key the answer must match. */
export function clientRequest(options: ClientHandshakeOptions): { key: string; head: string } {
  const key = options.key ?? randomBytes(16).toString('base64');
  assertSafeHeader('Host', options.host);
  if (/[\s]/.test(options.path)) throw new TypeError('request path has white space in it');
  if (options.origin !== undefined) assertSafeHeader('Origin', options.origin);
  let head =
    `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n`;
  if (options.protocols && options.protocols.length > 0) {
    for (const name of options.protocols)
      if (!isToken(name)) throw new TypeError(`invalid subprotocol: ${name}`);
    head += `Sec-WebSocket-Protocol: ${options.protocols.join(', ')}\r\n`;
  }
  if (options.origin !== undefined) head += `Origin: ${options.origin}\r\n`;
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    assertSafeHeader(name, value);
    head += `${name}: ${value}\r\n`;
  }
  return { key, head: head + '\r\n' };
}

/** Result of a successful client handshake. */
export interface AcceptedResponse {
  protocol: string | undefined;
  extensions: string;
}

/**
 * Checks the server's answer (RFC 6455 §4.1, client steps 1–6). Any failure throws HandshakeError carrying
 * the status received.
 */
export function checkUpgradeResponse(
  status: number,
  headers: HeaderMap,
  key: string,
  offeredProtocols: readonly string[] = [],
  offeredExtensions = false,
): AcceptedResponse {
  if (status !== 101) throw new HandshakeError(`server answered ${status} instead of 101`, status);
  if (!hasToken(headers['upgrade'], 'websocket'))
    throw new HandshakeError('response Upgrade is not websocket', status);
  if (!hasToken(headers['connection'], 'upgrade'))
    throw new HandshakeError('response Connection is not Upgrade', status);
  if (headers['sec-websocket-accept'] !== acceptKey(key))
    throw new HandshakeError('Sec-WebSocket-Accept does not match the key', status);
  const protocol = headers['sec-websocket-protocol'];
  if (protocol !== undefined && !offeredProtocols.includes(protocol))
    throw new HandshakeError(`server chose a subprotocol that was not offered: ${protocol}`, status);
  const extensions = headers['sec-websocket-extensions'] ?? '';
  if (extensions !== '' && !offeredExtensions)
    throw new HandshakeError('server answered extensions that were not offered', status);
  return { protocol, extensions };
}
