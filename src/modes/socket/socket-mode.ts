/**
 * Socket mode: `wsbridge --peer=tcp://HOST:PORT [--framing=NAME --framing-config=…] [--protocol=…]`
 * behaves like websocksy's default backend; `--backend=file -c path=… -c expression=…` like its file
 * backend; `--backend=./select.js` plugs in a JavaScript module. Each client gets its own peer, connected
 * before the 101 (502 if it cannot be reached).
 */
import { parseArgs } from 'node:util';
import { unixDgramMissing } from './unix-dgram-peer.js';
import { parsePeerAddress, PeerAddressError, type PeerAddress } from './peer-address.js';
import type { PeerSession } from './peer-session.js';
import { DEFAULT_MAX_FRAME, FramingConfigError } from '../../framing/framer.js';
import { framingSpec, FRAMING_NAMES, type FramingSpec } from '../../framing/registry.js';
import { ROOT_MOUNT } from '../../routes/endpoint.js';
import { soleEndpointOptions } from '../../routes/serve-endpoint.js';
import { createSocketEndpoint, type SocketRouteConfig } from './socket-endpoint.js';
import { createServer, type Server } from '../../server/server.js';
import { Logger, type LogLevel } from '../common/log.js';
import { integerFlag } from '../common/flag-values.js';
import { connectionLog, serverTls } from '../common/server-settings.js';
import { startUrl } from '../common/start-url.js';
import { counted, untilSignal } from '../common/until-signal.js';
import { UsageError } from '../common/usage-error.js';

export const SOCKET_USAGE = `Usage: wsbridge --peer=URL [options]        (websocksy-style socket bridge)
       wsbridge --backend=file|./select.js [-c KEY=VALUE]... [options]

Peer:
  --peer=URL                 tcp://HOST:PORT, tcps://HOST:PORT (TLS), udp://HOST:PORT, unix://PATH,
                             unix-dgram://PATH
                             (IPv6 in brackets: tcp://[::1]:5900); no scheme means TCP
  --framing=NAME             peer → client: ${FRAMING_NAMES.join(', ')} (default auto)
  --framing-config=TEXT      separator: the separator (escapes \\r \\t \\n \\0 \\f \\\\ \\xHH);
                             newline: crlf|lfcr|lf|cr; fixedlength: N; dynamic32: offset=N,static=N,endian=big|little
  --max-frame-size=BYTES     largest message either way (framer cap, client message cap; default 1048576)
  --protocol=NAME            subprotocol to answer when the client offers it; * = the client's first offer
  --require-protocol         refuse (400) clients that offer no subprotocol
  --backend=NAME|MODULE      file (websocksy's file backend) or a JavaScript module (./select.js)
  -c, --backend-config=K=V   backend setting (repeatable): file: path=DIR, expression=TEMPLATE
  --connect-timeout=MS       give up connecting to the peer (502) after MS (default 10000)
  --peer-tls                 use TLS to tcp:// peers too (websockify's --ssl-target)
  --peer-ca=FILE             CA certificates (PEM) trusted for TLS peers (default: Node's list)
  --peer-insecure            do not verify TLS peers' certificates (testing only)
Listening:
  -p, --port=N               TCP port (default 8001, websocksy's)
  --addr=ADDR                bind address (default: all)
  --unix-socket=PATH         listen on a Unix socket instead
  --ssl-cert=FILE --ssl-key=FILE   TLS (wss://)
  --origin=ORIGIN            allowed Origin (repeatable; default any)
  --ping-interval=S          ping idle clients every S seconds (default 30; 0 = never)
  --max-connections=N        refuse (503) past N clients
  --log-level=error|info|debug, -q   (logs go to stderr)
  -h, --help`;

