/** TLS towards peers (tcps://, --peer-tls) and on the listening side, with certificates made by openssl. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { makeCertificate, opensslMissing, startCli, tempDir, type CliServer } from '../helpers/peers.js';
import { Recorder } from './harness.js';

const missing = opensslMissing();
const required = process.env.WSBRIDGE_REQUIRE_PEERS === '1';

describe('TLS peers', { skip: !required && missing ? missing : false }, () => {
  const dir = tempDir();
  const servers: CliServer[] = [];
  let peer: Server;
  let port = 0;
  let cert = '';
  let key = '';
  before(async () => {
    if (missing) throw new Error(missing);
    ({ cert, key } = makeCertificate(dir.path));
    peer = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (socket: TLSSocket) =>
      socket.pipe(socket),
    );
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    port = (peer.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of servers) await s.stop();
    peer?.close();
    dir.cleanup();
  });
  const start = async (args: string[]): Promise<CliServer> => {
    const s = await startCli(['--port=0', '--addr=127.0.0.1', ...args]);
    servers.push(s);
    return s;
  };

  it('tcps:// with --peer-ca verifies the peer and relays', async () => {
    const s = await start([`--peer=tcps://localhost:${port}`, `--peer-ca=${cert}`]);
    const client = await Recorder.open(`ws://127.0.0.1:${s.port}/`);
    client.ws.send('secret');
    await client.waitMessages(1);
    assert.equal(client.texts()[0], 'secret');
    client.ws.close();
  });

  it('an untrusted peer certificate is a 502 naming the reason; --peer-insecure accepts it', async () => {
    const s = await start([`--peer=tcps://localhost:${port}`]);
    await assert.rejects(
      Recorder.open(`ws://127.0.0.1:${s.port}/`),
      (e: { status?: number }) => e.status === 502,
    );
    await s.waitForStderr(
      /cannot connect to tcps:\/\/localhost:\d+: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED)/,
    );
    const t = await start([`--peer=tcp://127.0.0.1:${port}`, '--peer-tls', '--peer-insecure']);
    const client = await Recorder.open(`ws://127.0.0.1:${t.port}/`);
    client.ws.send('ok');
    await client.waitMessages(1);
    assert.equal(client.texts()[0], 'ok');
    client.ws.close();
  });

  it('wss:// on the listening side (--ssl-cert/--ssl-key) in socket mode', async () => {
    const s = await start([
      `--peer=tcps://localhost:${port}`,
      `--peer-ca=${cert}`,
      `--ssl-cert=${cert}`,
      `--ssl-key=${key}`,
    ]);
    assert.match(s.listening, /listening on wss:\/\//);
    const client = await Recorder.open(`wss://localhost:${s.port}/`, undefined, { ca: readFileSync(cert) });
    client.ws.send('both ways');
    await client.waitMessages(1);
    assert.equal(client.texts()[0], 'both ways');
    client.ws.close();
  });
});
