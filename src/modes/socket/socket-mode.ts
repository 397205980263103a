/**
 * Socket mode: `wsbridge --peer=tcp://HOST:PORT [--framing=NAME --framing-config=…] [--protocol=…]`
 * behaves like websocksy's default backend; `--backend=file -c path=… -c expression=…` like its file
 * backend; `--backend=./select.js` plugs in a JavaScript module. Each client gets its own peer, connected
 * before the 101 (502 if it cannot be reached).
 */
import { unixDgramMissing } from './unix-dgram-peer.js';
import { parsePeerAddress, PeerAddressError, type PeerAddress } from './peer-address.js';
import type { PeerSession } from './peer-session.js';
import { DEFAULT_MAX_FRAME, FramingConfigError } from '../../framing/framer.js';
import { framingSpec, FRAMING_NAMES, type FramingSpec } from '../../framing/registry.js';
import { ROOT_MOUNT } from '../../routes/endpoint.js';
import { soleEndpointOptions } from '../../routes/serve-endpoint.js';
import { createSocketEndpoint, type SocketRouteConfig } from './socket-endpoint.js';
import { createServer, type Server } from '../../server/server.js';
import { listenOn } from '../common/listen.js';
import { Logger, type LogLevel } from '../common/log.js';
import { integerFlag, MAX_FRAME_RANGE } from '../common/flag-values.js';
import { parseFlags } from '../common/parse-flags.js';
import { deflateSetting, SHARED_SERVER_FLAGS, type DeflateSetting } from '../common/shared-flags.js';
import { registerFlags } from '../common/unknown-flag.js';
import { connectionLog, openAccessLog, serverTls } from '../common/server-settings.js';
import { startUrl } from '../common/start-url.js';
import { counted, serveUntilSignal } from '../common/until-signal.js';
import { UsageError } from '../common/usage-error.js';

