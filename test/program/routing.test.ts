/**
 * Which program a handshake gets and which handshakes are refused, against the real binary: --dir
 * routing (SCRIPT_NAME/PATH_INFO, 404s, traversal and symlink attempts sent raw, 500 for a file that is
 * not executable), --maxforks (429), --origin/--sameorigin (403), --header*, the subprotocol chosen with
 * --header-ws, repeated --address and --redirport.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  childrenOf,
  connectRecorded,
  rawGet,
  rawUpgrade,
  startProgramServer,
  until,
  type ProgramServer,
} from '../helpers/program-harness.js';

const SHOW = '#!/bin/sh\necho "$SCRIPT_NAME|$PATH_INFO|$QUERY_STRING"\n';

/** A port free right now on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe('--dir: the URL path selects a script', () => {
  let base: string;
  let server: ProgramServer;
  let target: { port: number; host: string };

  before(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'wsb-dir-')));
    const root = join(base, 'root');
    mkdirSync(join(root, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(root, 'top.sh'), SHOW, { mode: 0o755 });
    writeFileSync(join(root, 'sub', 'inner.sh'), SHOW, { mode: 0o755 });
    writeFileSync(join(root, 'not-executable.sh'), SHOW, { mode: 0o644 });
    writeFileSync(join(base, 'outside.sh'), '#!/bin/sh\necho ESCAPED\n', { mode: 0o755 });
    symlinkSync(join(base, 'outside.sh'), join(root, 'link-out.sh'));
    symlinkSync(base, join(root, 'up'));
    symlinkSync(join(root, 'top.sh'), join(root, 'link-in.sh'));
    server = await startProgramServer(['--port=0', '--address=127.0.0.1', `--dir=${root}`]);
    target = { port: server.port, host: '127.0.0.1' };
  });
  after(async () => {
    await server.stop();
    rmSync(base, { recursive: true, force: true });
  });

  const output = async (path: string): Promise<string> => {
    const client = await connectRecorded(server.url(path));
    const closed = await client.closed;
    assert.equal(closed.code, 1000);
    return client.texts()[0];
  };

  it('runs the script named by the path; SCRIPT_NAME and PATH_INFO split there', async () => {
    assert.equal(await output('/top.sh'), '/top.sh||');
    assert.equal(await output('/sub/inner.sh'), '/sub/inner.sh||');
    assert.equal(await output('/sub/inner.sh/extra/path?x=1'), '/sub/inner.sh|/extra/path|x=1');
    assert.equal(await output('/link-in.sh/p'), '/link-in.sh|/p|');
  });

  it('404 for a missing script, a directory or the root', async () => {
    for (const path of ['/nope.sh', '/sub', '/sub/', '/sub/deeper', '/', '/sub/nope.sh/x'])
      assert.equal((await rawUpgrade(target, { path })).status, 404, path);
  });

  it('404 for every way out of the directory: .., encoded .., symlinks out', async () => {
    for (const path of [
      '/../outside.sh',
      '/sub/../../outside.sh',
      '/%2e%2e/outside.sh',
      '/%2E%2E/outside.sh',
      '/sub%2f..%2f..%2foutside.sh',
      '/sub/%2e%2e/%2e%2e/outside.sh',
      '/link-out.sh',
      '/up/outside.sh',
      '//top.sh',
      '/./top.sh',
    ])
      assert.equal((await rawUpgrade(target, { path })).status, 404, path);
    assert.equal(childrenOf(server.pid).length, 0, 'nothing was started');
  });

  it('400 for a malformed percent escape', async () => {
    assert.equal((await rawUpgrade(target, { path: '/top%zz.sh' })).status, 400);
  });

  it('500 with a log line for a file that cannot be executed', async () => {
    assert.equal((await rawUpgrade(target, { path: '/not-executable.sh' })).status, 500);
    await server.waitForLog(/cannot start .*not-executable\.sh: EACCES \(answered 500\)/);
  });
});

describe('--maxforks', () => {
  it('refuses with 429 past the limit, and accepts again once a program is gone', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', '--maxforks=2', 'cat']);
    try {
      const a = await connectRecorded(server.url('/'));
      const b = await connectRecorded(server.url('/'));
      await assert.rejects(connectRecorded(server.url('/')), { statusCode: 429 });
      await server.waitForLog(/--maxforks \(2\) programs already running, refused/);
      a.ws.close(1000);
      await a.closed;
      await until(() => childrenOf(server.pid).length === 1, 3000, 'one program left');
      const c = await connectRecorded(server.url('/'));
      c.ws.send('still works');
      await c.waitMessages(1);
      assert.deepEqual(c.texts(), ['still works']);
      for (const client of [b, c]) client.ws.close(1000);
      await Promise.all([b.closed, c.closed]);
    } finally {
      await server.stop();
    }
  });

  it('CGI runs count too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsb-forks-cgi-'));
    writeFileSync(join(dir, 'hello.cgi'), '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nhello\\n"\n', {
      mode: 0o755,
    });
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      '--maxforks=1',
      `--cgidir=${dir}`,
      'cat',
    ]);
    try {
      assert.equal((await rawGet({ port: server.port }, '/hello.cgi')).status, 200);
      const client = await connectRecorded(server.url('/'));
      const refused = await rawGet({ port: server.port }, '/hello.cgi');
      assert.equal(refused.status, 429);
      client.ws.close(1000);
      await client.closed;
      await until(() => childrenOf(server.pid).length === 0, 3000, 'program gone');
      assert.equal((await rawGet({ port: server.port }, '/hello.cgi')).status, 200);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--origin and --sameorigin', () => {
  it('--origin: listed hosts pass, others and a missing Origin get 403', async () => {
    const server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      '--origin=good.example,strict.example:8443',
      'cat',
    ]);
    const target = { port: server.port, host: '127.0.0.1' };
    try {
      assert.equal((await rawUpgrade(target, { origin: 'http://good.example:1234' })).status, 101);
      assert.equal((await rawUpgrade(target, { origin: 'https://strict.example:8443' })).status, 101);
      assert.equal((await rawUpgrade(target, { origin: 'https://strict.example' })).status, 403);
      assert.equal((await rawUpgrade(target, { origin: 'http://evil.example' })).status, 403);
      assert.equal((await rawUpgrade(target, {})).status, 403);
    } finally {
      await server.stop();
    }
  });

  it('--sameorigin: the Origin must match the Host', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', '--sameorigin', 'cat']);
    const target = { port: server.port, host: '127.0.0.1' };
    const host = `127.0.0.1:${server.port}`;
    try {
      assert.equal((await rawUpgrade(target, { host, origin: `http://${host}` })).status, 101);
      assert.equal((await rawUpgrade(target, { host, origin: 'http://127.0.0.1:1' })).status, 403);
      assert.equal((await rawUpgrade(target, { host })).status, 403);
      const client = await connectRecorded(server.url('/'), { origin: `http://${host}` });
      client.ws.close(1000);
      await client.closed;
    } finally {
      await server.stop();
    }
  });
});

describe('--header, --header-ws, --header-http', () => {
  let server: ProgramServer;
  let target: { port: number; host: string };
  before(async () => {
    server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      '--header=X-All: everywhere',
      '--header-ws=X-WS: upgrade only',
      '--header-http=X-HTTP: http only',
      '--header-ws=Sec-WebSocket-Protocol: chat',
      '--maxforks=1',
      'cat',
    ]);
    target = { port: server.port, host: '127.0.0.1' };
  });
  after(() => server.stop());

  it('the 101 has --header and --header-ws', async () => {
    const response = await rawUpgrade(target);
    assert.equal(response.status, 101);
    assert.equal(response.headers['x-all'], 'everywhere');
    assert.equal(response.headers['x-ws'], 'upgrade only');
    assert.equal(response.headers['x-http'], undefined);
    assert.equal(response.headers['sec-websocket-protocol'], undefined, 'not offered, not chosen');
  });

  it('a plain HTTP answer has --header and --header-http', async () => {
    await until(() => childrenOf(server.pid).length === 0, 3000, 'program gone');
    const response = await rawGet(target, '/');
    assert.equal(response.status, 404);
    assert.equal(response.headers['x-all'], 'everywhere');
    assert.equal(response.headers['x-http'], 'http only');
    assert.equal(response.headers['x-ws'], undefined);
  });

  it('a refused handshake has --header', async () => {
    const client = await connectRecorded(server.url('/'));
    const refused = await rawUpgrade(target);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['x-all'], 'everywhere');
    client.ws.close(1000);
    await client.closed;
  });

  it('--header-ws Sec-WebSocket-Protocol selects that subprotocol when the client offers it', async () => {
    await until(() => childrenOf(server.pid).length === 0, 3000, 'program gone');
    const client = await connectRecorded(server.url('/'), { protocols: ['superchat', 'chat'] });
    assert.equal(client.ws.protocol, 'chat');
    client.ws.close(1000);
    await client.closed;
  });
});

describe('listening', () => {
  it('--address is repeatable: one listener per address, all on --port', async () => {
    const port = await freePort();
    const server = await startProgramServer(
      ['--address=127.0.0.1', '--address=127.0.0.2', `--port=${port}`, 'cat'],
      { listeners: 2 },
    );
    try {
      assert.match(server.listening[0], new RegExp(`ws://127\\.0\\.0\\.1:${port}/`));
      assert.match(server.listening[1], new RegExp(`ws://127\\.0\\.0\\.2:${port}/`));
      for (const host of ['127.0.0.1', '127.0.0.2']) {
        const client = await connectRecorded(`ws://${host}:${port}/`);
        client.ws.send(host);
        await client.waitMessages(1);
        assert.deepEqual(client.texts(), [host]);
        client.ws.close(1000);
        await client.closed;
      }
    } finally {
      await server.stop();
    }
  });

  it('--redirport answers with a 301 to the canonical address', async () => {
    const [port, redirect] = [await freePort(), await freePort()];
    const server = await startProgramServer([
      '--address=127.0.0.1',
      `--port=${port}`,
      `--redirport=${redirect}`,
      'cat',
    ]);
    try {
      await server.waitForLog('redirecting');
      const response = await rawGet({ port: redirect, host: '127.0.0.1' }, '/some/path?q=1', {
        Host: 'example.com:9999',
      });
      assert.equal(response.status, 301);
      assert.equal(response.headers.location, `http://example.com:${port}/some/path?q=1`);
    } finally {
      await server.stop();
    }
  });
});
