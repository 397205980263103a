/**
 * The environment a real program gets, end to end: every CGI variable of websocketd by name and value
 * (plus HTTP_HOST), nothing else from the parent but the --passenv variables, HTTPS with --ssl, and
 * REMOTE_ADDR for a Unix-socket client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { selfSignedCert } from '../helpers/server-harness.js';
import { REPO_ROOT } from '../helpers/peers.js';
import {
  connectRecorded,
  fixture,
  NODE,
  record,
  startProgramServer,
  type ProgramServer,
} from '../helpers/program-harness.js';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

describe('the environment of a program', () => {
  let server: ProgramServer;

  before(async () => {
    server = await startProgramServer(['--port=0', '--address=127.0.0.1', NODE, fixture('env.mjs')], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LD_LIBRARY_PATH: '/nonexistent-lib',
        WSBRIDGE_SECRET: 'must not leak',
        HOME: '/root',
      },
    });
  });
  after(() => server.stop());

  it('is exactly websocketd’s CGI variables with their values, plus HTTP_HOST, and PATH/LD_LIBRARY_PATH', async () => {
    let acceptHeader = '';
    // The subprotocols are offered as a plain header: ws then accepts a 101 that selects none.
    const ws = new WebSocket(server.url('/sub/pa%20th/x?a=1&b=%20two'), {
      origin: 'http://example.com:8080',
      headers: {
        'X-Custom-Thing': 'custom value',
        Cookie: 'c=1; d=2',
        'Sec-WebSocket-Protocol': 'chat, superchat',
      },
    });
    const client = record(ws);
    ws.once('upgrade', (res) => (acceptHeader = String(res.headers['sec-websocket-accept'])));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const localPort = (ws as unknown as { _socket: { localPort: number } })._socket.localPort;
    await client.waitMessages(1);
    const env = JSON.parse(client.texts()[0]) as Record<string, string>;
    const key = env.HTTP_SEC_WEBSOCKET_KEY;
    assert.match(key, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(
      createHash('sha1')
        .update(key + GUID)
        .digest('base64'),
      acceptHeader,
      'the key the program saw is the one answered',
    );
    assert.match(env.UNIQUE_ID, /^\d{19}$/);
    const expected: Record<string, string> = {
      SERVER_SOFTWARE: `wsbridge/${VERSION}`,
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_NAME: '127.0.0.1',
      SERVER_PORT: String(server.port),
      REQUEST_METHOD: 'GET',
      REQUEST_URI: '/sub/pa%20th/x?a=1&b=%20two',
      QUERY_STRING: 'a=1&b=%20two',
      SCRIPT_NAME: '/',
      PATH_INFO: '/sub/pa th/x',
      PATH_TRANSLATED: '/sub/pa th/x',
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_HOST: '127.0.0.1',
      REMOTE_PORT: String(localPort),
      UNIQUE_ID: env.UNIQUE_ID,
      AUTH_TYPE: '',
      CONTENT_LENGTH: '',
      CONTENT_TYPE: '',
      REMOTE_IDENT: '',
      REMOTE_USER: '',
      HTTP_HOST: `127.0.0.1:${server.port}`,
      HTTP_ORIGIN: 'http://example.com:8080',
      HTTP_X_CUSTOM_THING: 'custom value',
      HTTP_COOKIE: 'c=1; d=2',
      HTTP_SEC_WEBSOCKET_PROTOCOL: 'chat, superchat',
      HTTP_SEC_WEBSOCKET_VERSION: '13',
      HTTP_SEC_WEBSOCKET_KEY: key,
      HTTP_SEC_WEBSOCKET_EXTENSIONS: 'permessage-deflate; client_max_window_bits',
      HTTP_CONNECTION: 'Upgrade',
      HTTP_UPGRADE: 'websocket',
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      LD_LIBRARY_PATH: '/nonexistent-lib',
    };
    assert.deepEqual(env, expected);
    assert.equal('HTTPS' in env, false);
    assert.equal('WSBRIDGE_SECRET' in env, false);
    assert.equal('HOME' in env, false);
    client.ws.close(1000);
    await client.closed;
  });

  it('UNIQUE_ID differs between connections and is the start time in nanoseconds', async () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const a = await connectRecorded(server.url('/'));
    const b = await connectRecorded(server.url('/'));
    await Promise.all([a.waitMessages(1), b.waitMessages(1)]);
    const after = BigInt(Date.now()) * 1_000_000n;
    const idA = BigInt((JSON.parse(a.texts()[0]) as Record<string, string>).UNIQUE_ID);
    const idB = BigInt((JSON.parse(b.texts()[0]) as Record<string, string>).UNIQUE_ID);
    assert.notEqual(idA, idB);
    for (const id of [idA, idB])
      assert.ok(id >= before - 50_000_000n && id <= after + 50_000_000n, `${id} in [${before}, ${after}]`);
    await Promise.all([a.closed, b.closed]);
  });

  it('the program exits after printing: the client gets Close 1000', async () => {
    const client = await connectRecorded(server.url('/'));
    assert.deepEqual(await client.closed, { code: 1000, reason: '' });
    assert.equal(client.messages.length, 1);
  });
});

describe('--passenv', () => {
  it('passes exactly the named parent variables (never HTTPS); IPv4 clients of a dual-stack listener', async () => {
    const server = await startProgramServer(
      [
        '--port=0', // every address, IPv4 and IPv6: IPv4 clients arrive as ::ffff:127.0.0.1
        '--passenv=WSBRIDGE_SECRET,HTTPS,UNSET_ONE',
        NODE,
        fixture('env.mjs'),
      ],
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          WSBRIDGE_SECRET: 'line one\nline two',
          HTTPS: 'on',
          LD_LIBRARY_PATH: '/x',
        },
      },
    );
    try {
      const client = await connectRecorded(server.url('/'));
      await client.waitMessages(1);
      const env = JSON.parse(client.texts()[0]) as Record<string, string>;
      assert.equal(env.WSBRIDGE_SECRET, 'line one line two');
      assert.equal('HTTPS' in env, false);
      assert.equal('PATH' in env, false);
      assert.equal('LD_LIBRARY_PATH' in env, false);
      assert.equal('UNSET_ONE' in env, false);
      assert.equal(env.REMOTE_ADDR, '127.0.0.1', 'shown without the IPv4-mapped prefix, as websocketd does');
      assert.equal(env.REMOTE_HOST, '127.0.0.1');
      await client.closed;
    } finally {
      await server.stop();
    }
  });
});

describe('--ssl', () => {
  let dir: string;
  let server: ProgramServer | undefined;
  let skip: string | undefined;

  before(async () => {
    const made = await selfSignedCert();
    if ('skip' in made) {
      skip = made.skip;
      return;
    }
    dir = mkdtempSync(join(tmpdir(), 'wsb-ssl-'));
    writeFileSync(join(dir, 'cert.pem'), made.cert);
    writeFileSync(join(dir, 'key.pem'), made.key);
    server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      '--ssl',
      `--sslcert=${join(dir, 'cert.pem')}`,
      `--sslkey=${join(dir, 'key.pem')}`,
      NODE,
      fixture('env.mjs'),
    ]);
  });
  after(async () => {
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sets HTTPS=on and serves wss://', async (t) => {
    if (skip) return t.skip(skip);
    assert.match(server!.listening[0], /listening on wss:\/\//);
    const client = await connectRecorded(server!.url('/secure'), { rejectUnauthorized: false });
    await client.waitMessages(1);
    const env = JSON.parse(client.texts()[0]) as Record<string, string>;
    assert.equal(env.HTTPS, 'on');
    assert.equal(env.SERVER_PORT, String(server!.port));
    assert.equal(env.PATH_INFO, '/secure');
    await client.closed;
  });
});

describe('--unixsocket', () => {
  it('REMOTE_ADDR is unix-socket and REMOTE_PORT empty; no TCP listener when it is the only one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsb-unix-'));
    const path = join(dir, 'ws.sock');
    const server = await startProgramServer([`--unixsocket=${path}`, NODE, fixture('env.mjs')]);
    try {
      assert.equal(server.listening.length, 1);
      assert.match(server.listening[0], /ws\+unix:/);
      const client = await connectRecorded(`ws+unix://${path}:/over/unix?q=1`);
      await client.waitMessages(1);
      const env = JSON.parse(client.texts()[0]) as Record<string, string>;
      assert.equal(env.REMOTE_ADDR, 'unix-socket');
      assert.equal(env.REMOTE_HOST, 'unix-socket');
      assert.equal(env.REMOTE_PORT, '');
      assert.equal(env.PATH_INFO, '/over/unix');
      assert.equal(env.QUERY_STRING, 'q=1');
      await client.closed;
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