export const SOCKET_USAGE = `Usage: wsbridge --peer=URL [options]        (websocksy-style socket bridge)
       wsbridge --backend=file|./select.js [-c KEY=VALUE]... [options]
       wsbridge [-p PORT] [-l ADDR] [-k SECONDS] [-b BACKEND] -c KEY=VALUE...   (websocksy's flags)

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
  -b, --backend=NAME|MODULE  file (websocksy's file backend), defaultpeer (websocksy's default,
                             -c host=HOST -c port=PORT [-c framing=… -c framing-config=…]),
                             or a JavaScript module (./select.js); -c and no --peer, no -b: defaultpeer
  -c, --backend-config=K=V   backend setting (repeatable): file: path=DIR, expression=TEMPLATE
  --connect-timeout=MS       give up connecting to the peer (502) after MS (default 10000)
  --peer-tls                 use TLS to tcp:// peers too (websockify's --ssl-target)
  --peer-ca=FILE             CA certificates (PEM) trusted for TLS peers (default: Node's list)
  --peer-insecure            do not verify TLS peers' certificates (testing only)
Listening:
  -p, --port=N               TCP port (default 8001, websocksy's)
  -l, --addr=ADDR            bind address (default: all; websocksy's -l)
  --unix-socket=PATH         listen on a Unix socket instead
  --ssl-cert=FILE --ssl-key=FILE   TLS (wss://)
  --origin=ORIGIN            allowed Origin (repeatable; default any)
  --ping-interval=MS         ping idle clients every MS milliseconds (default 30000; 0 = never)
  -k, --keepalive=S          the same in seconds (websocksy's -k; default 30)
  --max-connections=N        refuse (503) past N clients
  --access-log=FILE          one line per handshake, close and refused handshake
  --deflate=on|off           permessage-deflate when a client offers it (default on); tuning:
  --deflate-threshold=N --deflate-level=0-9 --deflate-mem-level=1-9 --deflate-window-bits=9-15
  --deflate-no-context-takeover   (each as in pipe mode: wsbridge --help pipe)
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
  addr: { type: 'string', short: 'l' },
  keepalive: { type: 'string', short: 'k' },
  'unix-socket': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  origin: { type: 'string', multiple: true },
  'ping-interval': { type: 'string' },
  'max-connections': { type: 'string' },
  ...SHARED_SERVER_FLAGS,
  'log-level': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;
registerFlags('socket', Object.keys(SOCKET_FLAGS));

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
  accessLog: string | undefined;
  deflate: DeflateSetting;
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
  accessLog: undefined,
  deflate: false,
  logLevel: 'info',
};

export function parseSocketCommandLine(argv: readonly string[]): SocketConfig {
  const { values } = parseFlags(argv, SOCKET_FLAGS, 'socket', false) as {
    values: Record<string, string | string[] | boolean | undefined>;
  };
  const str = (name: string): string | undefined => values[name] as string | undefined;
  if (values.help === true) return { ...HELP_ONLY, help: true };
  const maxFrameSize = integerFlag(
    '--max-frame-size',
    str('max-frame-size'),
    DEFAULT_MAX_FRAME,
    MAX_FRAME_RANGE[0],
    MAX_FRAME_RANGE[1],
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
  // websocksy with no -b runs its default backend, which -c host=… -c port=… configure.
  // (Not with no settings at all: a config file's socket route must still name its peer.)
  const backend = str('backend') ?? (peer || backendConfig.length === 0 ? undefined : 'defaultpeer');
  if (!peer && !backend) throw new UsageError('socket mode needs --peer=URL or --backend=… (or -c host=…)');
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
    backend,
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
    pingInterval: pingInterval(str('ping-interval'), str('keepalive')),
    maxConnections:
      str('max-connections') === undefined
        ? undefined
        : integerFlag('--max-connections', str('max-connections'), 0, 1, 10_000_000),
    accessLog: str('access-log'),
    deflate: deflateSetting(values),
    logLevel: level as LogLevel,
  };
}

/**
 * `--ping-interval` is milliseconds, as in every mode; websocksy's `-k` keeps websocksy's seconds.
 * Given both, the later-documented one, `--ping-interval`, wins.
 */
function pingInterval(ms: string | undefined, seconds: string | undefined): number {
  if (ms !== undefined) return integerFlag('--ping-interval', ms, 0, 0, 2 ** 31 - 1);
  return integerFlag('-k', seconds, 30, 0, Math.floor((2 ** 31 - 1) / 1000)) * 1000;
}

/** Starts the server; `stop` closes it, then the access log, so every close line is written. */
async function start(
  config: SocketConfig,
  log: Logger,
): Promise<{ server: Server<PeerSession>; stop(): Promise<void> }> {
  const tls = serverTls(config.sslCert, config.sslKey);
  const endpoint = await createSocketEndpoint(config, log);
  const accessLog = await openAccessLog(config.accessLog);
  const logged = connectionLog(log, accessLog);
  const server = createServer<PeerSession>({
    tls,
    origins: config.origins,
    maxMessageSize: config.maxFrameSize,
    pingInterval: config.pingInterval,
    maxConnections: config.maxConnections,
    perMessageDeflate: config.deflate,
    handshakeFailed: logged.handshakeFailed,
    ...soleEndpointOptions(endpoint, ROOT_MOUNT, log, logged),
  });
  await listenOn(
    server,
    config.unixSocket ? { path: config.unixSocket } : { port: config.port, host: config.host },
  );
  log.info(`socket mode (${endpoint.label}) listening on ${startUrl(server, tls ? 'wss' : 'ws')}`);
  return {
    server,
    stop: async () => {
      await server.close();
      await accessLog?.end();
    },
  };
}

/** Runs socket mode until SIGINT or SIGTERM; resolves with the exit status. */
export async function runSocketMode(argv: readonly string[]): Promise<number> {
  let config: SocketConfig;
  try {
    config = parseSocketCommandLine(argv);
  } catch (error) {
    process.stderr.write(`wsbridge: ${(error as Error).message} (see wsbridge --help socket)\n`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(`${SOCKET_USAGE}\n`);
    return 0;
  }
  const log = new Logger(config.logLevel);
  return serveUntilSignal(
    log,
    () => start(config, log),
    (running) => counted(running.server.count, 'connection'),
    (running) => running.stop(),
  );
}
