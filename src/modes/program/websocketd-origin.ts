/**
 * websocketd's origin rules (`--origin`, `--sameorigin`), a pure function: a missing Origin (or `null`
 * when no list is given) counts as `file:`, and so is refused whenever a rule is set; list entries are
 * `host[:port]` (no port: any port) or `scheme://host[:port]` (the scheme must match too); `--sameorigin`
 * compares host and port with the request's `Host`, default ports 80/443 filled in.
 */
import { splitHostPort } from '../common/host-port.js';

export interface OriginRules {
  /** `--origin` entries; empty: any origin. */
  origins: readonly string[];
  /** `--sameorigin`. */
  sameOrigin: boolean;
  /** The server listens with TLS (the request's default port is then 443). */
  tls: boolean;
}

/** Scheme and host[:port] of an origin, as Go's url.ParseRequestURI reads it; undefined if unparseable. */
function parseOrigin(origin: string): { scheme: string; host: string } | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(origin);
  if (!scheme) return origin.startsWith('/') ? { scheme: '', host: '' } : undefined;
  const rest = origin.slice(scheme[0].length);
  if (!rest.startsWith('//')) return { scheme: scheme[1].toLowerCase(), host: '' };
  const authority = /^\/\/([^/?#]*)/.exec(rest)![1];
  const host = authority.slice(authority.lastIndexOf('@') + 1);
  return { scheme: scheme[1].toLowerCase(), host };
}

/**
 * Why the handshake's origin is refused, or undefined when it is allowed.
 * @param origin - the `Origin` header, if any
 * @param host - the `Host` header
 */
export function originRefusal(
  origin: string | undefined,
  host: string,
  rules: OriginRules,
): string | undefined {
  let value = origin ?? '';
  if (value === '' || (value === 'null' && rules.origins.length === 0)) value = 'file:';
  const parsed = parseOrigin(value);
  if (!parsed) return `cannot parse origin '${value}'`;
  if (!rules.sameOrigin && rules.origins.length === 0) return undefined;
  const from = splitHostPort(parsed.host, parsed.scheme === 'https');
  const fromName = from.name.toLowerCase();
  if (rules.sameOrigin) {
    const local = splitHostPort(host, rules.tls);
    if (fromName !== local.name.toLowerCase() || from.port !== local.port)
      return `origin '${value}' is not the same as host '${host}'`;
  }
  if (rules.origins.length > 0) {
    const match = rules.origins.some((entry) => {
      let allowed = entry;
      const mark = allowed.indexOf('://');
      if (mark > 0) {
        if (allowed.slice(0, mark).toLowerCase() !== parsed.scheme) return false;
        allowed = allowed.slice(mark + 3);
      }
      const allow = splitHostPort(allowed, false);
      if (allow.name === '' && allow.port === '') return false;
      if (allow.port === '80' && !allowed.endsWith(':80')) return allow.name.toLowerCase() === fromName;
      return allow.name.toLowerCase() === fromName && allow.port === from.port;
    });
    if (!match) return `origin '${value}' is not in the --origin list`;
  }
  return undefined;
}
