/**
 * Socket mode end to end: the real `wsbridge` binary between `ws` clients and real peers started here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { unixDgramMissing } from '../../src/modes/socket/unix-dgram-peer.js';
import { runCli, startCli, tempDir, type CliServer } from '../helpers/peers.js';
import {
  lineService,
  listenPeer,
  Recorder,
  refusingPort,
  rss,
  sleep,
  tcpEcho,
  udpEcho,
  until,
  type Peer,
} from './harness.js';

/** Echoes each datagram to its sender (an independent Unix datagram peer). */
const UNIX_DGRAM_ECHO =
  'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\n' +
  'while True:\n    data, addr = s.recvfrom(65536)\n    s.sendto(data, addr)\n';

const running: CliServer[] = [];
const peers: Peer[] = [];
after(async () => {
  for (const s of running) await s.stop();
  for (const p of peers) await p.close();
});

async function bridge(args: string[]): Promise<CliServer> {
  const server = await startCli(['--port=0', '--addr=127.0.0.1', ...args]);
  running.push(server);
  return server;
}
async function peer(p: Promise<Peer>): Promise<Peer> {
  const started = await p;
  peers.push(started);
  return started;
}
const url = (server: CliServer, path = '/'): string => `ws://127.0.0.1:${server.port}${path}`;

