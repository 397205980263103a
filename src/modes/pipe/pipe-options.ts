/** Command-line parsing: gwsocket's flags, with its defaults, into a checked configuration. */
import { resolve } from 'node:path';
import { PIPE_DEFAULTS } from './pipe-hub.js';
import { integerFlag, MAX_FRAME_RANGE } from '../common/flag-values.js';
import { parseFlags } from '../common/parse-flags.js';
import { deflateSetting, SHARED_SERVER_FLAGS, type DeflateSetting } from '../common/shared-flags.js';
import { flagName, modeLacks, registerFlags, unknownFlag } from '../common/unknown-flag.js';
import { UsageError } from '../common/usage-error.js';

/** What the command line asks for, checked. */
export interface CliConfig {
  mode: 'pipe' | 'echo' | 'help' | 'version';
  port: number;
  /** Bind address; undefined: every IPv4 and IPv6 address. */
  host: string | undefined;
  unixSocket: string | undefined;
  sslCert: string | undefined;
  sslKey: string | undefined;
  origins: string[];
  protocols: string[];
  maxMessageSize: number;
  pingInterval: number;
  maxConnections: number | undefined;
  accessLog: string | undefined;
  logLevel: 'error' | 'info' | 'debug';
  /** permessage-deflate settings, or false when turned off. */
  deflate: DeflateSetting;
  pipe: {
    pipeIn: string;
    pipeOut: string;
    stdin: boolean;
    stdout: boolean;
    strict: boolean;
    strictInfo: boolean;
    framing: 'lines' | 'chunks';
    backlog: number;
    outputQueue: number;
    maxClientBuffer: number;
    slowClient: 'drop' | 'close';
  };
}

export const optionSpec = {
  'echo-mode': { type: 'boolean' },
  port: { type: 'string', short: 'p' },
  addr: { type: 'string' },
  'unix-socket': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  origin: { type: 'string', multiple: true },
  protocol: { type: 'string', multiple: true },
  'max-frame-size': { type: 'string' },
  'ping-interval': { type: 'string' },
  'max-connections': { type: 'string' },
  ...SHARED_SERVER_FLAGS,
  pipein: { type: 'string' },
  pipeout: { type: 'string' },
  std: { type: 'boolean' },
  stdin: { type: 'boolean' },
  stdout: { type: 'boolean' },
  strict: { type: 'boolean' },
  'strict-info': { type: 'boolean' },
  framing: { type: 'string' },
  backlog: { type: 'string' },
  'pipe-buffer': { type: 'string' },
  'max-client-buffer': { type: 'string' },
  'slow-client': { type: 'string' },
  'log-level': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;
registerFlags('pipe', Object.keys(optionSpec));

export const USAGE = `Usage: wsbridge [options]

A WebSocket server and bridge (gwsocket's command line). Logs go to stderr.
With no mode flag it runs in pipe mode: what the application writes to the input
pipe goes to every client; what clients send comes out of the output pipe.

Server:
  -p, --port=PORT            TCP port to listen on                  [7890]
      --addr=ADDR            bind address                           [all IPv4 and IPv6]
      --unix-socket=PATH     listen on a Unix-domain socket instead of TCP
      --ssl-cert=FILE        PEM certificate (with --ssl-key: every connection is TLS)
      --ssl-key=FILE         PEM private key
      --origin=ORIGIN        allowed Origin (repeat or comma-separate); others get 403  [any]
      --protocol=NAME[,...]  subprotocols by preference; the first the client offers is chosen  [none]
      --max-frame-size=N     largest message in bytes, either way; a client's larger
                             message is closed with 1009               [1048576]
      --ping-interval=MS     ping idle clients, drop silent ones; 0 disables  [30000]
      --max-connections=N    connections allowed; past it: 503     [10000]
      --access-log=FILE      one line per handshake, close and refused handshake

Compression (permessage-deflate, RFC 7692; browsers offer it):
      --deflate=on|off       negotiate compression when a client offers it  [on]
      --deflate-threshold=N  messages smaller than N bytes go uncompressed  [1024]
      --deflate-level=0-9    zlib level                              [6]
      --deflate-mem-level=1-9  zlib memory level                     [8]
      --deflate-window-bits=9-15  largest server window              [15]
      --deflate-no-context-takeover  compress each message on its own: worse ratio,
                             but a broadcast is compressed once for all clients

Modes:
      --echo-mode            echo every message back to its sender
  (default)                  pipe mode:
      --pipein=PATH          FIFO the application writes to          [/tmp/wspipein.fifo]
      --pipeout=PATH         FIFO the application reads from         [/tmp/wspipeout.fifo]
      --stdin / --stdout     use standard input / output instead of that FIFO
      --std                  both: --stdin --stdout (e.g. tail -f log | wsbridge --std)
      --strict               12-byte id/type/length records both ways (gwsocket's strict mode)
      --strict-info          strict: add a Request record after Open, code and reason to Close
      --framing=lines|chunks standard mode: a message per line, or per read of at most
                             4095 bytes as gwsocket did              [lines]
      --backlog=N            messages kept while no client is connected, for the next one  [100]
      --pipe-buffer=BYTES    client data queued while no reader is on the output pipe  [1048576]
      --max-client-buffer=BYTES  a client with more queued is slow   [2097152]
      --slow-client=drop|close   drop what a slow client cannot take, or close it (1008)  [drop]

Output:
      --log-level=LEVEL      error, info or debug                   [info]
  -q, --quiet                same as --log-level=error
  -h, --help                 this text
  -V, --version              print the version

A browser opening http://HOST:PORT/ gets a page to send messages and see the replies.

Modes, and each one's help:
  pipe / echo (gwsocket)   wsbridge [options]                         wsbridge --help pipe (this text)
  program (websocketd)     wsbridge [websocketd options] COMMAND ...  wsbridge --help program
  socket (websocksy)       wsbridge --peer=URL [options], or websocksy's -p -l -k -b -c
                                                                      wsbridge --help socket
  config file (routes)     wsbridge --config=FILE.toml, or wsbridge websocksy.conf
                                                                      wsbridge --help config`;

function oneOf<V extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly V[],
  fallback: V,
): V {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`--${name} must be ${allowed.join(' or ')}, got '${value}'`);
  return value as V;
}

