/**
 * Peer selection (websocksy's backends, websockify's token plugins): a function from the request to the
 * peer, framing and subprotocol to use, or to a refusal with an HTTP status.
 */

/** What a backend sees of the request. Header names are lower-case. */
export interface PeerRequest {
  /** The request target, e.g. `/vnc?token=abc`. */
  url: string;
  /** The path, e.g. `/vnc`. */
  path: string;
  /** Query parameters (the first value of each name). */
  query: Record<string, string>;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  cookies: Record<string, string>;
  /** The subprotocols the client offered, in its order. */
  protocols: readonly string[];
  remoteAddress: string;
  remotePort: number;
}

/** A backend's answer: where to connect, and how. */
export interface PeerChoice {
  /** `tcp://host:port`, `udp://…`, `unix://path`, `tcps://…` (or `host:port` for TCP). */
  peer: string;
  /** websocksy framing name (default: the server's setting, else `auto`). */
  framing?: string;
  framingConfig?: string;
  /** Subprotocol to answer with (one the client offered); `*` = the client's first; omitted = the server's setting. */
  protocol?: string;
}

/** A backend's refusal: answered with `status` (4xx/5xx) and `message`. */
export interface PeerRefusal {
  status: number;
  message?: string;
}

export type BackendResult = PeerChoice | PeerRefusal | null | undefined;
export type Backend = (request: PeerRequest) => BackendResult | Promise<BackendResult>;

export function isRefusal(result: PeerChoice | PeerRefusal): result is PeerRefusal {
  return typeof (result as PeerRefusal).status === 'number' && (result as PeerChoice).peer === undefined;
}

/** Parses a Cookie header (RFC 6265 pairs; the first of a repeated name wins). */
export function parseCookies(header: string | string[] | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  const text = Array.isArray(header) ? header.join('; ') : (header ?? '');
  for (const pair of text.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !Object.hasOwn(cookies, name)) {
      try {
        cookies[name] = decodeURIComponent(value);
      } catch {
        cookies[name] = value;
      }
    }
  }
  return cookies;
}

export function parseQuery(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(query)) if (!Object.hasOwn(out, key)) out[key] = value;
  return out;
}

/**
 * The subprotocol to answer: `configured` matched case-insensitively against the offer (the client's
 * spelling is answered), `*` for the first offered; undefined when nothing matches (websocksy answers
 * with none).
 */
export function selectProtocol(
  configured: string | undefined,
  offered: readonly string[],
): string | undefined {
  if (configured === undefined || configured === '' || offered.length === 0) return undefined;
  if (configured === '*') return offered[0];
  const want = configured.toLowerCase();
  return offered.find((p) => p.toLowerCase() === want);
}
