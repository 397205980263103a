/**
 * A peer bridge for a server or a route: the upgrade hook picks the peer (a fixed one, or a backend's
 * choice), opens it before the 101 (failure → 502 with a log line), and stores the session in
 * `conn.data`; `handlers` relay.
 */
import { HandshakeError } from '../../protocol/errors.js';
import type { UpgradeInfo } from '../../server/server.js';
import { FramingConfigError } from '../../framing/framer.js';
import { framingSpec, type FramingSpec } from '../../framing/registry.js';
import {
  isRefusal,
  parseCookies,
  parseQuery,
  selectProtocol,
  type Backend,
  type PeerRequest,
} from './backend.js';
import { openPeer } from './open-peer.js';
import { formatPeer, parsePeerAddress, PeerAddressError, type PeerAddress } from './peer-address.js';
import {
  peerHandlers,
  PeerError,
  type PeerLog,
  type PeerSession,
  type PeerTlsOptions,
} from './peer-session.js';

export interface PeerBridgeOptions {
  /** The fixed peer (ignored when a backend is given). */
  peer?: PeerAddress;
  backend?: Backend;
  /** Framing used unless the backend names one. Default `auto`. */
  framing?: FramingSpec;
  /** Cap for framers built from a backend's choice, bytes. */
  maxFrameSize?: number;
  /** Subprotocol to answer (`*` = the client's first), unless the backend names one. */
  protocol?: string;
  /** Refuse (400) clients that offer no subprotocol. Default false. */
  requireProtocol?: boolean;
  connectTimeout?: number;
  tls?: PeerTlsOptions;
  forceTls?: boolean;
  log?: PeerLog;
}

export interface PeerBridge {
  upgrade(info: UpgradeInfo<PeerSession>): Promise<void>;
  handlers: ReturnType<typeof peerHandlers>;
}

export function peerRequest(info: UpgradeInfo<unknown>): PeerRequest {
  return {
    url: info.url,
    path: info.path,
    query: parseQuery(info.query),
    headers: info.headers,
    cookies: parseCookies(info.headers.cookie),
    protocols: info.offeredProtocols,
    remoteAddress: info.remoteAddress,
    remotePort: info.remotePort,
  };
}

export function createPeerBridge(options: PeerBridgeOptions): PeerBridge {
  const defaultFraming = options.framing ?? framingSpec('auto', '', options.maxFrameSize);
  const framings = new Map<string, FramingSpec>();
  const framingFor = (name: string | undefined, config: string | undefined): FramingSpec => {
    if (name === undefined) return defaultFraming;
    const key = `${name}\0${config ?? ''}`;
    let spec = framings.get(key);
    if (!spec) {
      spec = framingSpec(name, config ?? '', options.maxFrameSize);
      if (framings.size < 1000) framings.set(key, spec);
    }
    return spec;
  };
  const log = options.log;
  return {
    handlers: peerHandlers(),
    async upgrade(info) {
      if (options.requireProtocol && info.offeredProtocols.length === 0)
        throw new HandshakeError('a subprotocol is required', 400);
      let address = options.peer;
      let framing = defaultFraming;
      let protocol = options.protocol;
      if (options.backend) {
        let result;
        try {
          result = await options.backend(peerRequest(info));
        } catch (error) {
          log?.error(`backend failed for ${info.url}: ${(error as Error).message}`);
          throw new HandshakeError('peer selection failed', 500);
        }
        if (!result) throw new HandshakeError('no peer for this request', 404);
        if (isRefusal(result)) {
          const status =
            Number.isInteger(result.status) && result.status >= 400 && result.status <= 599
              ? result.status
              : 403;
          throw new HandshakeError(result.message ?? 'refused', status);
        }
        try {
          address = parsePeerAddress(String(result.peer));
          framing = framingFor(result.framing, result.framingConfig);
        } catch (error) {
          if (!(error instanceof PeerAddressError || error instanceof FramingConfigError)) throw error;
          log?.error(`backend answer for ${info.url} is unusable: ${error.message}`);
          throw new HandshakeError('peer selection failed', 500);
        }
        if (result.protocol !== undefined) protocol = result.protocol;
      }
      if (!address) throw new HandshakeError('no peer configured', 500);
      info.protocol = selectProtocol(protocol, info.offeredProtocols);
      const label = `${info.remoteAddress || 'unix'} ${info.path}`;
      let session: PeerSession;
      try {
        session = await openPeer(address, {
          framing,
          connectTimeout: options.connectTimeout,
          tls: options.tls,
          forceTls: options.forceTls,
          log,
          label,
        });
      } catch (error) {
        if (!(error instanceof PeerError)) throw error;
        log?.error(`${label}: ${error.message}`);
        throw new HandshakeError(`peer unavailable`, error.status);
      }
      log?.debug(`${label}: connected to ${formatPeer(address)} (framing ${framing.name})`);
      info.data = session;
      info.abort = () => session.abort();
    },
  };
}
