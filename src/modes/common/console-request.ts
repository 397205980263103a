/**
 * Plain HTTP for echo and pipe endpoints: the console page at the mount point (and, with `?why`, the last
 * refused handshake of this client there), 204 for /favicon.ico, 404 elsewhere.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { plainClientAddress } from './client-address.js';
import { consolePage } from './console-page.js';
import type { RecentRefusals } from './refusals.js';
import { targetPath } from '../../server/safe-path.js';
import { withinMount, type Mount } from '../../routes/endpoint.js';

/** Answers `GET path?why` with the client's last refusal there (JSON), or 204; false when not a `?why`. */
export function answerWhy(
  req: IncomingMessage,
  res: ServerResponse,
  refusals: RecentRefusals | undefined,
): boolean {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method !== 'GET' || !url.searchParams.has('why')) return false;
  const address = plainClientAddress(req.socket.remoteAddress ?? '') || 'unix-socket';
  const found = refusals?.find(address, url.pathname);
  res.setHeader('Cache-Control', 'no-store');
  if (!found) {
    res.writeHead(204).end();
    return true;
  }
  const body = JSON.stringify(found);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
  return true;
}

/** The request handler of a console-page endpoint; `mode` is what the page says it talks to. */
export function consolePageRequest(
  mode: string,
  refusals?: RecentRefusals,
): (req: IncomingMessage, res: ServerResponse, mount: Mount) => void {
  const page = consolePage({ title: `wsbridge ${mode}`, mode: `${mode} mode`, autoReconnect: true });
  return (req, res, mount) => {
    const path = targetPath(withinMount(req.url ?? '/', mount));
    if (path === '/' && answerWhy(req, res, refusals)) return;
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/') {
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Length': Buffer.byteLength(page),
      });
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  };
}