export const SOCKET_FLAGS = {
  peer: { type: 'string' },
  framing: { type: 'string' },
  'framing-config': { type: 'string' },
  'max-frame-size': { type: 'string' },
  protocol: { type: 'string' },
  'require-protocol': { type: 'boolean' },
  backend: { type: 'string', short: 'b' },
  'backend-config': { type: 'string', short: 'c', multiple: true },
  'connect-timeout': { type: 'string' },
  'peer-tls': { type: 'boolean' },
  'peer-ca': { type: 'string' },
  'peer-insecure': { type: 'boolean' },
  port: { type: 'string', short: 'p' },
  addr: { type: 'string' },
  'unix-socket': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  origin: { type: 'string', multiple: true },
  'ping-interval': { type: 'string' },
  'max-connections': { type: 'string' },
  'log-level': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Socket mode settings, checked. */
export interface SocketConfig extends SocketRouteConfig {
  help: boolean;
  port: number;
  host: string | undefined;
  unixSocket: string | undefined;
  sslCert: string | undefined;
  sslKey: string | undefined;
  origins: string[];
  pingInterval: number;
  maxConnections: number | undefined;
  logLevel: LogLevel;
}

const HELP_ONLY: SocketConfig = {
  help: true,
  peer: undefined,
  framing: framingSpec('auto'),
  maxFrameSize: DEFAULT_MAX_FRAME,
  protocol: undefined,
  requireProtocol: false,
  backend: undefined,
  backendConfig: [],
  connectTimeout: 0,
  peerTls: false,
  peerCa: undefined,
  peerInsecure: false,
  port: 0,
  host: undefined,
  unixSocket: undefined,
  sslCert: undefined,
  sslKey: undefined,
  origins: [],
  pingInterval: 0,
  maxConnections: undefined,
  logLevel: 'info',
};

export function parseSocketCommandLine(argv: readonly string[]): SocketConfig {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: SOCKET_FLAGS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const str = (name: string): string | undefined => values[name] as string | undefined;
  if (values.help === true) return { ...HELP_ONLY, help: true };
  const maxFrameSize = integerFlag(
    '--max-frame-size',
    str('max-frame-size'),
    DEFAULT_MAX_FRAME,
    16,
    2 ** 31 - 1,
  );
  let framing: FramingSpec;
  try {
    framing = framingSpec(str('framing') ?? 'auto', str('framing-config') ?? '', maxFrameSize);
  } catch (error) {
    if (error instanceof FramingConfigError) throw new UsageError(`--framing: ${error.message}`);
    throw error;
  }
  let peer: PeerAddress | undefined;
  if (str('peer') !== undefined) {
    try {
      peer = parsePeerAddress(str('peer')!);
    } catch (error) {
      if (error instanceof PeerAddressError) throw new UsageError(`--peer: ${error.message}`);
      throw error;
    }
    const missing = peer.scheme === 'unix-dgram' ? unixDgramMissing() : undefined;
    if (missing) throw new UsageError(`--peer: ${missing} (see the README)`);
  }
  const backendConfig: [string, string][] = ((values['backend-config'] as string[] | undefined) ?? []).map(
    (pair) => {
      const eq = pair.indexOf('=');
      if (eq < 1) throw new UsageError(`--backend-config: expected KEY=VALUE, got '${pair}'`);
      return [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
    },
  );
  const help = false;
  if (!peer && !str('backend')) throw new UsageError('socket mode needs --peer=URL or --backend=…');
  if (peer && str('backend')) throw new UsageError('--peer and --backend exclude each other');
  if ((str('ssl-cert') === undefined) !== (str('ssl-key') === undefined))
    throw new UsageError('--ssl-cert and --ssl-key go together');
  const level = str('log-level') ?? (values.quiet ? 'error' : 'info');
  if (!['error', 'info', 'debug'].includes(level))
    throw new UsageError(`--log-level: error, info or debug, not '${level}'`);
  return {
    help,
    peer,
    framing,
    maxFrameSize,
    protocol: str('protocol'),
    requireProtocol: values['require-protocol'] === true,
    backend: str('backend'),
    backendConfig,
    connectTimeout: integerFlag('--connect-timeout', str('connect-timeout'), 10_000, 1, 3_600_000),
    peerTls: values['peer-tls'] === true,
    peerCa: str('peer-ca'),
    peerInsecure: values['peer-insecure'] === true,
    port: integerFlag('--port', str('port'), 8001, 0, 65535),
    host: str('addr'),
    unixSocket: str('unix-socket'),
    sslCert: str('ssl-cert'),
    sslKey: str('ssl-key'),
    origins: (values.origin as string[] | undefined) ?? [],
    pingInterval: integerFlag('--ping-interval', str('ping-interval'), 30, 0, 86_400) * 1000,
    maxConnections:
      str('max-connections') === undefined
        ? undefined
        : integerFlag('--max-connections', str('max-connections'), 0, 1, 10_000_000),
    logLevel: level as LogLevel,
  };
}

async function start(config: SocketConfig, log: Logger): Promise<Server<PeerSession>> {
  const tls = serverTls(config.sslCert, config.sslKey);
  const endpoint = await createSocketEndpoint(config, log);
  const logged = connectionLog(log);
  const server = createServer<PeerSession>({
    tls,
    origins: config.origins,
    maxMessageSize: config.maxFrameSize,
    pingInterval: config.pingInterval,
    maxConnections: config.maxConnections,
    handshakeFailed: logged.handshakeFailed,
    ...soleEndpointOptions(endpoint, ROOT_MOUNT, log, logged),
  });
  if (config.unixSocket) await server.listen({ path: config.unixSocket });
  else await server.listen({ port: config.port, host: config.host });
  log.info(`socket mode (${endpoint.label}) listening on ${startUrl(server, tls ? 'wss' : 'ws')}`);
  return server;
}

/** Runs socket mode until SIGINT or SIGTERM; resolves with the exit status. */
export async function runSocketMode(argv: readonly string[]): Promise<number> {
  let config: SocketConfig;
  try {
    config = parseSocketCommandLine(argv);
  } catch (error) {
    process.stderr.write(`wsbridge: ${(error as Error).message} (see wsbridge --peer --help)\n`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(`${SOCKET_USAGE}\n`);
    return 0;
  }
  const log = new Logger(config.logLevel);
  let server: Server<PeerSession>;
  try {
    server = await start(config, log);
  } catch (error) {
    process.stderr.write(`wsbridge: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
  return untilSignal(
    log,
    () => counted(server.count, 'connection'),
    () => server.close(),
  );
}
