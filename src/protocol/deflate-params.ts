/**
 * permessage-deflate negotiation (RFC 7692 §5–7), both roles, as pure functions over header values.
 * The compression itself lives in server/ (Node has no synchronous streaming zlib with context takeover).
 */
import { HandshakeError } from './errors.js';

/** The negotiated parameters, as both sides will use them. */
export interface DeflateParams {
  /** The server resets its compression context after each message. */
  serverNoContextTakeover: boolean;
  /** The client resets its compression context after each message. */
  clientNoContextTakeover: boolean;
  /** LZ77 window of the server's compressor (8–15). */
  serverMaxWindowBits: number;
  /** LZ77 window of the client's compressor (8–15). */
  clientMaxWindowBits: number;
}

/** What this side wants; every field optional, with the defaults of `DEFLATE_DEFAULTS`. */
export interface DeflateOptions {
  /** Ask for (client) or impose (server) a fresh server context per message. Default false. */
  serverNoContextTakeover?: boolean;
  /** Ask for (client) or impose (server) a fresh client context per message. Default false. */
  clientNoContextTakeover?: boolean;
  /** Largest server window to use or ask for, 9–15. Default 15. */
  serverMaxWindowBits?: number;
  /** Largest client window to impose (server) or ask for (client), 9–15. Default 15. */
  clientMaxWindowBits?: number;
}

/** One extension offer: a name and its parameters (a parameter without value maps to `true`). */
export interface ExtensionOffer {
  name: string;
  params: [string, string | true][];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1): `name; param; param=value, name2 …`.
 * Quoted values are unquoted. A syntax error throws HandshakeError 400.
 */
export function parseExtensions(header: string): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  if (header.trim() === '') return offers;
  for (const element of splitOutsideQuotes(header, ',')) {
    const parts = splitOutsideQuotes(element, ';').map((p) => p.trim());
    const name = parts[0];
    if (!TOKEN.test(name)) throw new HandshakeError(`malformed extension name '${name}'`, 400);
    const params: [string, string | true][] = [];
    for (const part of parts.slice(1)) {
      const eq = part.indexOf('=');
      const key = (eq === -1 ? part : part.slice(0, eq)).trim();
      if (!TOKEN.test(key)) throw new HandshakeError(`malformed extension parameter '${part}'`, 400);
      if (eq === -1) {
        params.push([key, true]);
        continue;
      }
      let value = part.slice(eq + 1).trim();
      if (value.startsWith('"')) {
        if (value.length < 2 || !value.endsWith('"'))
          throw new HandshakeError('unterminated quoted value', 400);
        value = value.slice(1, -1);
      }
      if (!TOKEN.test(value)) throw new HandshakeError(`malformed extension parameter value '${part}'`, 400);
      params.push([key, value]);
    }
    offers.push({ name, params });
  }
  return offers;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === separator && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

