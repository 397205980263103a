/**
 * gwsocket's access log, combined-log-like: `IP - - [time] "METHOD path PROTO" status bytes "referer"
 * "user-agent" elapsed-ms`. One line per handshake (101), per close (the close code, 1000-4999, in the status
 * field: never mistaken for a 3-digit HTTP status), per refused handshake and per plain HTTP request (their
 * status).
 * The bytes field is "-" (the WebSocket byte count is not tracked per connection).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Connection } from '../../server/connection.js';
import type { HandshakeFailure } from '../../server/server.js';
import { plainClientAddress } from './client-address.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function clfTime(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

function header(
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
  name: string,
): string {
  const value = headers?.[name];
  const text = Array.isArray(value) ? value.join(', ') : (value ?? '-');
  return text.replace(/["\\]/g, '\\$&');
}

function address(remote: string): string {
  return plainClientAddress(remote) || '-';
}

export class AccessLog {
  private readonly out: WriteStream;
  private readonly opened = new WeakMap<object, number>();

  constructor(path: string) {
    this.out = createWriteStream(path, { flags: 'a' });
    this.out.on('error', (error) => process.stderr.write(`wsbridge: access log ${path}: ${error.message}\n`));
  }

  /** Waits until the file is open (so a bad path is reported at start). */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.out.pending === false) resolve();
      this.out.once('ready', () => resolve());
      this.out.once('error', reject);
    });
  }

  private line(
    remote: string,
    method: string,
    url: string,
    status: number,
    headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
    elapsed: number,
  ): void {
    this.out.write(
      `${address(remote)} - - [${clfTime(new Date())}] "${method} ${url.replace(/["\\]/g, '\\$&')} HTTP/1.1" ${status} - ` +
        `"${header(headers, 'referer')}" "${header(headers, 'user-agent')}" ${elapsed}\n`,
    );
  }

  open(conn: Connection<unknown>): void {
    this.opened.set(conn, Date.now());
    this.line(conn.remoteAddress, 'GET', conn.request.url, 101, conn.headers, 0);
  }

  close(conn: Connection<unknown>, code: number): void {
    const since = this.opened.get(conn);
    this.line(
      conn.remoteAddress,
      'GET',
      conn.request.url,
      code,
      conn.headers,
      since === undefined ? 0 : Date.now() - since,
    );
  }

  refused(failure: HandshakeFailure): void {
    const request = failure.request;
    this.line(
      failure.remoteAddress,
      request?.method ?? '-',
      request?.url ?? '-',
      failure.status,
      request?.headers,
      0,
    );
  }

  request(req: IncomingMessage, status: number, elapsed: number): void {
    this.line(
      req.socket.remoteAddress ?? '',
      req.method ?? '-',
      req.url ?? '-',
      status,
      req.headers,
      elapsed,
    );
  }

  end(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
