/**
 * Typed errors. Remote faults carry the close code (or HTTP status) they map to; local misuse is a
 * separate type so callers can tell "the peer broke the protocol" from "this program called send() too late".
 */

/** Close codes of RFC 6455 §7.4.1 and the IANA registry. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: means "the Close frame carried no code". Never sent on the wire. */
  NoStatus: 1005,
  /** Reserved: means "the connection dropped without a Close frame". Never sent on the wire. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: TLS handshake failure. Never sent on the wire. */
  TlsHandshake: 1015,
} as const;

/** Base class of every error wsbridge throws or reports. */
export class WebSocketError extends Error {
  override name = 'WebSocketError';
}

/** The peer broke RFC 6455; the connection is failed with `closeCode`. */
export class ProtocolError extends WebSocketError {
  override name = 'ProtocolError';
  constructor(
    message: string,
    /** The close code sent to the peer (1002, 1007, 1009, …). */
    readonly closeCode: number,
  ) {
    super(message);
  }
}

/** An opening handshake was refused; `status` is the HTTP status answered (or received, on the client). */
export class HandshakeError extends WebSocketError {
  override name = 'HandshakeError';
  constructor(
    message: string,
    /** HTTP status: 400, 403, 426, 503, … */
    readonly status: number,
    /** Extra response headers to send with the refusal (e.g. `Sec-WebSocket-Version` with 426). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Local misuse: an operation that the connection's state does not allow (send after close, bad close code). */
export class InvalidStateError extends WebSocketError {
  override name = 'InvalidStateError';
}
