/**
 * The running `wsbridge --echo-mode` process: signals, Unix sockets, origins, message limits, TLS, the
 * HTTP page, bind failures. Everything goes through real processes and sockets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  connect as netConnect,
  createServer as createNetServer,
  type AddressInfo,
  type Socket,
} from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import {
  closed,
  echo,
  launchCli,
  makeCertificate,
  openWs,
  opensslMissing,
  refusedWs,
  runCli,
  settle,
  startCli,
  tempDir,
  type CliServer,
} from '../helpers/peers.js';

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function httpGet(url: string, method = 'GET'): Promise<HttpAnswer> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, { method, rejectUnauthorized: false, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A client that completes the handshake by hand and then never answers anything (not even Close). */
function deafClient(port: number): Promise<{ socket: Socket; received(): Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (data.includes('\r\n\r\n') && data.subarray(0, 12).toString() === 'HTTP/1.1 101')
        resolve({ socket, received: () => data });
    });
    socket.write(
      'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
  });
}

/** A TCP port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '::', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** One stderr line that is not a timestamped log line (the CLI's fatal error line). */
function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('wsbridge: '));
}

describe('wsbridge shutdown on signals', { concurrency: true }, () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} with a connected ws client: the client gets Close 1001, the process exits 0 promptly`, async () => {
      const cli = await startCli(['--echo-mode', '-p', '0']);
      let ws: WebSocket | undefined;
      try {
        ws = await openWs(`ws://127.0.0.1:${cli.port}/`);
        assert.equal((await echo(ws, 'before')).data.toString(), 'before');
        const clientClosed = closed(ws);
        cli.child.kill(signal);
        const { code, reason } = await clientClosed;
        assert.equal(code, 1001);
        assert.equal(reason, 'server shutting down');
        // Well under the 5 s shutdown timeout: the process did not wait for a client that answered.
        assert.deepEqual(await cli.exited(4_000), { code: 0, signal: null });
        assert.match(cli.stderr(), new RegExp(`${signal}: shutting down \\(1 connection\\)`));
      } finally {
        await settle(ws);
        await cli.stop();
      }
    });
  }

  it('a client that never answers the Close does not keep the process alive (exit 0 after the timeout)', async () => {
    const cli = await startCli(['--echo-mode', '-p', '0']);
    const deaf = await deafClient(cli.port);
    try {
      cli.child.kill('SIGTERM');
      assert.deepEqual(await cli.exited(10_000), { code: 0, signal: null });
      // The server did send its Close: 0x88, length, code 1001 (0x03e9), then the reason.
      const bytes = deaf.received();
      const frame = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
      assert.equal(frame[0], 0x88);
      assert.equal(frame.readUInt16BE(2), 1001);
      assert.equal(frame.subarray(4, 2 + frame[1]!).toString(), 'server shutting down');
    } finally {
      deaf.socket.destroy();
      await cli.stop();
    }
  });

  it('a second SIGINT during a stuck shutdown exits at once with 130', async () => {
    const cli = await startCli(['--echo-mode', '-p', '0']);
    const deaf = await deafClient(cli.port);
    try {
      cli.child.kill('SIGINT');
      await cli.waitForStderr('SIGINT: shutting down');
      cli.child.kill('SIGINT');
      // Before the 5 s shutdown timeout could have run out.
      assert.deepEqual(await cli.exited(4_000), { code: 130, signal: null });
    } finally {
      deaf.socket.destroy();
      await cli.stop();
    }
  });
});

