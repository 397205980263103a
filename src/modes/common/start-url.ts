/** The URL a start-up line shows: one a person can click, not `http://[::]:7890/`. */
import type { Server } from '../../server/server.js';

/** `scheme://host:port/`: localhost for a wildcard address, IPv6 in brackets, a socket path as `scheme+unix:`. */
export function startUrl(server: Pick<Server, 'address'>, scheme: string): string {
  const where = server.address();
  if (typeof where === 'string') return `${scheme}+unix:${where}`;
  if (!where) return `${scheme}://?/`;
  const wildcard = where.address === '::' || where.address === '0.0.0.0';
  const host = wildcard ? 'localhost' : where.family === 'IPv6' ? `[${where.address}]` : where.address;
  return `${scheme}://${host}:${where.port}/`;
}
