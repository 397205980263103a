/** Close frame payloads: status codes and reasons (RFC 6455 §5.5.1, §7.4). */
import { isUtf8 } from 'node:buffer';
import { CloseCode, InvalidStateError, ProtocolError } from './errors.js';

/** Longest close reason in UTF-8 bytes: 125 bytes of control payload minus the 2-byte code. */
export const MAX_CLOSE_REASON = 123;

/**
 * Codes a peer may put on the wire: 1000–1014 except the reserved 1004, 1005 and 1006 (1012–1014 are
 * IANA-registered), and 3000–4999 for libraries and applications. 1015 is reserved too.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

/** Decoded close payload. `code` is 1005 when the frame carried none. */
export interface ClosePayload {
  code: number;
  reason: string;
}

/** Parses a received Close payload; a malformed one is a ProtocolError (1002, or 1007 for a bad reason). */
export function parseClosePayload(payload: Buffer): ClosePayload {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: '' };
  if (payload.length === 1)
    throw new ProtocolError('close frame with a 1-byte payload', CloseCode.ProtocolError);
  const code = payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) throw new ProtocolError(`invalid close code ${code}`, CloseCode.ProtocolError);
  const reason = payload.subarray(2);
  if (!isUtf8(reason)) throw new ProtocolError('close reason is not valid UTF-8', CloseCode.InvalidPayload);
  return { code, reason: reason.toString('utf8') };
}

/**
 * Encodes a Close payload to send. `code` undefined (or 1005) sends an empty payload. Local misuse
 * (a reserved code, a reason over 123 bytes) throws InvalidStateError rather than putting it on the wire.
 */
export function encodeClosePayload(code?: number, reason = ''): Buffer {
  if (code === undefined || code === CloseCode.NoStatus) {
    if (reason !== '') throw new InvalidStateError('a close reason needs a close code');
    return Buffer.alloc(0);
  }
  if (!isValidCloseCode(code)) throw new InvalidStateError(`close code ${code} may not be sent`);
  const length = Buffer.byteLength(reason);
  if (length > MAX_CLOSE_REASON) throw new InvalidStateError(`close reason is ${length} bytes (max 123)`);
  const payload = Buffer.allocUnsafe(2 + length);
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}

/** Shortens a reason to at most 123 UTF-8 bytes without cutting a character in two. */
export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > MAX_CLOSE_REASON) break;
    out += ch;
    bytes += size;
  }
  return out;
}
