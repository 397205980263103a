/** Plain HTTP for echo and pipe endpoints: the console page at the mount point, 404 elsewhere. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CONSOLE_PAGE } from './console-page.js';
import { targetPath } from '../../server/safe-path.js';
import { withinMount, type Mount } from '../../routes/endpoint.js';

export function consolePageRequest(req: IncomingMessage, res: ServerResponse, mount: Mount): void {
  const path = targetPath(withinMount(req.url ?? '/', mount));
  if ((req.method === 'GET' || req.method === 'HEAD') && path === '/') {
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(CONSOLE_PAGE),
    });
    res.end(req.method === 'HEAD' ? undefined : CONSOLE_PAGE);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end('not found\n');
}
