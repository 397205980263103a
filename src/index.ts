/**
 * wsbridge as a library: the server, the client, and the connection object they share.
 *
 * ```ts
 * import { createServer } from 'wsbridge';
 * const server = createServer({ message(conn, data, isBinary) { conn.send(data, isBinary); } });
 * await server.listen({ port: 7890 });
 * ```
 */
export { createServer, Server, DEFAULTS } from './server/server.js';
export type {
  ServerOptions,
  ServerStats,
  ListenOptions,
  UpgradeInfo,
  HandshakeFailure,
} from './server/server.js';
export { Connection } from './server/connection.js';
export type {
  ConnectionHandlers,
  RequestInfo,
  ReadyState,
  PreparedFrame,
  ConnectionLimits,
} from './server/connection.js';
export { Hub, prepareFrame } from './server/hub.js';
export type { BroadcastOptions } from './server/hub.js';
export { connect } from './client/connect.js';
export type { ClientOptions } from './client/connect.js';
export {
  CloseCode,
  WebSocketError,
  ProtocolError,
  HandshakeError,
  InvalidStateError,
} from './protocol/errors.js';
