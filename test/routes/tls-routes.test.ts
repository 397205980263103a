/**
 * A config file with [server] ssl-cert/ssl-key: every route is served over TLS (https:// for the static
 * route, wss:// for the WebSocket ones), and a socket route reaches a TLS peer with peer-tls.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import {
  echo,
  openWs,
  makeCertificate,
  opensslMissing,
  runCli,
  settle,
  startCli,
  tempDir,
  type CliServer,
} from '../helpers/peers.js';

const missing = opensslMissing();
const required = process.env.WSBRIDGE_REQUIRE_PEERS === '1';

function get(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('routes over TLS', { skip: !required && missing ? missing : false }, () => {
  const dir = tempDir('wsb-tls-routes-');
  let cert = '';
  let key = '';
  let peer: Server;
  let server: CliServer;
  before(async () => {
    if (missing) throw new Error(missing);
    ({ cert, key } = makeCertificate(dir.path));
    peer = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (socket: TLSSocket) =>
      socket.pipe(socket),
    );
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    mkdirSync(join(dir.path, 'www'));
    writeFileSync(join(dir.path, 'www', 'index.html'), 'secure page\n');
    const config = join(dir.path, 'tls.toml');
    writeFileSync(
      config,
      `[server]\nport = 0\naddr = "127.0.0.1"\nssl-cert = "${cert}"\nssl-key = "${key}"\n\n` +
        `[[route]]\nprefix = "/"\ntype = "static"\nstaticdir = "${dir.path}/www"\n\n` +
        `[[route]]\npath = "/echo"\ntype = "echo"\n\n` +
        `[[route]]\npath = "/tls-peer"\ntype = "socket"\npeer = "tcp://127.0.0.1:${(peer.address() as AddressInfo).port}"\n` +
        `peer-tls = true\npeer-ca = "${cert}"\nframing = "binary"\n`,
    );
    server = await startCli([`--config=${config}`]);
  });
  after(async () => {
    await server?.stop();
    await new Promise<void>((resolve) => (peer ? peer.close(() => resolve()) : resolve()));
    dir.cleanup();
  });

  it('listens with TLS: the log says wss, the static route answers over https', async () => {
    assert.match(server.listening, /listening on wss:\/\/127\.0\.0\.1:\d+\//);
    const page = await get(`https://127.0.0.1:${server.port}/`, readFileSync(cert));
    assert.deepEqual(page, { status: 200, body: 'secure page\n' });
  });

  it('wss:// to an echo route, and through a socket route to a TLS peer', async () => {
    const ca = readFileSync(cert);
    const ws = await openWs(`wss://127.0.0.1:${server.port}/echo`, undefined, { ca });
    assert.equal((await echo(ws, 'over tls')).data.toString(), 'over tls');
    await settle(ws);
    const bridged = await openWs(`wss://127.0.0.1:${server.port}/tls-peer`, undefined, { ca });
    assert.equal((await echo(bridged, Buffer.from('tls both ways'))).data.toString(), 'tls both ways');
    await settle(bridged);
  });

  it('ssl-ca: only clients with a certificate the CA signed get in; redirect-port answers 301 to https', async () => {
    const config = join(dir.path, 'client-certs.toml');
    writeFileSync(
      config,
      `[server]\nport = 0\naddr = "127.0.0.1"\nssl-cert = "${cert}"\nssl-key = "${key}"\nssl-ca = "${cert}"\n` +
        `redirect-port = 0\n\n[[route]]\npath = "/echo"\ntype = "echo"\n`,
    );
    const strict = await startCli([`--config=${config}`]);
    try {
      const ca = readFileSync(cert);
      // The self-signed certificate is its own CA: as the client's certificate it is one the CA signed.
      const ws = await openWs(`wss://127.0.0.1:${strict.port}/echo`, undefined, {
        ca,
        cert: readFileSync(cert),
        key: readFileSync(key),
      });
      assert.equal(
        (await echo(ws, 'with a client certificate')).data.toString(),
        'with a client certificate',
      );
      await settle(ws);
      await assert.rejects(openWs(`wss://127.0.0.1:${strict.port}/echo`, undefined, { ca }));
      await strict.waitForStderr(/redirecting http:\/\/127\.0\.0\.1:\d+\//);
      const redirectPort = Number(/redirecting http:\/\/127\.0\.0\.1:(\d+)\//.exec(strict.stderr())![1]);
      const answer = await fetch(`http://127.0.0.1:${redirectPort}/echo?x=1`, { redirect: 'manual' });
      assert.equal(answer.status, 301);
      assert.equal(answer.headers.get('location'), `https://127.0.0.1:${strict.port}/echo?x=1`);
    } finally {
      await strict.stop();
    }
  });

  it('a key that is not a key stops the start with the setting names', async () => {
    const bad = join(dir.path, 'bad.toml');
    writeFileSync(
      bad,
      `[server]\nssl-cert = "${cert}"\nssl-key = "${cert}"\n[[route]]\npath = "/"\ntype = "echo"\n`,
    );
    const result = await runCli([`--config=${bad}`]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      new RegExp(`^wsbridge: ${bad}:2: \\[server\\] ssl-cert/ssl-key: not a usable certificate and key`),
    );
  });
});
