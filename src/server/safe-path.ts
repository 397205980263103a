/**
 * Turning a request path into a file inside a directory, safely: percent-decoding as Go's net/url does,
 * and confinement by real path, so that neither `..` nor a symbolic link leads out of the directory.
 * Shared by the static file server, the CGI runner and the script router.
 */
import { realpath } from 'node:fs/promises';
import { sep } from 'node:path';

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * Percent-decodes the path part of a request target (`%20` → space; `+` stays `+`). Bytes that do not
 * form valid UTF-8 become U+FFFD. Returns undefined for a malformed escape (`%zz`, a lone `%`), which Go's
 * HTTP server refuses with 400.
 */
export function decodeUrlPath(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  const bytes = Buffer.from(raw, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte !== 37) {
      out[n++] = byte;
      continue;
    }
    const high = i + 2 < bytes.length ? hexValue(bytes[i + 1]) : -1;
    const low = high === -1 ? -1 : hexValue(bytes[i + 2]);
    if (low === -1) return undefined;
    out[n++] = high * 16 + low;
    i += 2;
  }
  return out.subarray(0, n).toString('utf8');
}

/**
 * The path of a request target: origin form (`/a/b?q`) as is; absolute form (`http://host/a/b?q`) without
 * its scheme and authority; always starting with `/`.
 */
export function targetPath(target: string): string {
  let path = target;
  const query = path.indexOf('?');
  if (query !== -1) path = path.slice(0, query);
  if (!path.startsWith('/')) {
    const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*/.exec(path);
    if (authority) path = path.slice(authority[0].length);
  }
  return path.startsWith('/') ? path : `/${path}`;
}

/** True when `child` is `root` itself or lies below it (both real, absolute paths). */
export function isInside(root: string, child: string): boolean {
  if (child === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return child.startsWith(prefix);
}

/**
 * The real path of `candidate` if it exists and lies inside `realRoot` (itself a real path), following
 * every symbolic link on the way; undefined otherwise (missing, or a link leading out).
 */
export async function realPathInside(realRoot: string, candidate: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return undefined;
  }
  return isInside(realRoot, real) ? real : undefined;
}