function list(values: string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Parses argv (without node and script). Throws UsageError naming the problem. */
export function parseCommandLine(argv: readonly string[]): CliConfig {
  const { values, positionals } = parseFlags(argv, optionSpec, 'pipe', true);
  if (positionals.length > 0) {
    // A COMMAND next to a gwsocket-only flag: the user meant program mode, so name that flag.
    const stray = argv.find((arg) => /^--?[^-]/.test(arg) && modeLacks('program', flagName(arg)));
    if (stray !== undefined && flagName(stray) in optionSpec)
      throw new UsageError(
        `'${positionals[0]}' would be program mode's COMMAND, but ${unknownFlag(stray, 'program').message}`,
      );
    throw new UsageError(`unexpected argument '${positionals[0]}'`);
  }
  const logLevel = oneOf(
    'log-level',
    values.quiet ? 'error' : values['log-level'],
    ['error', 'info', 'debug'],
    'info',
  );
  if (!!values['ssl-cert'] !== !!values['ssl-key'])
    throw new UsageError('--ssl-cert and --ssl-key go together');
  const pipeIn = values.pipein ?? '/tmp/wspipein.fifo';
  const pipeOut = values.pipeout ?? '/tmp/wspipeout.fifo';
  // One FIFO both ways would feed the application's own output back to it (and clients' data to clients).
  if (!values.std && !values.stdin && !values.stdout && resolve(pipeIn) === resolve(pipeOut))
    throw new UsageError(`--pipein and --pipeout must be different paths, both are '${pipeIn}'`);
  const mode = values.help ? 'help' : values.version ? 'version' : values['echo-mode'] ? 'echo' : 'pipe';
  const protocols = list(values.protocol);
  for (const name of protocols)
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name))
      throw new UsageError(`--protocol: '${name}' is not a valid name`);
  return {
    mode,
    port: integerFlag('--port', values.port, 7890, 0, 65535),
    host: values.addr,
    unixSocket: values['unix-socket'],
    sslCert: values['ssl-cert'],
    sslKey: values['ssl-key'],
    origins: list(values.origin),
    protocols,
    maxMessageSize: integerFlag(
      '--max-frame-size',
      values['max-frame-size'],
      1024 * 1024,
      ...MAX_FRAME_RANGE,
    ),
    pingInterval: integerFlag('--ping-interval', values['ping-interval'], 30_000, 0, 2 ** 31 - 1),
    maxConnections:
      values['max-connections'] === undefined
        ? undefined
        : integerFlag('--max-connections', values['max-connections'], 0, 1, 2 ** 31 - 1),
    accessLog: values['access-log'],
    deflate: deflateSetting(values),
    logLevel,
    pipe: {
      pipeIn,
      pipeOut,
      stdin: !!(values.std || values.stdin),
      stdout: !!(values.std || values.stdout),
      strict: !!values.strict,
      strictInfo: !!values['strict-info'],
      framing: oneOf('framing', values.framing, ['lines', 'chunks'], PIPE_DEFAULTS.framing),
      backlog: integerFlag('--backlog', values.backlog, PIPE_DEFAULTS.backlog, 0, 1_000_000),
      outputQueue: integerFlag('--pipe-buffer', values['pipe-buffer'], PIPE_DEFAULTS.outputQueue, 0, 2 ** 32),
      maxClientBuffer: integerFlag(
        '--max-client-buffer',
        values['max-client-buffer'],
        PIPE_DEFAULTS.maxClientBuffer,
        0,
        2 ** 32,
      ),
      slowClient: oneOf('slow-client', values['slow-client'], ['drop', 'close'], PIPE_DEFAULTS.slowClient),
    },
  };
}
