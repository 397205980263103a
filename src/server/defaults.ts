/** Defaults of every server limit, in one place (the README's table is made from these). */
export const DEFAULTS = {
  maxMessageSize: 1024 * 1024,
  maxHeaderSize: 8 * 1024,
  handshakeTimeout: 10_000,
  maxConnections: 10_000,
  pingInterval: 30_000,
  pongTimeout: 30_000,
  closeTimeout: 5_000,
  shutdownTimeout: 5_000,
  maxBufferedAmount: 16 * 1024 * 1024,
  perMessageDeflate: true as boolean,
} as const;
