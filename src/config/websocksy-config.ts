/**
 * websocksy's own config file, read as websocksy reads it: INI-like sections `[core]` and `[backend]`,
 * `key = value` lines (whitespace trimmed; `#`/`;` comments). `[core]` keys (port, listen, ping, backend)
 * become socket-mode flags; `[backend]` lines are passed to the backend as `-c key=value`, in order.
 * Unlike websocksy, unknown `[core]` keys and lines without `=` are errors (file:line), not ignored.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { ConfigError } from './config-error.js';

/** True when a file looks like websocksy's: its first section is `[core]` or `[backend]`. */
export function isWebsocksyConfig(source: string): boolean {
  for (const raw of source.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    return /^\[(core|backend)\]$/.test(line);
  }
  return false;
}

/** The socket-mode command line equivalent to a websocksy config file. */
export function websocksyArgs(file: string, source: string): string[] {
  const core: string[] = [];
  const backend: string[] = [];
  let section: 'core' | 'backend' | undefined;
  let backendName: string | undefined;
  source.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    const fail = (message: string): never => {
      throw new ConfigError(file, i + 1, message);
    };
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header) {
      const name = header[1].trim();
      if (name !== 'core' && name !== 'backend')
        fail(`unknown section [${name}] (websocksy has [core] and [backend])`);
      section = name as 'core' | 'backend';
      return;
    }
    const eq = line.indexOf('=');
    if (eq < 1) fail(`expected key = value, got '${line}'`);
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (section === undefined) fail(`'${key}' comes before any [core] or [backend] section`);
    if (section === 'backend') {
      backend.push(`--backend-config=${key}=${value}`);
      return;
    }
    switch (key) {
      case 'port':
        core.push(`--port=${value}`);
        break;
      case 'listen':
        core.push(`--addr=${value === '*' ? '::' : value}`);
        break;
      case 'ping':
        core.push(`--keepalive=${value}`); // websocksy's seconds
        break;
      case 'backend':
        backendName = value;
        break;
      default:
        fail(`unknown [core] key '${key}' (websocksy's are port, listen, ping, backend)`);
    }
  });
  // websocksy's default backend is `defaultpeer`, configured by [backend] host/port/framing lines.
  return [...core, `--backend=${backendName ?? 'defaultpeer'}`, ...backend];
}

/**
 * websocksy's own command line, `websocksy CONFIGFILE`: one argument naming a readable file (not an
 * executable, which would be program mode's COMMAND) whose first section is [core] or [backend].
 */
export function isWebsocksyCommandLine(argv: readonly string[]): boolean {
  if (argv.length !== 1 || argv[0].startsWith('-')) return false;
  try {
    if (!statSync(argv[0]).isFile()) return false;
    try {
      accessSync(argv[0], constants.X_OK);
      return false;
    } catch {
      return isWebsocksyConfig(readFileSync(argv[0], 'utf8'));
    }
  } catch {
    return false;
  }
}
