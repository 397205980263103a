/**
 * The socket endpoint (websocksy's and websockify's model): each client is bridged to its own peer,
 * fixed or chosen per request by a backend (websocksy's `file`/`defaultpeer`, or a JavaScript module).
 */
import type { Backend } from './backend.js';
import { BackendConfigError, createFileBackend, fileBackendConfig } from './backend-file.js';
import { loadBackendModule } from './backend-module.js';
import { formatPeer, parsePeerAddress, PeerAddressError, type PeerAddress } from './peer-address.js';
import { createPeerBridge } from './peer-bridge.js';
import type { PeerLog, PeerSession } from './peer-session.js';
import { framingSpec, type FramingSpec } from '../../framing/registry.js';
import { readSettingFile } from '../common/setting-files.js';
import { UsageError } from '../common/usage-error.js';
import type { Endpoint } from '../../routes/endpoint.js';

/** What a socket endpoint needs (socket-mode.ts parses it from flags or config keys). */
export interface SocketRouteConfig {
  peer: PeerAddress | undefined;
  framing: FramingSpec;
  maxFrameSize: number;
  protocol: string | undefined;
  requireProtocol: boolean;
  backend: string | undefined;
  backendConfig: [string, string][];
  connectTimeout: number;
  peerTls: boolean;
  peerCa: string | undefined;
  peerInsecure: boolean;
}

/** Loads a backend by name: `file` (websocksy), `defaultpeer` (host/port/framing keys), or a JS module. */
export async function loadBackend(
  name: string,
  pairs: readonly [string, string][],
): Promise<{ backend?: Backend; peer?: PeerAddress; framing?: [string, string]; protocol?: string }> {
  try {
    if (name === 'file') return { backend: createFileBackend(fileBackendConfig(pairs)) };
    if (name === 'defaultpeer') {
      const get = (key: string): string | undefined => [...pairs].reverse().find(([k]) => k === key)?.[1];
      for (const [key] of pairs)
        if (!['host', 'port', 'framing', 'framing-config', 'protocol'].includes(key))
          throw new BackendConfigError(`defaultpeer backend: unknown key '${key}'`);
      const port = get('port') ?? '5900';
      if (!/^\d+$/.test(port)) throw new BackendConfigError(`defaultpeer backend: bad port '${port}'`);
      return {
        peer: parsePeerAddress(get('host') ?? 'tcp://localhost', Number(port)),
        framing: [get('framing') ?? 'auto', get('framing-config') ?? ''],
        protocol: get('protocol'),
      };
    }
    if (/\.(c|m)?js$/.test(name) || name.includes('/'))
      return { backend: await loadBackendModule(name, Object.fromEntries(pairs)) };
  } catch (error) {
    if (error instanceof BackendConfigError || error instanceof PeerAddressError)
      throw new UsageError(error.message);
    throw error;
  }
  throw new UsageError(`--backend: unknown backend '${name}' (file, defaultpeer, or a .js module path)`);
}

/** Loads the backend (if any) and builds the endpoint. */
export async function createSocketEndpoint(
  config: SocketRouteConfig,
  log: PeerLog,
): Promise<Endpoint<PeerSession>> {
  let peer = config.peer;
  let framing = config.framing;
  let protocol = config.protocol;
  let backend: Backend | undefined;
  if (config.backend) {
    const loaded = await loadBackend(config.backend, config.backendConfig);
    backend = loaded.backend;
    peer = loaded.peer ?? peer;
    if (loaded.framing) {
      try {
        framing = framingSpec(loaded.framing[0], loaded.framing[1], config.maxFrameSize);
      } catch (error) {
        throw new UsageError(`defaultpeer backend: ${(error as Error).message}`);
      }
    }
    protocol = loaded.protocol ?? protocol;
  }
  const bridge = createPeerBridge({
    peer,
    backend,
    framing,
    maxFrameSize: config.maxFrameSize,
    protocol,
    requireProtocol: config.requireProtocol,
    connectTimeout: config.connectTimeout,
    forceTls: config.peerTls,
    tls: {
      ca: config.peerCa ? readSettingFile('--peer-ca', config.peerCa) : undefined,
      insecure: config.peerInsecure,
    },
    log,
  });
  return {
    label: `${backend ? `backend ${config.backend}` : formatPeer(peer!)}, framing ${framing.name}`,
    upgrade: (info) => bridge.upgrade(info),
    handlers: bridge.handlers,
  };
}
