/**
 * Transports: TCP over IPv4 and IPv6, TLS with a certificate made at test time, Unix-domain sockets
 * (stale and live socket files), and `handleUpgrade()` beside a plain node:http server.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer as createHttpServer, get as httpGet, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect, createServer } from '../../src/index.js';
import { RawClient, rawRequest } from '../helpers/raw-client.js';
import {
  assertServes,
  ipv6Available,
  openClient,
  Recorder,
  selfSignedCert,
  startServer,
  stopAll,
  tempDir,
  within,
} from '../helpers/server-harness.js';

afterEach(stopAll);

describe('TCP', () => {
  test('IPv4: echo over 127.0.0.1, remoteAddress is the IPv4 peer', async () => {
    const h = await startServer({}, { listen: { port: 0, host: '127.0.0.1' } });
    assert.ok(h.port > 0);
    assert.equal((h.server.address() as AddressInfo).family, 'IPv4');
    const client = await h.client('/v4');
    assert.equal(await client.roundTrip('over v4'), 'over v4');
    const { conn } = await h.events.next('open');
    assert.equal(conn.remoteAddress, '127.0.0.1');
    assert.equal(conn.path, '/v4');
  });

  test('IPv6: echo over ::1, remoteAddress is ::1', async (t) => {
    if (!(await ipv6Available())) {
      t.skip('IPv6 is not available on this host (cannot listen on ::1)');
      return;
    }
    const h = await startServer({}, { listen: { port: 0, host: '::1' } });
    assert.equal((h.server.address() as AddressInfo).family, 'IPv6');
    assert.match(h.url, /^ws:\/\/\[::1\]:\d+$/);
    const client = await h.client('/v6?q=1');
    assert.equal(await client.roundTrip('over v6'), 'over v6');
    const { conn } = await h.events.next('open');
    assert.equal(conn.remoteAddress, '::1');
    assert.equal(conn.query, 'q=1');
    assert.equal(conn.headers['host'], `[::1]:${h.port}`);
    assert.equal(client.conn.remoteAddress, '::1');
  });

  test('listen() rejects with the bind error when the port is taken', async () => {
    const h = await startServer();
    const second = createServer();
    await assert.rejects(
      second.listen({ port: h.port, host: '127.0.0.1' }),
      (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE',
    );
    await second.close();
    await assertServes(h.url);
  });
});

describe('TLS', () => {
  let material: { cert: Buffer; key: Buffer } | { skip: string };
  before(async () => {
    material = await selfSignedCert();
  });

  test('wss with a self-signed certificate: trusted through ca, or rejectUnauthorized false', async (t) => {
    if ('skip' in material) {
      t.skip(`TLS test skipped: ${material.skip}`);
      return;
    }
    const { cert, key } = material;
    const h = await startServer(
      { tls: { cert, key } },
      { listen: { port: 0, host: '127.0.0.1' }, urlHost: 'localhost' },
    );
    assert.match(h.url, /^wss:\/\/localhost:\d+$/);

    const viaCa = await openClient(h.url + '/secure', { tls: { ca: cert } });
    assert.equal(await viaCa.roundTrip('encrypted'), 'encrypted');
    const big = Buffer.alloc(200 * 1024, 0x5a);
    viaCa.conn.send(big);
    assert.ok((await viaCa.events.next('message')).data.equals(big));
    const { conn } = await h.events.next('open');
    assert.equal(conn.path, '/secure');
    assert.equal(conn.remoteAddress, '127.0.0.1');

    const insecure = await openClient(h.url, { tls: { rejectUnauthorized: false } });
    assert.equal(await insecure.roundTrip('anyway'), 'anyway');

    await assert.rejects(
      connect(h.url, { handshakeTimeout: 3000 }),
      (e: NodeJS.ErrnoException) =>
        /self[- ]signed|DEPTH_ZERO|unable to verify/i.test(`${e.code} ${e.message}`),
      'an untrusted self-signed certificate is refused by default',
    );
    // A plain-TCP client talking to the TLS port must not bring the server down.
    const raw = await RawClient.connect(h.target);
    raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await raw.waitClosed(3000);
    assert.deepEqual(await viaCa.close(1000, 'bye'), { code: 1000, reason: '' });
    await assertServes(h.url, { tls: { ca: cert } }, insecure);
  });
});

describe('Unix-domain socket', () => {
  let tmp: { dir: string; remove(): Promise<void> };
  before(async () => {
    tmp = await tempDir('wsb-unix-');
  });
  after(() => tmp.remove());

  test('echo over a socket path; remoteAddress is empty; the file is removed on close', async () => {
    const path = join(tmp.dir, 'a.sock');
    const h = await startServer({}, { listen: { path } });
    assert.equal(h.server.address(), path);
    assert.ok(existsSync(path));
    const client = await h.client('/unix?z=9');
    assert.equal(await client.roundTrip('local'), 'local');
    const { conn } = await h.events.next('open');
    assert.equal(conn.remoteAddress, '');
    assert.equal(conn.request.remotePort, 0);
    assert.equal(conn.path, '/unix');
    assert.equal(conn.query, 'z=9');
    const raw = await RawClient.open(h.target);
    raw.destroy();
    await h.stop();
    assert.equal(existsSync(path), false, 'socket file removed by close()');
  });

  test('a stale socket file left by a dead process is reused', async () => {
    const path = join(tmp.dir, 'stale.sock');
    const child = spawn(
      process.execPath,
      ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('ready'))", path],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await within(
      new Promise<void>((resolve) => child.stdout!.once('data', () => resolve())),
      5000,
      'child listening',
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(path), 'the killed process left its socket file behind');

    const h = await startServer({}, { listen: { path } });
    const client = await h.client();
    assert.equal(await client.roundTrip('reused'), 'reused');
  });

  test('a live socket file is an error, and the live server keeps serving', async () => {
    const path = join(tmp.dir, 'live.sock');
    const h = await startServer({}, { listen: { path } });
    const existing = await h.client();
    const second = createServer();
    await assert.rejects(second.listen({ path }), (e: NodeJS.ErrnoException) => e.code === 'EADDRINUSE');
    await second.close();
    assert.ok(existsSync(path), 'the live socket file was not removed');
    await assertServes(h.url, h.clientOptions, existing);
  });
});

describe('handleUpgrade() beside node:http', () => {
  test('a plain http.Server serves requests and hands upgrades to the WebSocket server', async () => {
    const events = new Recorder({
      message: (conn, data, isBinary) => conn.send(data, isBinary),
    });
    const wss = createServer({ ...events.handlers, pingInterval: 0 });
    const http = createHttpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`plain ${req.method} ${req.url}`);
    });
    http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as AddressInfo).port;
    try {
      const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        httpGet({ host: '127.0.0.1', port, path: '/page?x=1' }, (res: IncomingMessage) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        }).on('error', reject);
      });
      assert.deepEqual(body, { status: 200, text: 'plain GET /page?x=1' });

      const client = await openClient(`ws://127.0.0.1:${port}/ws?room=1`, { protocols: ['p'] });
      assert.equal(await client.roundTrip('through http'), 'through http');
      const { conn } = await events.next('open');
      assert.equal(conn.path, '/ws');
      assert.equal(conn.query, 'room=1');
      assert.equal(conn.remoteAddress, '127.0.0.1');
      assert.equal(wss.count, 1);

      // Handshake checks still apply to handed-over upgrades.
      const refused = await rawRequest(
        { port },
        'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      assert.equal(refused.status, 426);

      // Normal requests still work alongside an open WebSocket.
      const again = await rawRequest({ port }, 'GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(again.status, 200);
      assert.equal(again.body, 'plain GET /again');

      await within(wss.close(), 3000, 'wss.close()');
      assert.equal((await events.next('close')).code, 1001);
      assert.equal((await client.events.next('close')).code, 1001);
    } finally {
      await wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  test("the server's own `request` option serves plain HTTP on its port", async () => {
    const h = await startServer({
      request(req, res) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`served ${req.url}`);
      },
    });
    const res = await rawRequest(h.target, 'GET /hello?a=b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'served /hello?a=b');
    await assertServes(h.url);
  });
});
