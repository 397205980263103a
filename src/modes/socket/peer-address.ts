/**
 * Peer addresses in websocksy's schemes: `tcp://HOST:PORT`, `udp://HOST:PORT`, `unix://PATH`,
 * `unix-dgram://PATH`, plus `tcps://HOST:PORT` (TLS to the peer). IPv6 literals go in brackets
 * (`tcp://[::1]:5900`). Without a scheme, `HOST:PORT` is TCP (as websocksy assumes, and as websockify's
 * targets are written).
 */

export interface HostAddress {
  scheme: 'tcp' | 'tcps' | 'udp';
  host: string;
  port: number;
}
export interface PathAddress {
  scheme: 'unix' | 'unix-dgram';
  path: string;
}
export type PeerAddress = HostAddress | PathAddress;

export class PeerAddressError extends Error {
  override name = 'PeerAddressError';
}

const SCHEMES = ['tcp', 'tcps', 'udp', 'unix', 'unix-dgram'] as const;

/** Parses a peer address; `defaultPort` fills in a missing port (websocksy's `port` setting). */
export function parsePeerAddress(text: string, defaultPort?: number): PeerAddress {
  const value = text.trim();
  const sep = value.indexOf('://');
  const scheme = sep === -1 ? 'tcp' : value.slice(0, sep).toLowerCase();
  const rest = sep === -1 ? value : value.slice(sep + 3);
  if (!(SCHEMES as readonly string[]).includes(scheme))
    throw new PeerAddressError(`peer '${text}': unknown scheme '${scheme}://' (${SCHEMES.join(', ')})`);
  if (scheme === 'unix' || scheme === 'unix-dgram') {
    if (rest === '') throw new PeerAddressError(`peer '${text}': no socket path`);
    if (rest.includes('\0')) throw new PeerAddressError(`peer '${text}': NUL in the socket path`);
    return { scheme, path: rest };
  }
  let host: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1) throw new PeerAddressError(`peer '${text}': unclosed '[' around an IPv6 address`);
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':'))
      throw new PeerAddressError(`peer '${text}': unexpected '${after}' after the IPv6 address`);
    portText = after === '' ? undefined : after.slice(1);
    if (!host.includes(':')) throw new PeerAddressError(`peer '${text}': brackets are for IPv6 addresses`);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon !== -1 && rest.indexOf(':') !== colon)
      throw new PeerAddressError(`peer '${text}': an IPv6 address must be in brackets, e.g. [::1]:5900`);
    host = colon === -1 ? rest : rest.slice(0, colon);
    portText = colon === -1 ? undefined : rest.slice(colon + 1);
  }
  if (host === '' || /[\s/?#@]/.test(host)) throw new PeerAddressError(`peer '${text}': bad host '${host}'`);
  let port: number;
  if (portText === undefined || portText === '') {
    if (defaultPort === undefined) throw new PeerAddressError(`peer '${text}': no port`);
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
      throw new PeerAddressError(`peer '${text}': bad port '${portText}' (1-65535)`);
    port = Number(portText);
  }
  return { scheme: scheme as 'tcp' | 'tcps' | 'udp', host, port };
}

/** The address as a URL again (for logs). */
export function formatPeer(address: PeerAddress): string {
  if ('path' in address) return `${address.scheme}://${address.path}`;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.scheme}://${host}:${address.port}`;
}
