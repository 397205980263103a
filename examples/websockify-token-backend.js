// websockify's token lookup as a wsbridge backend:
//   wsbridge --backend=examples/websockify-token-backend.js -c source=/etc/websockify/tokens [-c host-token=1]
// `source` is a file, or a directory of files, of `token: host:port` lines (websockify's TokenFile:
// read again on every lookup, so edits apply at once). The token comes from `?token=` (or, with
// host-token=1, the Host header without its port). Unknown tokens are refused with 403; a client cannot
// name an arbitrary host:port (websockify #587).
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

async function readTokens(source) {
  const info = await stat(source);
  const files = info.isDirectory() ? (await readdir(source)).map((name) => join(source, name)) : [source];
  const tokens = new Map();
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const token = line.slice(0, colon).trim();
      const target = line.slice(colon + 1).trim();
      if (token && target && !tokens.has(token)) tokens.set(token, target);
    }
  }
  return tokens;
}

export default async function select(request, settings) {
  if (!settings.source) return { status: 500, message: 'token backend: no source configured' };
  const token =
    settings['host-token'] === '1'
      ? String(request.headers.host ?? '').replace(/:\d+$/, '')
      : request.query.token;
  if (!token) return { status: 403, message: 'no token' };
  const target = (await readTokens(settings.source)).get(token);
  if (!target) return { status: 403, message: 'unknown token' };
  // websockify answers `binary` to clients that offer it (legacy noVNC), and sends binary frames.
  return {
    peer: target.includes('://') ? target : `tcp://${target}`,
    framing: 'binary',
    protocol: request.protocols.includes('binary') ? 'binary' : '',
  };
}
