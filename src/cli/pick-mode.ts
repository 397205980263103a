/**
 * Which mode a command line asks for, from argv alone: a config file, socket mode (websocksy's flags),
 * program mode (websocketd's), or else pipe/echo mode (gwsocket's).
 */
import { isWebsocksyCommandLine } from '../config/websocksy-config.js';
import { optionSpec } from '../modes/pipe/pipe-options.js';
import { PROGRAM_FLAGS } from '../modes/program/program-options.js';

export type ModeName = 'config' | 'socket' | 'program' | 'pipe';

export function pickMode(argv: readonly string[]): ModeName {
  if (isConfigCommandLine(argv)) return 'config';
  if (isSocketCommandLine(argv)) return 'socket';
  if (isProgramCommandLine(argv)) return 'program';
  return 'pipe';
}

/** True when the command line names a config file (before any `--`), or is websocksy's `CONFIGFILE`. */
export function isConfigCommandLine(argv: readonly string[]): boolean {
  if (isWebsocksyCommandLine(argv)) return true;
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--config' || arg.startsWith('--config=')) return true;
  }
  return false;
}

const WEBSOCKSY_SHORT = new Set(['-l', '-k', '-b', '-c']);

/**
 * True when the command line asks for socket mode (`--peer`, `--backend`, or one of websocksy's `-l -k -b -c`) among its options: flags
 * after a program-mode COMMAND (a positional that is not a flag's value) or after `--` are the program's.
 */
export function isSocketCommandLine(argv: readonly string[]): boolean {
  let previousTakesValue = false;
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg.startsWith('-') && arg !== '-') {
      // websocksy's own flags: -l listen, -k keepalive, -b backend, -c backend setting (-p is shared).
      if (/^--(peer|backend|backend-config|keepalive)(=|$)/.test(arg) || WEBSOCKSY_SHORT.has(arg))
        return true;
      previousTakesValue = !arg.includes('=');
      continue;
    }
    if (!previousTakesValue) return false;
    previousTakesValue = false;
  }
  return false;
}

/** Flags only websocketd has: any of them makes a command line a program-mode one. */
const WEBSOCKETD_ONLY = new Set(
  Object.keys(PROGRAM_FLAGS).filter((name) => !['port', 'origin', 'help', 'h', 'version'].includes(name)),
);

/**
 * True for a websocketd-style command line: a positional COMMAND, `--`, any websocketd-only flag, or a
 * Go-style single-dash long flag (`-port=8080`). gwsocket's own flags (and their separate values) are
 * skipped; a positional after a gwsocket-only flag is left to the gwsocket parser to refuse.
 */
export function isProgramCommandLine(argv: readonly string[]): boolean {
  const gwsocket = optionSpec as Record<string, { type: string; short?: string }>;
  const shorts = new Map(
    Object.entries(gwsocket).flatMap(([name, spec]) => (spec.short ? [[spec.short, name]] : [])),
  );
  let gwsocketOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') return true;
    if (arg === '-' || !arg.startsWith('-')) return !gwsocketOnly;
    if (arg.startsWith('--')) {
      const name = arg.slice(2).split('=')[0];
      if (WEBSOCKETD_ONLY.has(name)) return true;
      if (gwsocket[name] && !(name in PROGRAM_FLAGS)) gwsocketOnly = true;
      if (!arg.includes('=') && gwsocket[name]?.type === 'string') i++;
      continue;
    }
    const body = arg.slice(1);
    const name = body.split('=')[0];
    if (name.length > 1 && name in PROGRAM_FLAGS) return true; // Go style: -port=8080, -dir DIR
    const long = shorts.get(body[0]);
    if (long && gwsocket[long].type === 'string' && body.length === 1) i++;
  }
  return false;
}
