/** websocketd's `--redirport`: a plain HTTP listener answering every request with a 301 to the server. */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { splitHostPort } from './host-port.js';

export interface RedirectOptions {
  /** The server redirected to speaks TLS (https). */
  tls: boolean;
  /** The server's port (left out of the Location when it is the scheme's default). */
  port: number;
  /** Where the redirecting listener listens. */
  redirectPort: number;
  host: string | undefined;
  /** Headers added to every answer (`--header`, `--header-http`). */
  headers?: readonly [string, string][];
}

/** Listens on `redirectPort`, answering each request with a 301 to the same host on the server's scheme and port. */
export function redirectServer(
  options: RedirectOptions,
  log: { info(line: string): void },
): Promise<HttpServer> {
  const scheme = options.tls ? 'https' : 'http';
  const portPart = options.port === (options.tls ? 443 : 80) ? '' : `:${options.port}`;
  const server = createHttpServer({ headersTimeout: 10_000, requestTimeout: 10_000 }, (req, res) => {
    const { name } = splitHostPort(req.headers.host ?? '', options.tls);
    const hostName = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
    for (const [header, value] of options.headers ?? []) res.appendHeader(header, value);
    res.statusCode = 301;
    res.setHeader('Location', `${scheme}://${hostName || 'localhost'}${portPart}${req.url ?? '/'}`);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.redirectPort, host: options.host }, () => {
      server.removeListener('error', reject);
      const where = server.address();
      const shown =
        typeof where === 'object' && where
          ? `${where.family === 'IPv6' ? `[${where.address}]` : where.address}:${where.port}`
          : '?';
      log.info(`redirecting http://${shown}/ to ${scheme}://…${portPart}/`);
      resolve(server);
    });
  });
}
