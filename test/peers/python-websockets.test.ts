/**
 * Python's `websockets` library (Debian's python3-websockets, run by /usr/bin/python3) as a client,
 * against the real `wsbridge --echo-mode` binary and against the library with subprotocols configured.
 * The client script is test/peers/py_client.py; it prints JSON lines that these tests assert on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from '../../src/index.js';
import {
  pythonWebsocketsMissing,
  runPython,
  spawnPython,
  startCli,
  waitExit,
  type CliServer,
  type PyStep,
  until,
} from '../helpers/peers.js';

const missing = pythonWebsocketsMissing();
if (missing) console.log(`# skipping Python websockets tests: ${missing}`);

function assertEchoed(step: PyStep, type: 'str' | 'bytes', length: number): void {
  assert.equal(step.sent_type, type, JSON.stringify(step));
  assert.equal(step.got_type, type, JSON.stringify(step));
  assert.equal(step.got_len, length, JSON.stringify(step));
  assert.equal(step.equal, true, JSON.stringify(step));
}

/** The same bytes as py_client.py's pattern(n). */
function pythonPattern(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) % 251;
  return out;
}

describe('Python websockets client against the wsbridge CLI', { skip: missing }, () => {
  let cli: CliServer;
  let url = '';
  before(async () => {
    cli = await startCli(['--echo-mode', '-p', '0', '--log-level=debug']);
    url = `ws://127.0.0.1:${cli.port}/`;
  });
  after(async () => {
    await cli.stop();
  });

  it('exchanges text, multi-byte, binary, empty, 64 KiB, 1 MiB and fragmented messages, pings, closes 4000', async () => {
    const { step, result } = await runPython('exchange', url);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(step('open'), { step: 'open', subprotocol: null, extensions: null });
    assertEchoed(step('text'), 'str', 17);
    assertEchoed(step('multibyte'), 'str', [...'héllo wörld — Привет, 世界! 🎉🚀 \u{10FFFF} ok'].length);
    assertEchoed(step('binary'), 'bytes', 256);
    assertEchoed(step('empty-text'), 'str', 0);
    assertEchoed(step('empty-binary'), 'bytes', 0);
    assertEchoed(step('binary-64k'), 'bytes', 64 * 1024);
    assertEchoed(step('text-64k'), 'str', 32 * 1024);
    assertEchoed(step('binary-1m'), 'bytes', 1024 * 1024);
    // The digest of what came back, computed here independently of the Python side.
    assert.equal(
      step('binary-1m').sha1,
      createHash('sha1')
        .update(pythonPattern(1024 * 1024))
        .digest('hex'),
    );
    assertEchoed(step('fragmented'), 'str', 'fragmented ✓'.length);
    assert.equal(step('ping').answered, true);
    // The server echoes the close code; the client's reason reached the server (its debug log).
    assert.equal(step('closed').code, 4000);
    await cli.waitForStderr(/close #\d+ \S+ \S+ 4000 python says bye/);
  });

  it('negotiates the permessage-deflate offer websockets makes by default (CLI default); messages flow', async () => {
    const { step, result } = await runPython('deflate', url);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(String(step('open').extensions), /^permessage-deflate/);
    assertEchoed(step('text'), 'str', 10_000);
    assertEchoed(
      step('multibyte'),
      'str',
      300 * [...'héllo wörld — Привет, 世界! 🎉🚀 \u{10FFFF} ok'].length,
    );
    assertEchoed(step('binary-1m'), 'bytes', 1024 * 1024);
    assertEchoed(step('random-1m'), 'bytes', 1024 * 1024);
    assert.equal(step('closed').code, 1000);
  });

  it('with --deflate=off the offer is declined and messages still flow', async () => {
    const plain = await startCli(['--echo-mode', '-p', '0', '--deflate=off']);
    try {
      const { step, result } = await runPython('deflate', `ws://127.0.0.1:${plain.port}/`);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(step('open').extensions, null);
      assertEchoed(step('random-1m'), 'bytes', 1024 * 1024);
      assert.equal(step('closed').code, 1000);
    } finally {
      await plain.stop();
    }
  });

  it('a subprotocol offer without --protocol is answered with none (websockets allows that)', async () => {
    const { step, result } = await runPython('subprotocol', url, 'chat,superchat');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(step('open').subprotocol, null);
    assertEchoed(step('text'), 'str', 'with subprotocol'.length);
  });

  it('--protocol=b,a: websockets offering [a, b] gets b', async () => {
    const chooser = await startCli(['--echo-mode', '-p', '0', '--protocol=b,a']);
    try {
      const { step, result } = await runPython('subprotocol', `ws://127.0.0.1:${chooser.port}/`, 'a,b');
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(step('open').subprotocol, 'b');
    } finally {
      await chooser.stop();
    }
  });

  it('closes with 1009 when websockets sends more than --max-frame-size', async () => {
    const small = await startCli(['--echo-mode', '-p', '0', '--max-frame-size=1000']);
    try {
      const { step, result } = await runPython('too-big', `ws://127.0.0.1:${small.port}/`, '2000');
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assertEchoed(step('small'), 'str', 500);
      assert.equal(step('closed').code, 1009);
      assert.match(String(step('closed').reason), /1000/);
    } finally {
      await small.stop();
    }
  });

  it('on SIGTERM, a connected websockets client gets Close 1001 and the process exits 0', async () => {
    const doomed = await startCli(['--echo-mode', '-p', '0']);
    try {
      const py = spawnPython('wait-for-close', `ws://127.0.0.1:${doomed.port}/`);
      await py.waitFor('text');
      doomed.child.kill('SIGTERM');
      const [server, client] = await Promise.all([doomed.exited(8_000), waitExit(py.child, 15_000)]);
      assert.deepEqual(server, { code: 0, signal: null });
      assert.equal(client.code, 0, py.stdout());
      const closed = JSON.parse(py.stdout().trim().split('\n').at(-1)!) as PyStep;
      assert.equal(closed.step, 'closed');
      assert.equal(closed.code, 1001);
      assert.equal(closed.reason, 'server shutting down');
    } finally {
      await doomed.stop();
    }
  });
});

describe('Python websockets client against the wsbridge library', { skip: missing }, () => {
  let server: Server;
  let url = '';
  const closes: { code: number; reason: string }[] = [];
  before(async () => {
    server = createServer({
      protocols: ['b', 'a'],
      message: (conn, data, isBinary) => conn.send(data, isBinary),
      close: (_conn, code, reason) => closes.push({ code, reason }),
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    await server.close();
  });

  it('negotiates the server-preferred subprotocol: server [b, a], websockets offers [a, b] → b', async () => {
    const { step, result } = await runPython('subprotocol', url, 'a,b');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(step('open').subprotocol, 'b');
    assertEchoed(step('text'), 'str', 'with subprotocol'.length);
  });

  it('runs the full exchange; the server sees the client close code and reason', async () => {
    const { step, result } = await runPython('exchange', url);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assertEchoed(step('binary-1m'), 'bytes', 1024 * 1024);
    assert.equal(step('closed').code, 4000);
    assert.ok(
      await until(() => closes.some((c) => c.code === 4000 && c.reason === 'python says bye')),
      JSON.stringify(closes),
    );
  });
});
