/** Peer selection: websocksy's file backend and JavaScript module backends (websockify's tokens). */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { expandTemplate, parsePeerFile } from '../../src/modes/socket/backend-file.js';
import { parseCookies } from '../../src/modes/socket/backend.js';
import type { PeerRequest } from '../../src/modes/socket/backend.js';
import { REPO_ROOT, startCli, tempDir, type CliServer } from '../helpers/peers.js';
import { lineService, Recorder, tcpEcho, type Peer } from './harness.js';

const request = (over: Partial<PeerRequest> = {}): PeerRequest => ({
  url: '/a/b/',
  path: '/a/b/',
  query: {},
  headers: { 'x-tenant': 'acme' },
  cookies: { sid: 'c1' },
  protocols: [],
  remoteAddress: '127.0.0.1',
  remotePort: 1,
  ...over,
});

describe('file backend units', () => {
  it('expands templates; slashes in values become _; missing or dot values skip the template', () => {
    assert.equal(expandTemplate('%endpoint%.peer', request()), 'a_b.peer');
    assert.equal(expandTemplate('%header:X-Tenant%/%cookie:sid%', request()), 'acme/c1');
    assert.equal(expandTemplate('%cookie:none%', request()), undefined);
    assert.equal(
      expandTemplate('%cookie:sid%', request({ cookies: { sid: '../../etc/passwd' } })),
      '.._.._etc_passwd',
    );
    assert.equal(expandTemplate('x/%cookie:sid%/y', request({ cookies: { sid: '..' } })), undefined);
  });
  it('parses peer lines and cookies', () => {
    assert.deepEqual(parsePeerFile('# c\ntcp://h:1 chat\n\nudp://h:2 * separator \\n\\n x\n'), [
      { peer: 'tcp://h:1', protocol: 'chat', framing: undefined, framingConfig: undefined },
      { peer: 'udp://h:2', protocol: '*', framing: 'separator', framingConfig: '\\n\\n x' },
    ]);
    assert.deepEqual(parseCookies('a=1; b="two"; a=3; c=%41'), { a: '1', b: 'two', c: 'A' });
  });
});

describe('backends end to end', () => {
  const servers: CliServer[] = [];
  const peers: Peer[] = [];
  const dir = tempDir();
  let echo: Peer;
  let lines: Peer;
  before(async () => {
    echo = await tcpEcho();
    lines = await lineService();
    peers.push(echo, lines);
  });
  after(async () => {
    for (const s of servers) await s.stop();
    for (const p of peers) await p.close();
    dir.cleanup();
  });
  const url = (s: CliServer, path: string): string => `ws://127.0.0.1:${s.port}${path}`;

  it('file backend: endpoint template, subprotocol match, per-line framing; unknown endpoint refused', async () => {
    const base = join(dir.path, 'peers');
    mkdirSync(base);
    writeFileSync(
      join(base, 'svc.peer'),
      `tcp://127.0.0.1:${echo.port} echo binary\ntcp://127.0.0.1:${lines.port} lines newline lf\n`,
    );
    writeFileSync(join(dir.path, 'secret.peer'), `tcp://127.0.0.1:${echo.port} *\n`);
    const s = await startCli([
      '--port=0',
      '--addr=127.0.0.1',
      '--backend=file',
      '-c',
      `path=${base}`,
      '-c',
      'expression=%cookie:svc%.peer',
      '-c',
      'expression=%endpoint%.peer',
    ]);
    servers.push(s);
    const a = await Recorder.open(url(s, '/svc'), ['lines']);
    assert.equal(a.ws.protocol, 'lines');
    a.ws.send('hi\n');
    await a.waitMessages(1);
    assert.deepEqual(a.messages[0], { data: Buffer.from('you said: hi\n'), binary: false });
    const b = await Recorder.open(url(s, '/svc')); // no offer: the first line
    b.ws.send('x');
    await b.waitMessages(1);
    assert.deepEqual(b.messages[0], { data: Buffer.from('x'), binary: true });
    await assert.rejects(Recorder.open(url(s, '/nope')), (e: { status?: number }) => e.status === 404);
    await assert.rejects(
      Recorder.open(url(s, '/svc'), ['other']),
      (e: { status?: number }) => e.status === 404,
    );
    // A cookie trying to climb out of the directory finds nothing.
    await assert.rejects(
      Recorder.open(url(s, '/nope'), [], { headers: { cookie: 'svc=../secret' } }),
      (e: { status?: number }) => e.status === 404,
    );
    a.ws.close();
    b.ws.close();
  });

  it('module backend: the websockify token example (file of token: host:port)', async () => {
    const tokens = join(dir.path, 'tokens');
    writeFileSync(tokens, `# websockify tokens\nvnc1: 127.0.0.1:${echo.port}\nvnc2: 127.0.0.1:1\n`);
    const s = await startCli([
      '--port=0',
      '--addr=127.0.0.1',
      `--backend=${join(REPO_ROOT, 'examples', 'websockify-token-backend.js')}`,
      '-c',
      `source=${tokens}`,
    ]);
    servers.push(s);
    const a = await Recorder.open(url(s, '/websockify?token=vnc1'), ['binary']);
    assert.equal(a.ws.protocol, 'binary');
    a.ws.send('RFB 003.008\n');
    await a.waitMessages(1);
    assert.deepEqual(a.messages[0], { data: Buffer.from('RFB 003.008\n'), binary: true });
    await assert.rejects(Recorder.open(url(s, '/?token=bad')), (e: { status?: number }) => e.status === 403);
    await assert.rejects(Recorder.open(url(s, '/')), (e: { status?: number }) => e.status === 403);
    await assert.rejects(Recorder.open(url(s, '/?token=vnc2')), (e: { status?: number }) => e.status === 502);
    a.ws.close();
  });

  it('module backend: sees path, query, headers, cookies, protocols and address; a throw is a 500', async () => {
    const module = join(dir.path, 'select.mjs');
    writeFileSync(
      module,
      `export default (req, settings) => {
        if (req.path === '/boom') throw new Error('boom');
        if (req.cookies.user !== 'ann') return { status: 401, message: 'who?' };
        if (req.headers['x-mode'] !== 'lines' || req.query.q !== '1' || !req.remoteAddress) return { status: 400 };
        return { peer: settings.peer, framing: 'newline', framingConfig: 'lf', protocol: req.protocols[1] };
      };`,
    );
    const s = await startCli([
      '--port=0',
      '--addr=127.0.0.1',
      `--backend=${module}`,
      '-c',
      `peer=tcp://127.0.0.1:${lines.port}`,
    ]);
    servers.push(s);
    const headers = { cookie: 'user=ann', 'x-mode': 'lines' };
    const a = await Recorder.open(url(s, '/x?q=1'), ['p1', 'p2'], { headers });
    assert.equal(a.ws.protocol, 'p2');
    a.ws.send('yo\n');
    await a.waitMessages(1);
    assert.equal(a.texts()[0], 'you said: yo\n');
    await assert.rejects(Recorder.open(url(s, '/x?q=1')), (e: { status?: number }) => e.status === 401);
    await assert.rejects(Recorder.open(url(s, '/boom')), (e: { status?: number }) => e.status === 500);
    await s.waitForStderr(/backend failed for \/boom: boom/);
    a.ws.close();
  });
});
