/** Command-line parsing: gwsocket's flags, with its defaults, into a checked configuration. */
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

/** What the command line asks for, checked. */
export interface CliConfig {
  mode: 'echo' | 'help' | 'version';
  port: number;
  /** Bind address; undefined: every IPv4 and IPv6 address. */
  host: string | undefined;
  unixSocket: string | undefined;
  sslCert: string | undefined;
  sslKey: string | undefined;
  origins: string[];
  maxMessageSize: number;
  pingInterval: number;
  maxConnections: number | undefined;
  logLevel: 'error' | 'info' | 'debug';
}

const optionSpec = {
  'echo-mode': { type: 'boolean' },
  port: { type: 'string', short: 'p' },
  addr: { type: 'string' },
  'unix-socket': { type: 'string' },
  'ssl-cert': { type: 'string' },
  'ssl-key': { type: 'string' },
  origin: { type: 'string', multiple: true },
  'max-frame-size': { type: 'string' },
  'ping-interval': { type: 'string' },
  'max-connections': { type: 'string' },
  'log-level': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

export const USAGE = `Usage: wsbridge [options]

A WebSocket server and bridge. Logs go to stderr.

Modes:
  --echo-mode              echo every message back to its sender
                           (pipe, program and socket modes are on the roadmap)

Server (gwsocket's flags and defaults):
  -p, --port=PORT          TCP port to listen on                  [7890]
      --addr=ADDR          bind address                           [all IPv4 and IPv6]
      --unix-socket=PATH   listen on a Unix-domain socket instead of TCP
      --ssl-cert=FILE      PEM certificate (with --ssl-key: every connection is TLS)
      --ssl-key=FILE       PEM private key
      --origin=ORIGIN      allowed Origin (repeat or comma-separate); others get 403  [any]
      --max-frame-size=N   largest incoming message in bytes; past it: close 1009  [1048576]
      --ping-interval=MS   ping idle clients, drop silent ones; 0 disables  [30000]
      --max-connections=N  connections allowed; past it: 503     [10000]

Output:
      --log-level=LEVEL    error, info or debug                   [info]
  -q, --quiet              same as --log-level=error
  -h, --help               this text
  -V, --version            print the version

A browser opening http://HOST:PORT/ gets a page to send messages and see the replies.`;

function integer(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${value}`);
  return n;
}

/** Parses argv (without node and script). Throws UsageError naming the problem. */
export function parseCommandLine(argv: readonly string[]): CliConfig {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], options: optionSpec, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const logLevel = values.quiet ? 'error' : (values['log-level'] ?? 'info');
  if (logLevel !== 'error' && logLevel !== 'info' && logLevel !== 'debug')
    throw new UsageError(`--log-level must be error, info or debug, got '${logLevel}'`);
  if (!!values['ssl-cert'] !== !!values['ssl-key'])
    throw new UsageError('--ssl-cert and --ssl-key go together');
  const mode = values.help ? 'help' : values.version ? 'version' : values['echo-mode'] ? 'echo' : undefined;
  if (!mode)
    throw new UsageError('no mode given: use --echo-mode (pipe, program and socket modes are not built yet)');
  const origins = (values.origin ?? [])
    .flatMap((o) => o.split(','))
    .map((o) => o.trim())
    .filter(Boolean);
  return {
    mode,
    port: integer('port', values.port, 7890, 0, 65535),
    host: values.addr,
    unixSocket: values['unix-socket'],
    sslCert: values['ssl-cert'],
    sslKey: values['ssl-key'],
    origins,
    maxMessageSize: integer('max-frame-size', values['max-frame-size'], 1024 * 1024, 1, 2 ** 53 - 1),
    pingInterval: integer('ping-interval', values['ping-interval'], 30_000, 0, 2 ** 31 - 1),
    maxConnections:
      values['max-connections'] === undefined
        ? undefined
        : integer('max-connections', values['max-connections'], 0, 1, 2 ** 31 - 1),
    logLevel,
  };
}