describe('socket mode: stream peers', () => {
  let echoPeer: Peer;
  let server: CliServer;
  before(async () => {
    echoPeer = await peer(tcpEcho());
    server = await bridge([`--peer=tcp://127.0.0.1:${echoPeer.port}`]);
  });

  it('relays a TCP echo: text stays text (auto framing), invalid UTF-8 is binary', async () => {
    const client = await Recorder.open(url(server));
    client.ws.send('héllo');
    await client.waitMessages(1);
    assert.deepEqual(client.messages[0], { data: Buffer.from('héllo'), binary: false });
    client.ws.send(Buffer.from([0xff, 0x00, 0x01]));
    await client.waitMessages(2);
    assert.deepEqual(client.messages[1], { data: Buffer.from([0xff, 0x00, 0x01]), binary: true });
    client.ws.close();
    await client.waitClose();
  });

  it('relays 4 MiB both ways intact, in order', async () => {
    const client = await Recorder.open(url(server));
    const total = 4 * 1024 * 1024;
    const data = Buffer.alloc(total);
    for (let i = 0; i < total; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
    for (let at = 0; at < total; at += 65536) client.ws.send(data.subarray(at, at + 65536));
    await until(() => client.bytes >= total, 15000, 'all bytes back');
    assert.equal(Buffer.compare(Buffer.concat(client.messages.map((m) => m.data)), data), 0);
    client.ws.close();
  });

  it('the client going away closes the peer', async () => {
    const before = echoPeer.sockets.length;
    const client = await Recorder.open(url(server));
    await until(() => echoPeer.sockets.length > before, 2000, 'peer connected');
    const sock = echoPeer.sockets[echoPeer.sockets.length - 1];
    let ended = false;
    sock.once('end', () => (ended = true));
    client.ws.terminate();
    await until(() => ended || sock.destroyed, 5000, 'peer socket ended');
  });

  it('a line service with newline framing, lines split across writes', async () => {
    const lines = await peer(lineService());
    const s = await bridge([
      `--peer=tcp://127.0.0.1:${lines.port}`,
      '--framing=newline',
      '--framing-config=lf',
    ]);
    const client = await Recorder.open(url(s));
    client.ws.send('one\ntw');
    client.ws.send('o\nthree\n');
    await client.waitMessages(3);
    assert.deepEqual(client.texts(), ['you said: one\n', 'you said: two\n', 'you said: three\n']);
    assert.ok(client.messages.every((m) => !m.binary));
    client.ws.close();
  });

  it('a Unix stream peer', async () => {
    const dir = tempDir();
    const path = join(dir.path, 'echo.sock');
    await peer(tcpEcho({ path }));
    const s = await bridge([`--peer=unix://${path}`, '--framing=binary']);
    const client = await Recorder.open(url(s));
    client.ws.send('over unix');
    await client.waitMessages(1);
    assert.deepEqual(client.messages[0], { data: Buffer.from('over unix'), binary: true });
    client.ws.close();
    await client.waitClose();
    dir.cleanup();
  });

  it('a refusing peer is a 502 with a log line', async () => {
    const port = await refusingPort();
    const s = await bridge([`--peer=tcp://127.0.0.1:${port}`]);
    await assert.rejects(Recorder.open(url(s, '/x')), (e: { status?: number }) => e.status === 502);
    await s.waitForStderr(/cannot connect to tcp:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
    await s.waitForStderr(/handshake refused 502/);
  });

  it('a peer that never completes the connect (a silent TLS peer) is a 502 after --connect-timeout', async () => {
    const silent = await peer(listenPeer((socket) => socket.pause()));
    const s = await bridge([`--peer=tcps://127.0.0.1:${silent.port}`, '--connect-timeout=300']);
    const started = Date.now();
    await assert.rejects(Recorder.open(url(s)), (e: { status?: number }) => e.status === 502);
    assert.ok(Date.now() - started >= 250 && Date.now() - started < 5000);
    await s.waitForStderr(/cannot connect to tcps:\/\/127\.0\.0\.1:\d+: timed out after 300 ms/);
  });

  it('a peer dying mid-session closes the client with 1014', async () => {
    const dying = await peer(listenPeer((socket) => socket.on('data', () => socket.resetAndDestroy())));
    const s = await bridge([`--peer=tcp://127.0.0.1:${dying.port}`]);
    const client = await Recorder.open(url(s));
    client.ws.send('please die');
    const closed = await client.waitClose();
    assert.equal(closed.code, 1014);
    assert.match(closed.reason, /ECONNRESET/);
    await s.waitForStderr(/connection to peer lost: ECONNRESET; closing the client with 1014/);
  });

  it("the peer's FIN: buffered output flushed, then Close 1000; the client's close ends the peer", async () => {
    let peerSawEnd = false;
    const finPeer = await peer(
      listenPeer((socket) => {
        socket.write('partial line without separator');
        socket.end();
        socket.on('end', () => (peerSawEnd = true));
        socket.resume();
      }),
    );
    const s = await bridge([`--peer=tcp://127.0.0.1:${finPeer.port}`, '--framing=newline']);
    const client = await Recorder.open(url(s));
    const closed = await client.waitClose();
    assert.deepEqual(client.texts(), ['partial line without separator']);
    assert.equal(closed.code, 1000);
    await until(() => peerSawEnd, 3000, 'peer saw our FIN');
  });

  it('a peer that never sends a boundary within the cap closes the client with 1009', async () => {
    const noSep = await peer(listenPeer((socket) => socket.write(Buffer.alloc(5000, 0x61))));
    const s = await bridge([
      `--peer=tcp://127.0.0.1:${noSep.port}`,
      '--framing=separator',
      '--framing-config=\\0',
      '--max-frame-size=4096',
    ]);
    const client = await Recorder.open(url(s));
    const closed = await client.waitClose();
    assert.equal(closed.code, 1009);
    assert.equal(client.messages.length, 0);
    await s.waitForStderr(/separator: no message boundary within 4096 bytes; closing the client with 1009/);
  });
});

describe('socket mode: backpressure', () => {
  it('a stalling peer (accepts, never reads) pauses the client; server memory stays bounded', async () => {
    const stalling = await peer(listenPeer((socket) => socket.pause()));
    const s = await bridge([`--peer=tcp://127.0.0.1:${stalling.port}`]);
    const client = await Recorder.open(url(s));
    const base = rss(s.child.pid!);
    const chunk = Buffer.alloc(64 * 1024, 1);
    const total = 96 * 1024 * 1024;
    for (let sent = 0; sent < total; sent += chunk.length) client.ws.send(chunk);
    await sleep(1500);
    // The bridge stopped reading: most of it is still queued in the client.
    assert.ok(client.ws.bufferedAmount > 48 * 1024 * 1024, `client buffered ${client.ws.bufferedAmount}`);
    const grown = rss(s.child.pid!) - base;
    assert.ok(grown < 40 * 1024 * 1024, `bridge RSS grew by ${grown} bytes`);
    assert.equal(client.closed, undefined);
    client.ws.terminate();
  });

  it('a flooding peer is paused while the client does not read; nothing is dropped', async () => {
    let written = 0;
    let blocked = false;
    const block = Buffer.alloc(64 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = i & 0xff;
    const limit = 64 * 1024 * 1024;
    const flooding = await peer(
      listenPeer((socket) => {
        const pump = (): void => {
          while (written < limit) {
            written += block.length;
            if (!socket.write(block)) {
              blocked = true;
              socket.once('drain', pump);
              return;
            }
          }
          socket.end();
        };
        pump();
      }),
    );
    const s = await bridge([`--peer=tcp://127.0.0.1:${flooding.port}`, '--framing=binary']);
    const client = await Recorder.open(url(s));
    client.ws.pause();
    const base = rss(s.child.pid!);
    await sleep(1500);
    const stalledAt = written;
    await sleep(500);
    assert.ok(blocked, 'the flooder saw backpressure');
    assert.equal(written, stalledAt, 'the flooder stays blocked while the client does not read');
    assert.ok(written < limit / 2, `only ${written} bytes left the flooder`);
    const grown = rss(s.child.pid!) - base;
    assert.ok(grown < 40 * 1024 * 1024, `bridge RSS grew by ${grown} bytes`);
    client.ws.resume();
    const closed = await client.waitClose(30000);
    assert.equal(closed.code, 1000);
    assert.equal(client.bytes, limit);
    const all = Buffer.concat(client.messages.map((m) => m.data));
    for (let at = 0; at < all.length; at += block.length)
      assert.equal(Buffer.compare(all.subarray(at, at + block.length), block), 0, `block at ${at}`);
  });
});

describe('socket mode: datagram peers', () => {
  it('UDP echo: one message per datagram', async () => {
    const udp = await udpEcho();
    try {
      const s = await bridge([`--peer=udp://127.0.0.1:${udp.port}`]);
      const client = await Recorder.open(url(s));
      client.ws.send('ping 1');
      client.ws.send(Buffer.from([0xfe, 1, 2]));
      await client.waitMessages(2);
      assert.deepEqual(client.messages, [
        { data: Buffer.from('ping 1'), binary: false },
        { data: Buffer.from([0xfe, 1, 2]), binary: true },
      ]);
      assert.deepEqual(udp.received, [Buffer.from('ping 1'), Buffer.from([0xfe, 1, 2])]);
      client.ws.close();
    } finally {
      udp.close();
    }
  });

  it('UDP to a closed port: ICMP unreachable closes the client with 1014', async () => {
    const udp = await udpEcho();
    const port = udp.port;
    udp.close();
    const s = await bridge([`--peer=udp://127.0.0.1:${port}`]);
    const client = await Recorder.open(url(s));
    client.ws.send('anyone?');
    const closed = await client.waitClose();
    assert.equal(closed.code, 1014);
    assert.match(closed.reason, /ECONNREFUSED/);
  });

  it('unix-dgram:// echo: one message per datagram; a missing path is a 502', async (t) => {
    const missing = unixDgramMissing();
    if (missing) {
      if (process.env.WSBRIDGE_REQUIRE_PEERS === '1') assert.fail(missing);
      t.skip(missing);
      return;
    }
    const dir = tempDir();
    const path = join(dir.path, 'echo.sock');
    const echo = spawn('/usr/bin/python3', ['-c', UNIX_DGRAM_ECHO, path], { stdio: 'ignore' });
    try {
      await until(() => existsSync(path), 5000, 'python unix-dgram echo');
      const s = await bridge([`--peer=unix-dgram://${path}`]);
      const client = await Recorder.open(url(s));
      client.ws.send('ping 1');
      client.ws.send(Buffer.from([0xfe, 1, 2]));
      await client.waitMessages(2);
      assert.deepEqual(client.messages, [
        { data: Buffer.from('ping 1'), binary: false },
        { data: Buffer.from([0xfe, 1, 2]), binary: true },
      ]);
      client.ws.close();
      const gone = await bridge([`--peer=unix-dgram://${join(dir.path, 'nobody.sock')}`]);
      await assert.rejects(Recorder.open(url(gone)), (e: { status?: number }) => e.status === 502);
    } finally {
      echo.kill('SIGKILL');
      dir.cleanup();
    }
  });
});

describe('socket mode: subprotocols and the command line', () => {
  let echoPeer: Peer;
  before(async () => {
    echoPeer = await peer(tcpEcho());
  });

  it('--protocol=NAME answers it when offered (case-insensitively); a client offering none is accepted', async () => {
    const s = await bridge([`--peer=tcp://127.0.0.1:${echoPeer.port}`, '--protocol=chat']);
    const a = await Recorder.open(url(s), ['x', 'Chat']);
    assert.equal(a.ws.protocol, 'Chat');
    const b = await Recorder.open(url(s));
    assert.equal(b.ws.protocol, '');
    a.ws.close();
    b.ws.close();
  });

  it('--protocol=* answers the first offer; --require-protocol refuses clients offering none', async () => {
    const s = await bridge([`--peer=tcp://127.0.0.1:${echoPeer.port}`, '--protocol=*', '--require-protocol']);
    const a = await Recorder.open(url(s), ['first', 'second']);
    assert.equal(a.ws.protocol, 'first');
    await assert.rejects(Recorder.open(url(s)), (e: { status?: number }) => e.status === 400);
    a.ws.close();
  });

  it('bad flags exit 2 with one line naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['--peer=tcp://host'], /--peer: peer 'tcp:\/\/host': no port/],
      [['--peer=tcp://::1:80'], /must be in brackets/],
      [['--peer=ftp://x:1'], /unknown scheme 'ftp:\/\/'/],
      [['--peer=tcp://a:1', '--framing=lines'], /--framing: unknown framing 'lines'/],
      [['--peer=tcp://a:1', '--framing=separator'], /must give the separator/],
      [
        ['--peer=tcp://a:1', '--framing=dynamic32', '--framing-config=endian=middle'],
        /endian must be big or little/,
      ],
      [['--backend=nosuch'], /unknown backend 'nosuch'/],
      [['--backend=file', '-c', 'path=/tmp'], /needs at least one expression/],
    ];
    for (const [args, pattern] of cases) {
      const result = await runCli(args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, pattern);
      assert.equal(result.stderr.trim().split('\n').length, 1);
    }
    const help = await runCli(['--backend=file', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--framing-config/);
  });

  it("socket mode is chosen by --peer/--backend among the options, not in a program's arguments", async () => {
    const { isSocketCommandLine } = await import('../../src/cli/pick-mode.js');
    assert.equal(isSocketCommandLine(['--peer=tcp://h:1']), true);
    assert.equal(isSocketCommandLine(['-p', '8080', '--peer', 'tcp://h:1']), true);
    assert.equal(isSocketCommandLine(['-b', 'file', '-c', 'path=/x']), true);
    assert.equal(isSocketCommandLine(['--port=8080', 'nc', '--peer=x']), false);
    assert.equal(isSocketCommandLine(['--', 'prog', '--backend=x']), false);
    assert.equal(isSocketCommandLine(['--echo-mode']), false);
  });

  it('IPv6 peers in brackets', async () => {
    const v6 = await peer(
      new Promise<Peer>((resolve, reject) => {
        import('node:net').then(({ createServer }) => {
          const sockets: import('node:net').Socket[] = [];
          const server = createServer((sock) => {
            sockets.push(sock);
            sock.pipe(sock);
          });
          server.once('error', reject);
          server.listen(0, '::1', () =>
            resolve({
              server,
              port: (server.address() as import('node:net').AddressInfo).port,
              sockets,
              close: () => new Promise((r) => (sockets.forEach((x) => x.destroy()), server.close(() => r()))),
            }),
          );
        });
      }),
    ).catch(() => undefined);
    if (!v6) return; // no IPv6 loopback in this environment
    const s = await bridge([`--peer=tcp://[::1]:${v6.port}`]);
    const client = await Recorder.open(url(s));
    client.ws.send('v6');
    await client.waitMessages(1);
    assert.equal(client.texts()[0], 'v6');
    client.ws.close();
  });
});