function windowBits(value: string | true): number | undefined {
  if (value === true || !/^(8|9|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

/** Why an offer was declined, or the parsed offer. */
type OfferCheck =
  | {
      ok: true;
      serverNoContext: boolean;
      clientNoContext: boolean;
      serverBits?: number;
      clientBits?: number | true;
    }
  | { ok: false; reason: string };

function checkOffer(params: [string, string | true][]): OfferCheck {
  const seen = new Set<string>();
  const result: OfferCheck = { ok: true, serverNoContext: false, clientNoContext: false };
  for (const [key, value] of params) {
    if (seen.has(key)) return { ok: false, reason: `duplicate parameter ${key}` };
    seen.add(key);
    switch (key) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) return { ok: false, reason: `${key} takes no value` };
        if (key === 'server_no_context_takeover') result.serverNoContext = true;
        else result.clientNoContext = true;
        break;
      case 'server_max_window_bits': {
        const bits = windowBits(value);
        if (bits === undefined)
          return { ok: false, reason: 'server_max_window_bits needs a value of 8 to 15' };
        result.serverBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        if (value === true) result.clientBits = true;
        else {
          const bits = windowBits(value);
          if (bits === undefined) return { ok: false, reason: 'client_max_window_bits must be 8 to 15' };
          result.clientBits = bits;
        }
        break;
      }
      default:
        return { ok: false, reason: `unknown parameter ${key}` };
    }
  }
  return result;
}

/**
 * Server side: picks the first acceptable permessage-deflate offer and builds the response. Offers with
 * unknown, duplicate or invalid parameters are declined (RFC 7692 §5), as are ones this side cannot
 * honour (a server window of 8 bits, which zlib cannot produce). Returns undefined when none is accepted.
 */
export function acceptDeflateOffer(
  header: string,
  options: DeflateOptions = {},
): { params: DeflateParams; response: string } | undefined {
  let offers: ExtensionOffer[];
  try {
    offers = parseExtensions(header);
  } catch {
    return undefined;
  }
  const ourServerBits = options.serverMaxWindowBits ?? 15;
  const ourClientBits = options.clientMaxWindowBits ?? 15;
  for (const offer of offers) {
    if (offer.name !== 'permessage-deflate') continue;
    const check = checkOffer(offer.params);
    if (!check.ok) continue;
    const serverBits = Math.min(ourServerBits, check.serverBits ?? 15);
    if (serverBits < 9) continue;
    const serverNoContext = check.serverNoContext || (options.serverNoContextTakeover ?? false);
    const clientNoContext = check.clientNoContext || (options.clientNoContextTakeover ?? false);
    let response = 'permessage-deflate';
    if (serverNoContext) response += '; server_no_context_takeover';
    if (clientNoContext) response += '; client_no_context_takeover';
    if (check.serverBits !== undefined || serverBits < 15)
      response += `; server_max_window_bits=${serverBits}`;
    let clientBits = 15;
    if (check.clientBits !== undefined) {
      clientBits = Math.min(ourClientBits, check.clientBits === true ? 15 : check.clientBits);
      if (clientBits < 15 || check.clientBits !== true) response += `; client_max_window_bits=${clientBits}`;
    }
    return {
      params: {
        serverNoContextTakeover: serverNoContext,
        clientNoContextTakeover: clientNoContext,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      },
      response,
    };
  }
  return undefined;
}

/** Client side: the offer to send. */
export function deflateOffer(options: DeflateOptions = {}): string {
  let offer = 'permessage-deflate';
  if (options.serverNoContextTakeover) offer += '; server_no_context_takeover';
  if (options.clientNoContextTakeover) offer += '; client_no_context_takeover';
  if (options.serverMaxWindowBits !== undefined && options.serverMaxWindowBits < 15)
    offer += `; server_max_window_bits=${options.serverMaxWindowBits}`;
  offer +=
    options.clientMaxWindowBits !== undefined && options.clientMaxWindowBits < 15
      ? `; client_max_window_bits=${options.clientMaxWindowBits}`
      : '; client_max_window_bits';
  return offer;
}

/**
 * Client side: checks the server's answer against what was offered (RFC 7692 §5.1, §7.1). Anything the
 * offer did not allow, or an unknown, duplicate or invalid parameter, fails the handshake.
 */
export function checkDeflateResponse(
  header: string,
  options: DeflateOptions = {},
): DeflateParams | undefined {
  const offers = parseExtensions(header);
  if (offers.length === 0) return undefined;
  if (offers.length > 1 || offers[0].name !== 'permessage-deflate')
    throw new HandshakeError(`server answered an extension that was not offered: ${header}`, 101);
  const check = checkOffer(offers[0].params);
  if (!check.ok) throw new HandshakeError(`invalid permessage-deflate response: ${check.reason}`, 101);
  if (check.clientBits === true)
    throw new HandshakeError('client_max_window_bits in a response needs a value', 101);
  const askedServerBits = options.serverMaxWindowBits ?? 15;
  if (check.serverBits !== undefined && check.serverBits > askedServerBits)
    throw new HandshakeError('server_max_window_bits above what was offered', 101);
  if (options.serverNoContextTakeover && !check.serverNoContext)
    throw new HandshakeError('server_no_context_takeover was required but not answered', 101);
  const askedClientBits = options.clientMaxWindowBits ?? 15;
  if (typeof check.clientBits === 'number' && check.clientBits > askedClientBits)
    throw new HandshakeError('client_max_window_bits above what was offered', 101);
  return {
    serverNoContextTakeover: check.serverNoContext,
    clientNoContextTakeover: check.clientNoContext || (options.clientNoContextTakeover ?? false),
    serverMaxWindowBits: check.serverBits ?? askedServerBits,
    clientMaxWindowBits: typeof check.clientBits === 'number' ? check.clientBits : askedClientBits,
  };
}
