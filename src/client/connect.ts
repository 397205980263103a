/**
 * The client: `connect(url, options)` opens a WebSocket over TCP, TLS or a Unix socket and resolves to
 * the same `Connection` object the server hands out.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { HandshakeError } from '../protocol/errors.js';
import { checkUpgradeResponse, clientRequest } from '../protocol/handshake.js';
import { findHeadEnd, parseResponseHead } from '../protocol/http-head.js';
import { Connection, type ConnectionHandlers } from '../server/connection.js';
import { DEFAULTS } from '../server/defaults.js';
import '../server/native-mask.js';
import { MessageDeflate } from '../server/deflate.js';
import type { PerMessageDeflateOptions } from '../server/server.js';
import { checkDeflateResponse, deflateOffer, type DeflateParams } from '../protocol/deflate-params.js';

/** Client settings and callbacks. */
export interface ClientOptions<T = unknown> extends ConnectionHandlers<T> {
  /** Subprotocols to offer, by preference. Default: none. */
  protocols?: readonly string[];
  /** `Origin` header. Default: none. */
  origin?: string;
  /** Extra request headers. */
  headers?: Readonly<Record<string, string>>;
  /** Connect to this Unix socket instead of the URL's host and port (the URL still gives Host and path). */
  socketPath?: string;
  /** Extra TLS options for `wss:` (ca, rejectUnauthorized, …). */
  tls?: TlsConnectionOptions;
  /** Time allowed for connecting and the handshake, ms. Default 10 s. */
  handshakeTimeout?: number;
  /** Largest incoming message, bytes. Default 1 MiB. */
  maxMessageSize?: number;
  /** Largest response head, bytes. Default 8 KiB. */
  maxHeaderSize?: number;
  /** Wait for the server's close after the closing handshake, ms. Default 5 s. */
  closeTimeout?: number;
  /** Send buffer bound; past it the connection is dropped. Default 16 MiB. */
  maxBufferedAmount?: number;
  /** Offer permessage-deflate (RFC 7692): `true` for the defaults, an object to tune it, `false` not to. Default on. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
}

/** Client connections have their own sequence, apart from any server's. */
let lastClientId = 0;

/**
 * Opens a WebSocket client connection to a `ws:` or `wss:` URL. Resolves once the handshake succeeds;
 * rejects with a HandshakeError (carrying the HTTP status received, 0 if none) or the socket's error.
 */
export function connect<T = unknown>(
  url: string | URL,
  options: ClientOptions<T> = {},
): Promise<Connection<T>> {
  const target = typeof url === 'string' ? new URL(url) : url;
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:')
    return Promise.reject(new TypeError(`not a WebSocket URL: ${target.href}`));
  const secure = target.protocol === 'wss:';
  const port = Number(target.port || (secure ? 443 : 80));
  const hostname = target.hostname.replace(/^\[|\]$/g, '');
  const path = (target.pathname || '/') + target.search;
  const deflate = options.perMessageDeflate ?? true;
  const deflateOptions: PerMessageDeflateOptions | undefined =
    deflate === true ? {} : deflate === false ? undefined : deflate;
  if (deflateOptions) {
    try {
      MessageDeflate.validate(deflateOptions);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const { key, head } = clientRequest({
    host: target.host,
    path,
    protocols: options.protocols,
    origin: options.origin,
    headers: deflateOptions
      ? { 'Sec-WebSocket-Extensions': deflateOffer(deflateOptions), ...options.headers }
      : options.headers,
  });
  const maxHeaderSize = options.maxHeaderSize ?? DEFAULTS.maxHeaderSize;

  return new Promise((resolve, reject) => {
    let socket: Socket;
    if (secure) {
      socket = tlsConnect({
        ...(options.socketPath ? { path: options.socketPath } : { host: hostname, port }),
        servername: hostname,
        ...options.tls,
      });
      socket.once('secureConnect', () => socket.write(head));
    } else {
      socket = options.socketPath ? netConnect(options.socketPath) : netConnect({ host: hostname, port });
      socket.once('connect', () => socket.write(head));
    }
    socket.setNoDelay(true);
    let received: Buffer | undefined;
    const fail = (error: Error): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new HandshakeError('handshake timed out', 0)),
      options.handshakeTimeout ?? DEFAULTS.handshakeTimeout,
    );
    const onError = (error: Error): void => fail(error);
    const onClose = (): void => fail(new HandshakeError('connection closed during the handshake', 0));
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      const searchFrom = received ? received.length : 0;
      received = received ? Buffer.concat([received, chunk]) : chunk;
      const end = findHeadEnd(received, searchFrom);
      if (end === -1) {
        if (received.length > maxHeaderSize) fail(new HandshakeError('response head too large', 0));
        return;
      }
      let protocol: string | undefined;
      let deflateParams: DeflateParams | undefined;
      try {
        const response = parseResponseHead(received.subarray(0, end));
        let extensions: string;
        ({ protocol, extensions } = checkUpgradeResponse(
          response.status,
          response.headers,
          key,
          options.protocols,
          deflateOptions !== undefined,
        ));
        if (extensions !== '') deflateParams = checkDeflateResponse(extensions, deflateOptions);
      } catch (error) {
        fail(error as Error);
        return;
      }
      cleanup();
      socket.pause();
      const maxMessageSize = options.maxMessageSize ?? DEFAULTS.maxMessageSize;
      const conn = new Connection<T>({
        id: ++lastClientId,
        socket,
        role: 'client',
        request: {
          url: path,
          path: target.pathname || '/',
          query: target.search.slice(1),
          headers: {},
          remoteAddress: socket.remoteAddress ?? '',
          remotePort: socket.remotePort ?? 0,
        },
        protocol,
        handlers: options,
        limits: {
          maxMessageSize,
          maxBufferedAmount: options.maxBufferedAmount ?? DEFAULTS.maxBufferedAmount,
          closeTimeout: options.closeTimeout ?? DEFAULTS.closeTimeout,
        },
        deflate:
          deflateParams && new MessageDeflate(deflateParams, 'client', deflateOptions ?? {}, maxMessageSize),
      });
      options.open?.(conn);
      resolve(conn);
      conn.receive(received.subarray(end));
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}
