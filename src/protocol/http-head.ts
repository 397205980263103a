/**
 * A strict, minimal parser for the head of an HTTP/1.1 request or response: enough for an opening
 * handshake, with no body handling. Header names are lower-cased; repeated headers are joined with ", "
 * (as node:http does), so `Sec-WebSocket-Protocol` sent twice reads as one list.
 */
import { HandshakeError } from './errors.js';

/** Header map with lower-case names. */
export type HeaderMap = Record<string, string>;

/** A parsed request line and headers. */
export interface RequestHead {
  method: string;
  /** The request target as sent (path and query). */
  url: string;
  /** "1.1", "1.0", … */
  httpVersion: string;
  headers: HeaderMap;
  /** The head as read (latin1), from which `parseHeaderText` gives `headers` again. */
  text: string;
}

/** A parsed status line and headers. */
export interface ResponseHead {
  httpVersion: string;
  status: number;
  statusText: string;
  headers: HeaderMap;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/(\d\.\d)$/;
const STATUS_LINE = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/;

/** Index just past the blank line ending a head in `data`, searching from `from`, or -1. */
export function findHeadEnd(data: Buffer, from = 0): number {
  const at = data.indexOf(HEAD_END, Math.max(0, from - 3));
  return at === -1 ? -1 : at + 4;
}

function parseHeaderLines(lines: string[]): HeaderMap {
  const headers: HeaderMap = Object.create(null);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HandshakeError('malformed header line', 400);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HandshakeError('malformed header name', 400);
    const value = line.slice(colon + 1).trim();
    const key = name.toLowerCase();
    const prior = headers[key];
    headers[key] = prior === undefined ? value : `${prior}, ${value}`;
  }
  return headers;
}

/** Parses a request head (the bytes up to and including the blank line). Malformed input: HandshakeError 400. */
export function parseRequestHead(head: Buffer): RequestHead {
  const text = head.toString('latin1');
  const lines = text.split('\r\n');
  const match = REQUEST_LINE.exec(lines[0]);
  if (!match) throw new HandshakeError('malformed request line', 400);
  return { method: match[1], url: match[2], httpVersion: match[3], headers: parseHeaderLines(lines), text };
}

/** The headers of a request head's `text` (one already accepted by `parseRequestHead`). */
export function parseHeaderText(text: string): HeaderMap {
  return parseHeaderLines(text.split('\r\n'));
}

/** Parses a response head. Malformed input: HandshakeError with status 0 (nothing valid was received). */
export function parseResponseHead(head: Buffer): ResponseHead {
  const lines = head.toString('latin1').split('\r\n');
  const match = STATUS_LINE.exec(lines[0]);
  if (!match) throw new HandshakeError('malformed status line', 0);
  let headers: HeaderMap;
  try {
    headers = parseHeaderLines(lines);
  } catch {
    throw new HandshakeError('malformed response header', 0);
  }
  return { httpVersion: match[1], status: Number(match[2]), statusText: match[3] ?? '', headers };
}

/** Splits a comma-separated header value into trimmed, non-empty elements. */
export function headerList(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const item = part.trim();
    if (item !== '') out.push(item);
  }
  return out;
}

/** True when the comma-separated `value` contains `token` (ASCII case-insensitive). */
export function hasToken(value: string | undefined, token: string): boolean {
  if (!value) return false;
  for (const part of value.split(',')) if (part.trim().toLowerCase() === token) return true;
  return false;
}

/** True for a valid HTTP token (RFC 7230 §3.2.6): subprotocol names must be tokens. */
export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

/** Throws when a header name is not a token or its value could split the head (CR, LF, NUL). */
export function assertSafeHeader(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
  if (/[\r\n\0]/.test(value)) throw new TypeError(`header ${name} has a line break or NUL in its value`);
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** A complete, closing HTTP/1.1 response with a short plain-text body. */
export function errorResponse(
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): string {
  const body = `${message}\n`;
  let head =
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n` +
    'Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n`;
  for (const name of Object.keys(headers)) {
    // An error answer must still go out: headers that could split the head are left out, not sent.
    if (isToken(name) && !/[\r\n\0]/.test(headers[name])) head += `${name}: ${headers[name]}\r\n`;
  }
  return `${head}\r\n${body}`;
}
