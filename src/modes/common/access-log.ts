/**
 * gwsocket's access log: one line per handshake (101), close (200) and refused handshake (its status),
 * combined-log-like: `IP - - [time] "METHOD path PROTO" status bytes "referer" "user-agent" elapsed-ms`.
 * The bytes field is "-" (the WebSocket byte count is not tracked per connection).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Connection } from '../../server/connection.js';
import type { HandshakeFailure } from '../../server/server.js';

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
  return (remote.startsWith('::ffff:') ? remote.slice(7) : remote) || '-';
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

  close(conn: Connection<unknown>): void {
    const since = this.opened.get(conn);
    this.line(
      conn.remoteAddress,
      'GET',
      conn.request.url,
      200,
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

  end(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}