describe('wsbridge --unix-socket', () => {
  const dir = tempDir('wsbridge-unix-');
  after(() => dir.cleanup());

  it('serves WebSocket on the socket path and removes the socket file on exit', async () => {
    const path = join(dir.path, 'echo.sock');
    const cli = await startCli(['--echo-mode', `--unix-socket=${path}`]);
    try {
      assert.ok(cli.listening.includes(path), cli.listening);
      assert.ok(existsSync(path));
      const ws = await openWs(`ws+unix://${path}:/`);
      assert.equal((await echo(ws, 'over a unix socket ✓')).data.toString(), 'over a unix socket ✓');
      const bytes = Buffer.from([0, 1, 2, 254, 255]);
      assert.deepEqual((await echo(ws, bytes)).data, bytes);
      const clientClosed = closed(ws);
      cli.child.kill('SIGTERM');
      assert.equal((await clientClosed).code, 1001);
      assert.deepEqual(await cli.exited(4_000), { code: 0, signal: null });
      assert.equal(existsSync(path), false, 'socket file left behind');
    } finally {
      await cli.stop();
    }
  });

  it('replaces a stale socket file left by a killed process', async () => {
    const path = join(dir.path, 'stale.sock');
    const first = await startCli(['--echo-mode', `--unix-socket=${path}`]);
    first.child.kill('SIGKILL');
    await first.exited();
    assert.ok(existsSync(path), 'SIGKILL should leave the socket file');
    const second = await startCli(['--echo-mode', `--unix-socket=${path}`]);
    try {
      const ws = await openWs(`ws+unix://${path}:/`);
      assert.equal((await echo(ws, 'fresh')).data.toString(), 'fresh');
      await settle(ws);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited().catch(() => undefined);
      await second.stop();
    }
    assert.equal(existsSync(path), false);
  });

  it('refuses a socket path another live server holds: non-zero exit, one clear line', async () => {
    const path = join(dir.path, 'busy.sock');
    const holder = await startCli(['--echo-mode', `--unix-socket=${path}`]);
    try {
      const result = await runCli(['--echo-mode', `--unix-socket=${path}`]);
      assert.equal(result.code, 2);
      const lines = errorLines(result.stderr);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, /address already in use/);
      // The holder still works.
      const ws = await openWs(`ws+unix://${path}:/`);
      assert.equal((await echo(ws, 'still mine')).data.toString(), 'still mine');
      await settle(ws);
    } finally {
      await holder.stop();
    }
  });
});

