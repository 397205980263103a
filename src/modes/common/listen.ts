/**
 * Starts a server listening and turns the operating system's refusal (EADDRINUSE, EACCES, ENOTFOUND…)
 * into one line that names the flag and the fix: a start-up mistake is a usage error (exit 2), not a
 * crash with a raw errno.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from './usage-error.js';

/** The flag names of a mode (websocketd spells them --address and --unixsocket). */
export interface ListenFlags {
  port: string;
  host: string;
  path: string;
}

export const LISTEN_FLAGS: ListenFlags = { port: '--port', host: '--addr', path: '--unix-socket' };

export type ListenTarget = { path: string } | { port: number; host?: string };

/** `server.listen(target)`, with a failure explained as a UsageError. */
export async function listenOn<S extends { listen(where: ListenTarget): Promise<unknown> }>(
  server: S,
  target: ListenTarget,
  flags: ListenFlags = LISTEN_FLAGS,
): Promise<S> {
  try {
    await server.listen(target);
    return server;
  } catch (error) {
    throw new UsageError(listenFailure(error as NodeJS.ErrnoException, target, flags));
  }
}

/** The one-line explanation of why listening on `target` failed. */
export function listenFailure(
  error: NodeJS.ErrnoException,
  target: ListenTarget,
  flags: ListenFlags = LISTEN_FLAGS,
): string {
  const code = error.code ?? '';
  if ('path' in target) {
    const where = `${flags.path} ${target.path}`;
    const dir = dirname(target.path);
    // Node reports a missing directory as EACCES for a socket path: look before saying "permission"
    if ((code === 'ENOENT' || code === 'EACCES') && !existsSync(dir))
      return `${where}: directory ${dir} does not exist (create it or pick another ${flags.path})`;
    if (code === 'EACCES')
      return `${where}: permission denied (pick a directory you can write to for ${flags.path})`;
    if (code === 'EADDRINUSE')
      return `${where}: address already in use (another server is listening; pick another ${flags.path})`;
    if (code === 'ENAMETOOLONG' || code === 'EINVAL')
      return `${where}: path too long for a Unix socket (pick a shorter ${flags.path})`;
    return `${where}: cannot listen (${code || error.message})`;
  }
  const port = `${flags.port} ${target.port}`;
  const host = `${flags.host} ${target.host ?? ''}`;
  switch (code) {
    case 'EADDRINUSE':
      return `${port}: address already in use (another server is listening; pick another ${flags.port})`;
    case 'EACCES':
      return `${port}: permission denied (ports below 1024 need privileges; pick a port from 1024 up)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `${host}: no such address or host name (give an IP address such as 127.0.0.1 or ::1, or a known host name)`;
    case 'EADDRNOTAVAIL':
      return `${host}: not an address of this machine (pick one of its addresses, or leave out ${flags.host})`;
    case 'EAFNOSUPPORT':
      return `${host}: address family not supported here (try an IPv4 address)`;
    default:
      return `${target.host === undefined ? port : `${host} ${port}`}: cannot listen (${code || error.message})`;
  }
}
