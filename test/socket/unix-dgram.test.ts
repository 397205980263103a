/**
 * unix-dgram:// peers at the library level (createPeerBridge + createServer), with `ws` clients and a
 * real Unix datagram echo server in /usr/bin/python3 (an independent implementation of the peer side).
 * Without the optional add-on the tests skip, or fail under WSBRIDGE_REQUIRE_PEERS=1.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { createPeerBridge } from '../../src/modes/socket/peer-bridge.js';
import type { PeerSession } from '../../src/modes/socket/peer-session.js';
import { unixDgramMissing } from '../../src/modes/socket/unix-dgram-peer.js';
import { createServer, type Server } from '../../src/index.js';
import { Recorder, until } from './harness.js';

const missing = unixDgramMissing();
if (missing && process.env.WSBRIDGE_REQUIRE_PEERS === '1') throw new Error(missing);
if (missing) console.log(`# skipping unix-dgram tests: ${missing}`);

// Echoes each datagram to its sender and prints one JSON line per event; `slow` reads nothing for 0.5 s.
const ECHO = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"ready": True}), flush=True)
if sys.argv[2] == "slow": time.sleep(0.5)
while True:
    data, addr = s.recvfrom(1 << 20)
    print(json.dumps({"from": addr, "len": len(data)}), flush=True)
    s.sendto(data, addr)
`;

interface EchoPeer {
  path: string;
  child: ChildProcess;
  /** Sender paths, one per datagram received. */
  senders: string[];
}

let dir: string;
const children: ChildProcess[] = [];
const servers: Server<PeerSession>[] = [];
let peerSeq = 0;

async function echoPeer(mode: 'echo' | 'slow' = 'echo'): Promise<EchoPeer> {
  const path = join(dir, `peer${++peerSeq}.sock`);
  const child = spawn('/usr/bin/python3', ['-c', ECHO, path, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const peer: EchoPeer = { path, child, senders: [] };
  let ready = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const event = JSON.parse(line) as { ready?: boolean; from?: string };
    if (event.ready) ready = true;
    if (event.from !== undefined) peer.senders.push(event.from);
  });
  await until(() => ready, 5000, 'python echo peer ready');
  return peer;
}

async function bridge(path: string): Promise<string> {
  const peerBridge = createPeerBridge({ peer: { scheme: 'unix-dgram', path } });
  const server = createServer<PeerSession>({ upgrade: peerBridge.upgrade, ...peerBridge.handlers });
  await server.listen({ port: 0, host: '127.0.0.1' });
  servers.push(server);
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  return `ws://127.0.0.1:${address.port}/`;
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('unix-dgram:// peers', { skip: missing }, () => {
  let peer: EchoPeer;
  let url: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'wsb-ud-'));
    peer = await echoPeer();
    url = await bridge(peer.path);
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    for (const server of servers) await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('echoes: one message per datagram, text stays text, invalid UTF-8 is binary', async () => {
    const client = await Recorder.open(url);
    client.ws.send('ping 1');
    client.ws.send(Buffer.from([0xfe, 1, 2]));
    client.ws.send(Buffer.alloc(60000, 'x'));
    await client.waitMessages(3);
    assert.deepEqual(client.messages, [
      { data: Buffer.from('ping 1'), binary: false },
      { data: Buffer.from([0xfe, 1, 2]), binary: true },
      { data: Buffer.alloc(60000, 'x'), binary: false },
    ]);
    client.ws.close();
  });

  it('a burst beyond the peer queue (EAGAIN) arrives whole and in order', async () => {
    const slow = await echoPeer('slow');
    const client = await Recorder.open(await bridge(slow.path));
    for (let i = 0; i < 300; i++) client.ws.send(`m${i}`);
    await client.waitMessages(300, 10_000);
    assert.deepEqual(
      client.texts(),
      Array.from({ length: 300 }, (_, i) => `m${i}`),
    );
    client.ws.close();
  });

  it('each client has its own bind path, removed with its socket when the client closes', async () => {
    const fds = openFds();
    const a = await Recorder.open(url);
    const b = await Recorder.open(url);
    const sender = async (client: Recorder, text: string): Promise<string> => {
      const seen = peer.senders.length;
      client.ws.send(text);
      await until(() => peer.senders.length > seen, 5000, `${text} received`);
      await client.waitMessages(1);
      return peer.senders[seen];
    };
    const pathA = await sender(a, 'a');
    const pathB = await sender(b, 'b');
    assert.notEqual(pathA, pathB);
    assert.ok(existsSync(pathA) && existsSync(pathB));
    a.ws.close();
    await until(() => !existsSync(pathA), 5000, 'bind path of a removed');
    assert.ok(existsSync(pathB), 'b keeps its socket');
    b.ws.close();
    await until(() => !existsSync(pathB), 5000, 'bind path of b removed');
    await until(() => openFds() <= fds, 5000, `fds back to ${fds} (have ${openFds()})`);
  });

  it('a datagram too large to send is dropped; one of 64 KiB or more from the peer closes with 1014', async () => {
    const client = await Recorder.open(url);
    client.ws.send(Buffer.alloc(300_000, 1));
    client.ws.send('after');
    await client.waitMessages(1);
    assert.deepEqual(client.texts(), ['after']);
    client.ws.send(Buffer.alloc(70_000, 2));
    const closed = await client.waitClose();
    assert.equal(closed.code, 1014);
    assert.match(closed.reason, /65536 bytes or more/);
    assert.equal(client.messages.length, 1);
  });

  it('a missing path, or a stream socket, refuses the handshake with 502', async () => {
    const status = (e: { status?: number }): boolean => e.status === 502;
    await assert.rejects(Recorder.open(await bridge(join(dir, 'nobody.sock'))), status);
    const streamPath = join(dir, 'stream.sock');
    const stream = createNetServer().listen(streamPath);
    await until(() => stream.listening, 5000, 'stream socket');
    await assert.rejects(Recorder.open(await bridge(streamPath)), status);
    stream.close();
  });

  it('the peer going away closes the client with 1014 at the next send', async () => {
    const doomed = await echoPeer();
    const client = await Recorder.open(await bridge(doomed.path));
    client.ws.send('hi');
    await client.waitMessages(1);
    const bound = doomed.senders[0];
    doomed.child.kill('SIGKILL');
    await until(() => doomed.child.exitCode !== null || doomed.child.signalCode !== null, 5000, 'peer gone');
    client.ws.send('anyone?');
    const closed = await client.waitClose();
    assert.equal(closed.code, 1014);
    assert.match(closed.reason, /ECONNREFUSED/);
    await until(() => !existsSync(bound), 5000, 'bind path removed');
  });
});