describe('wsbridge with no mode flag', () => {
  it("runs pipe mode (gwsocket's default), creating its FIFOs, and removes them on SIGTERM", async () => {
    const dir = tempDir('wsbridge-pipe-');
    const pipein = join(dir.path, 'in.fifo');
    const pipeout = join(dir.path, 'out.fifo');
    const cli = await startCli(['-p', '0', `--pipein=${pipein}`, `--pipeout=${pipeout}`]);
    try {
      assert.match(cli.listening, /pipe mode .*listening on ws:\/\//);
      assert.ok(statSync(pipein).isFIFO() && statSync(pipeout).isFIFO());
      const ws = await openWs(`ws://127.0.0.1:${cli.port}/`);
      const clientClosed = closed(ws);
      cli.child.kill('SIGTERM');
      assert.equal((await clientClosed).code, 1001);
      assert.deepEqual(await cli.exited(4_000), { code: 0, signal: null });
      assert.equal(existsSync(pipein) || existsSync(pipeout), false, 'FIFOs left behind');
    } finally {
      await cli.stop();
      dir.cleanup();
    }
  });
});

describe('wsbridge TCP binding', () => {
  it('a port already in use: non-zero exit and one clear line naming the problem', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '::', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const result = await runCli(['--echo-mode', '-p', String(port)]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      const lines = result.stderr.split('\n').filter(Boolean);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, /^wsbridge: --port \d+: address already in use/);
      assert.ok(lines[0]!.includes(String(port)), lines[0]);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('--addr=127.0.0.1 binds IPv4 loopback only and says so', async () => {
    const cli = await startCli(['--echo-mode', '-p', '0', '--addr=127.0.0.1']);
    try {
      assert.match(cli.listening, new RegExp(`listening on ws://127\\.0\\.0\\.1:${cli.port}/ `));
      const ws = await openWs(`ws://127.0.0.1:${cli.port}/`);
      assert.equal((await echo(ws, 'v4')).data.toString(), 'v4');
      await settle(ws);
      await assert.rejects(openWs(`ws://[::1]:${cli.port}/`), /ECONNREFUSED|EADDRNOTAVAIL/);
    } finally {
      await cli.stop();
    }
  });

  it('--quiet logs nothing while serving and shutting down', async () => {
    const port = await freePort();
    const cli = launchCli(['--echo-mode', '-q', '-p', String(port)]);
    try {
      let ws: WebSocket | undefined;
      for (let attempt = 0; attempt < 200 && !ws && cli.child.exitCode === null; attempt++) {
        ws = await openWs(`ws://127.0.0.1:${port}/`).catch(() => undefined);
        if (!ws) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(
        ws,
        `the quiet server never accepted a connection (exit ${cli.child.exitCode}): ${cli.stderr()}`,
      );
      assert.equal((await echo(ws, 'shh')).data.toString(), 'shh');
      const clientClosed = closed(ws);
      cli.child.kill('SIGTERM');
      assert.equal((await clientClosed).code, 1001);
      assert.deepEqual(await cli.exited(4_000), { code: 0, signal: null });
    } finally {
      await cli.stop();
    }
    assert.equal(cli.stderr(), '');
    assert.equal(cli.stdout(), '');
  });
});

describe('wsbridge --echo-mode: HTTP page, origins, limits', () => {
  let cli: CliServer;
  let base = '';
  before(async () => {
    cli = await startCli([
      '--echo-mode',
      '-p',
      '0',
      '--origin=http://good.example',
      '--origin=https://also.example,http://third.example',
      '--max-frame-size=1000',
    ]);
    base = `127.0.0.1:${cli.port}`;
  });
  after(async () => {
    await cli.stop();
  });

  it('GET / returns the HTML console page; HEAD / has the headers and no body', async () => {
    const page = await httpGet(`http://${base}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(Number(page.headers['content-length']), Buffer.byteLength(page.body));
    assert.match(page.body, /^<!doctype html>/);
    for (const id of ['status', 'message', 'send', 'send-binary', 'log'])
      assert.ok(page.body.includes(`id="${id}"`), id);
    const withQuery = await httpGet(`http://${base}/?x=1`);
    assert.equal(withQuery.status, 200);
    const head = await httpGet(`http://${base}/`, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], page.headers['content-length']);
  });

  it('GET /other returns 404', async () => {
    const other = await httpGet(`http://${base}/other`);
    assert.equal(other.status, 404);
    assert.equal(other.body, 'not found\n');
  });

  it('--origin: a foreign Origin gets HTTP 403 (and is logged), a listed one connects', async () => {
    const refused = await refusedWs(`ws://${base}/`, { origin: 'http://evil.example' });
    assert.equal(refused.status, 403);
    const noOrigin = await refusedWs(`ws://${base}/`);
    assert.equal(noOrigin.status, 403);
    await cli.waitForStderr(/handshake refused 403 .*origin not allowed/);
    for (const origin of [
      'http://good.example',
      'HTTP://GOOD.EXAMPLE',
      'https://also.example',
      'http://third.example',
    ]) {
      const ws = await openWs(`ws://${base}/`, undefined, { origin });
      assert.equal((await echo(ws, origin)).data.toString(), origin);
      await settle(ws);
    }
    // An origin that merely starts with an allowed one is not allowed.
    assert.equal((await refusedWs(`ws://${base}/`, { origin: 'http://good.example.evil.test' })).status, 403);
  });

  it('--max-frame-size=1000: 1000 bytes echo, 2000 bytes close the connection with 1009', async () => {
    const ws = await openWs(`ws://${base}/`, undefined, { origin: 'http://good.example' });
    const exact = Buffer.alloc(1000, 7);
    assert.deepEqual((await echo(ws, exact)).data, exact);
    const done = closed(ws);
    ws.send(Buffer.alloc(2000, 1));
    const { code, reason } = await done;
    assert.equal(code, 1009);
    assert.match(reason, /1000/);
  });

  it('--max-frame-size counts a fragmented message as a whole: 3 × 400 bytes close with 1009', async () => {
    const ws = await openWs(`ws://${base}/`, undefined, { origin: 'http://good.example' });
    const done = closed(ws);
    ws.send(Buffer.alloc(400), { fin: false });
    ws.send(Buffer.alloc(400), { fin: false });
    ws.send(Buffer.alloc(400), { fin: true });
    assert.equal((await done).code, 1009);
  });
});

describe('wsbridge --max-connections', () => {
  it('answers 503 past the limit, and accepts again once a slot frees up', async () => {
    const cli = await startCli(['--echo-mode', '-p', '0', '--max-connections=1']);
    try {
      const url = `ws://127.0.0.1:${cli.port}/`;
      const first = await openWs(url);
      assert.equal((await refusedWs(url)).status, 503);
      const done = closed(first);
      first.close(1000);
      await done;
      let second: WebSocket | undefined;
      for (let attempt = 0; attempt < 50 && !second; attempt++) {
        second = await openWs(url).catch(() => undefined);
        if (!second) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(second, 'the slot never freed up');
      assert.equal((await echo(second, 'my turn')).data.toString(), 'my turn');
      await settle(second);
    } finally {
      await cli.stop();
    }
  });
});

const noOpenssl = opensslMissing();
if (noOpenssl) console.log(`# skipping TLS tests: ${noOpenssl}`);

describe('wsbridge --ssl-cert/--ssl-key (wss)', { skip: noOpenssl }, () => {
  const dir = tempDir('wsbridge-tls-');
  const cert = join(dir.path, 'cert.pem');
  const key = join(dir.path, 'key.pem');
  let cli: CliServer;
  before(async () => {
    makeCertificate(dir.path);
    cli = await startCli(['--echo-mode', '-p', '0', `--ssl-cert=${cert}`, `--ssl-key=${key}`]);
  });
  after(async () => {
    await cli?.stop();
    dir.cleanup();
  });

  it('says wss:// and https:// in its listening line', () => {
    assert.match(cli.listening, /listening on wss:\/\/localhost:\d+\/ \(page at https:\/\/localhost:\d+\/\)/);
  });

  it('a ws client (rejectUnauthorized: false) exchanges text, binary and 1 MiB over wss', async () => {
    const ws = await openWs(`wss://127.0.0.1:${cli.port}/`, undefined, { rejectUnauthorized: false });
    assert.equal((await echo(ws, 'secure ✓')).data.toString(), 'secure ✓');
    const big = Buffer.alloc(1024 * 1024, 0x5a);
    const reply = await echo(ws, big);
    assert.equal(reply.isBinary, true);
    assert.ok(reply.data.equals(big));
    const done = closed(ws);
    ws.close(4003, 'tls bye');
    assert.equal((await done).code, 4003);
  });

  it('a ws client trusting the certificate as its CA verifies it', async () => {
    const ws = await openWs(`wss://localhost:${cli.port}/`, undefined, { ca: readFileSync(cert) });
    assert.equal((await echo(ws, 'verified')).data.toString(), 'verified');
    await settle(ws);
  });

  it('a client verifying against the default CAs refuses the self-signed certificate', async () => {
    await assert.rejects(openWs(`wss://127.0.0.1:${cli.port}/`), /self[- ]signed/i);
  });

  it('serves the page over https', async () => {
    const page = await httpGet(`https://127.0.0.1:${cli.port}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>wsbridge echo<\/title>/);
    assert.equal((await httpGet(`https://127.0.0.1:${cli.port}/other`)).status, 404);
  });

  it('a plain ws:// client against the TLS port fails instead of hanging', async () => {
    await assert.rejects(
      openWs(`ws://127.0.0.1:${cli.port}/`, undefined, { handshakeTimeout: 5_000 }),
      (error: Error) => {
        // The server drops the non-TLS bytes: the client sees the socket end, not its own timeout.
        assert.doesNotMatch(error.message, /timed out/);
        return true;
      },
    );
    // The server is still fine afterwards.
    const ws = await openWs(`wss://127.0.0.1:${cli.port}/`, undefined, { rejectUnauthorized: false });
    assert.equal((await echo(ws, 'still up')).data.toString(), 'still up');
    await settle(ws);
  });

  it('a certificate file that is not PEM fails at start: non-zero exit, one line', async () => {
    const junk = join(dir.path, 'junk.pem');
    writeFileSync(junk, 'this is not a certificate\n');
    const result = await runCli(['--echo-mode', '-p', '0', `--ssl-cert=${junk}`, `--ssl-key=${key}`]);
    assert.notEqual(result.code, 0);
    const lines = result.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^wsbridge: .*PEM/);
  });
});
