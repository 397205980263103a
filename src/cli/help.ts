/** `wsbridge --help TOPIC`: each mode's own help, and the config file's. */
import { CONFIG_USAGE } from '../config/config-mode.js';
import { USAGE } from '../modes/pipe/pipe-options.js';
import { PROGRAM_USAGE } from '../modes/program/program-options.js';
import { SOCKET_USAGE } from '../modes/socket/socket-mode.js';
import { EXTRA_SERVER_KEYS, ROUTE_KEYS, ROUTE_TYPES, SERVER_KEYS } from '../config/wsbridge-config.js';

/** The config file's keys, from the tables its loader checks against, so the text cannot drift. */
function configHelp(): string {
  const wrap = (keys: readonly string[]): string =>
    keys
      .join(', ')
      .replace(/(.{1,90})(?:, |$)/g, '    $1,\n')
      .replace(/,\n$/, '');
  const routes = ROUTE_TYPES.map((type) => `  type = "${type}":\n${wrap(ROUTE_KEYS[type])}`).join('\n');
  return `${CONFIG_USAGE}

[server] keys (each the main command line's flag of that name, same values and units;
ping-interval in milliseconds):
${wrap([...SERVER_KEYS, ...EXTRA_SERVER_KEYS])}

[[route]] tables: path = "/x" or prefix = "/x", type = one of ${ROUTE_TYPES.join(', ')}, and that
type's keys (each its mode's flag of that name: wsbridge --help pipe|program|socket):
${routes}`;
}

const TOPICS: Record<string, () => string> = {
  pipe: () => USAGE,
  echo: () => USAGE,
  gwsocket: () => USAGE,
  program: () => PROGRAM_USAGE,
  websocketd: () => PROGRAM_USAGE,
  socket: () => SOCKET_USAGE,
  websocksy: () => SOCKET_USAGE,
  config: configHelp,
  routes: configHelp,
};

export const HELP_TOPICS = Object.keys(TOPICS);

/**
 * The help text `argv` asks for as `--help TOPIC` (or `-h TOPIC`), else undefined. Only in that order:
 * `wsbridge pipe --help` is program mode running a COMMAND named pipe.
 */
export function helpTopic(argv: readonly string[]): string | undefined {
  if (argv.length !== 2 || (argv[0] !== '--help' && argv[0] !== '-h')) return undefined;
  return Object.hasOwn(TOPICS, argv[1]) ? TOPICS[argv[1]]() : undefined;
}
