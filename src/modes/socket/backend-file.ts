/**
 * websocksy's `file` backend: `expression` templates (tried in order) name a file under `path`; the
 * file's lines are `PEER SUBPROTOCOL [FRAMING [CONFIG]]`. Template variables: `%endpoint%` (the request
 * path without leading/trailing slashes), `%cookie:NAME%`, `%header:NAME%`. In values, `/` becomes `_`
 * (websocksy's rule); beyond websocksy, a value of `.`/`..` or with a NUL skips the template, and the
 * file's real path must lie inside `path`, so no value can climb out of the directory.
 *
 * A template with a missing variable, or naming no file, is skipped. The first line whose subprotocol
 * matches one the client offered wins (`*` matches its first offer); a client offering none gets the
 * first line. Nothing found: the handshake is refused (404).
 */
import { readFile, realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import type { Backend, PeerChoice, PeerRequest } from './backend.js';

export interface FileBackendConfig {
  /** Base directory. */
  path: string;
  /** Templates, tried in order. */
  expressions: string[];
}

export class BackendConfigError extends Error {
  override name = 'BackendConfigError';
}

/** Builds the config from websocksy's `[backend]` / `-c key=value` pairs. */
export function fileBackendConfig(pairs: readonly [string, string][]): FileBackendConfig {
  let path: string | undefined;
  const expressions: string[] = [];
  for (const [key, value] of pairs) {
    if (key === 'path') path = value;
    else if (key === 'expression') expressions.push(value);
    else throw new BackendConfigError(`file backend: unknown key '${key}' (path, expression)`);
  }
  if (!path) throw new BackendConfigError('file backend: needs path=DIRECTORY');
  if (expressions.length === 0)
    throw new BackendConfigError('file backend: needs at least one expression=TEMPLATE');
  return { path, expressions };
}

function headerValue(request: PeerRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Expands a template; undefined when a variable is missing or a value is unsafe. */
export function expandTemplate(template: string, request: PeerRequest): string | undefined {
  let missing = false;
  const out = template.replace(/%(endpoint|cookie:[^%]+|header:[^%]+)%/g, (_m, variable: string) => {
    let value: string | undefined;
    if (variable === 'endpoint') value = request.path.replace(/^\/+|\/+$/g, '');
    else if (variable.startsWith('cookie:')) value = request.cookies[variable.slice(7)];
    else value = headerValue(request, variable.slice(7));
    if (value === undefined || value === '' || value === '.' || value === '..' || value.includes('\0')) {
      missing = true;
      return '';
    }
    return value.replace(/[/\\]/g, '_');
  });
  return missing ? undefined : out;
}

interface PeerLine {
  peer: string;
  protocol: string;
  framing?: string;
  framingConfig?: string;
}

export function parsePeerFile(text: string): PeerLine[] {
  const lines: PeerLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(\S+)(?:\s+(\S+)(?:\s+(.*))?)?$/.exec(line);
    if (!m) continue;
    lines.push({ peer: m[1], protocol: m[2], framing: m[3], framingConfig: m[4]?.trim() });
  }
  return lines;
}

function pick(lines: PeerLine[], offered: readonly string[]): PeerChoice | undefined {
  if (lines.length === 0) return undefined;
  const choose = (line: PeerLine, protocol: string | undefined): PeerChoice => ({
    peer: line.peer,
    framing: line.framing,
    framingConfig: line.framingConfig,
    protocol: protocol ?? '',
  });
  if (offered.length === 0) return choose(lines[0], undefined);
  for (const line of lines) {
    if (line.protocol === '*') return choose(line, offered[0]);
    const hit = offered.find((p) => p.toLowerCase() === line.protocol.toLowerCase());
    if (hit !== undefined) return choose(line, hit);
  }
  return undefined;
}

export function createFileBackend(config: FileBackendConfig): Backend {
  const base = resolve(config.path);
  return async (request) => {
    const realBase = await realpath(base).catch(() => base);
    for (const template of config.expressions) {
      const name = expandTemplate(template, request);
      if (name === undefined) continue;
      const file = resolve(realBase, name);
      const real = await realpath(file).catch(() => undefined);
      if (!real || !(real === realBase || real.startsWith(realBase + sep))) continue;
      const text = await readFile(real, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      const choice = pick(parsePeerFile(text), request.protocols);
      if (choice) return choice;
    }
    return null;
  };
}
