/**
 * Static files for plain HTTP requests, in the manner of Go's `http.FileServer` (websocketd's `--staticdir`):
 * `index.html` for a directory, else a listing; a directory without its trailing slash is redirected;
 * `Last-Modified`/`If-Modified-Since`, a single byte `Range`; HEAD. The path is cleaned lexically (so `..`
 * cannot climb out) and every file is checked by its real path, so a symbolic link cannot lead out either.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, posix } from 'node:path';
import { pipeline } from 'node:stream';
import { decodeUrlPath, realPathInside, targetPath } from './safe-path.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.xml': 'text/xml; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/vnd.microsoft.icon',
  '.avif': 'image/avif',
  '.wasm': 'application/wasm',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.gz': 'application/gzip',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.mp3': 'audio/mpeg',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.wav': 'audio/wav',
};

/** Content type by extension; unknown extensions: text if the first bytes look like UTF-8 text. */
export function contentType(file: string, firstBytes?: Buffer): string {
  const known = TYPES[extname(file).toLowerCase()];
  if (known) return known;
  if (!firstBytes) return 'application/octet-stream';
  const sample = firstBytes.toString('utf8');
  if (/^\s*<(!doctype html|html|head|body)/i.test(sample)) return 'text/html; charset=utf-8';
  // eslint-disable-next-line no-control-regex
  if (!/[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]|\ufffd/.test(sample)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function notFound(res: ServerResponse): void {
  res.statusCode = 404;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end('404 page not found\n');
}

function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 301;
  res.setHeader('Location', location);
  res.end();
}

async function readHead(file: string): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    createReadStream(file, { start: 0, end: 511 })
      .on('data', (chunk) => chunks.push(chunk as Buffer))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', () => resolve(Buffer.alloc(0)));
  });
}

/** Parses `bytes=a-b` for a file of `size` bytes: a range, 'unsatisfiable', or undefined (serve it whole). */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined; // several ranges or malformed: whole file
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

async function serveFile(
  req: IncomingMessage,
  res: ServerResponse,
  file: string,
  size: number,
  mtime: Date,
): Promise<void> {
  const modified = new Date(Math.floor(mtime.getTime() / 1000) * 1000);
  const since = req.headers['if-modified-since'];
  if (since && !req.headers['if-none-match']) {
    const when = Date.parse(since);
    if (!Number.isNaN(when) && modified.getTime() <= when) {
      res.statusCode = 304;
      res.setHeader('Last-Modified', modified.toUTCString());
      res.end();
      return;
    }
  }
  res.setHeader(
    'Content-Type',
    contentType(file, TYPES[extname(file).toLowerCase()] ? undefined : await readHead(file)),
  );
  res.setHeader('Last-Modified', modified.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  const range = parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    res.statusCode = 416;
    res.setHeader('Content-Range', `bytes */${size}`);
    res.end();
    return;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  if (range) {
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  res.setHeader('Content-Length', Math.max(0, end - start + 1));
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  await new Promise<void>((resolve) => {
    pipeline(createReadStream(file, { start, end }), res, () => resolve());
  });
}

async function listDirectory(req: IncomingMessage, res: ServerResponse, dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort();
  let body = '<!doctype html>\n<meta name="viewport" content="width=device-width">\n<pre>\n';
  for (const name of names)
    body += `<a href="${escapeHtml(encodeURIComponent(name).replace(/%2F/g, '/'))}">${escapeHtml(name)}</a>\n`;
  body += '</pre>\n';
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A request handler serving the files under `root` (whose real path is `realRoot`). Only GET and HEAD;
 * anything else is 405. `url` is the request target within the mount point (default: `req.url`).
 */
export function createStaticHandler(
  realRoot: string,
): (req: IncomingMessage, res: ServerResponse, url?: string) => Promise<void> {
  return async (req, res, url = req.url ?? '/') => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end('405 method not allowed\n');
      return;
    }
    const urlPath = targetPath(url);
    const decoded = decodeUrlPath(urlPath);
    if (decoded === undefined || decoded.includes('\0')) {
      res.statusCode = 400;
      res.end('400 bad request\n');
      return;
    }
    const clean = posix.normalize(posix.join('/', decoded)); // lexical: no `..` above the root
    if (clean.endsWith('/index.html')) {
      redirect(res, './');
      return;
    }
    const real = await realPathInside(realRoot, join(realRoot, clean));
    if (!real) return notFound(res);
    const info = await stat(real).catch(() => undefined);
    if (!info) return notFound(res);
    if (info.isDirectory()) {
      if (!decoded.endsWith('/')) {
        redirect(res, `${posix.basename(urlPath)}/${url.includes('?') ? url.slice(url.indexOf('?')) : ''}`);
        return;
      }
      const index = await realPathInside(realRoot, join(real, 'index.html'));
      const indexInfo = index ? await stat(index).catch(() => undefined) : undefined;
      if (index && indexInfo?.isFile()) {
        await serveFile(req, res, index, indexInfo.size, indexInfo.mtime);
        return;
      }
      await listDirectory(req, res, real).catch(() => notFound(res));
      return;
    }
    if (!info.isFile()) return notFound(res);
    if (decoded.endsWith('/')) {
      redirect(res, `../${posix.basename(clean)}`);
      return;
    }
    await serveFile(req, res, real, info.size, info.mtime);
  };
}
