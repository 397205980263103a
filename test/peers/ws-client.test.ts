/**
 * The `ws` package (an implementation nobody here wrote) as a client, against a wsbridge server run
 * in-process through the library, and against the real `wsbridge --echo-mode` binary.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { createServer, type Connection, type Server } from '../../src/index.js';
import {
  closed,
  echo,
  nextMessage,
  offerProtocols,
  openWs,
  patternBytes,
  settle,
  startCli,
  type CliServer,
  until,
} from '../helpers/peers.js';

const MULTIBYTE = 'héllo wörld — Привет, 世界! 🎉🚀 \u{10FFFF} ok';

/**
 * The echo exchanges every server under test must pass, both directions. `deflate`: whether the server
 * accepts ws's default permessage-deflate offer.
 */
function echoSuite(url: () => string, deflate: boolean): void {
  const sockets: WebSocket[] = [];
  const open = async (options: WebSocket.ClientOptions = {}): Promise<WebSocket> => {
    const ws = await openWs(url(), undefined, options);
    sockets.push(ws);
    return ws;
  };
  after(async () => {
    await Promise.all(sockets.map((ws) => settle(ws)));
  });

  it('echoes ASCII and multi-byte UTF-8 text as text', async () => {
    const ws = await open();
    for (const text of ['hello', MULTIBYTE, '€'.repeat(1000)]) {
      const reply = await echo(ws, text);
      assert.equal(reply.isBinary, false);
      assert.equal(reply.data.toString('utf8'), text);
    }
    ws.close();
  });

  it('echoes binary as binary, byte for byte (all 256 byte values)', async () => {
    const ws = await open();
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const reply = await echo(ws, bytes);
    assert.equal(reply.isBinary, true);
    assert.deepEqual(reply.data, bytes);
    ws.close();
  });

  it('echoes empty text and empty binary messages', async () => {
    const ws = await open();
    const text = await echo(ws, '');
    assert.equal(text.isBinary, false);
    assert.equal(text.data.length, 0);
    const binary = await echo(ws, Buffer.alloc(0));
    assert.equal(binary.isBinary, true);
    assert.equal(binary.data.length, 0);
    ws.close();
  });

  it('echoes 64 KiB and 1 MiB messages (binary and text) intact', async () => {
    const ws = await open();
    for (const size of [64 * 1024, 1024 * 1024]) {
      const bytes = patternBytes(size, size);
      const reply = await echo(ws, bytes);
      assert.equal(reply.isBinary, true);
      assert.equal(reply.data.length, size);
      assert.ok(reply.data.equals(bytes), `binary ${size} differs`);
      const text = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(size / 36)).slice(0, size);
      const textReply = await echo(ws, text);
      assert.equal(textReply.isBinary, false);
      assert.equal(textReply.data.toString('utf8'), text);
    }
    ws.close();
  });

  it('reassembles a fragmented message sent by ws (fin: false)', async () => {
    const ws = await open();
    const reply = nextMessage(ws);
    ws.send('frag', { fin: false });
    ws.send('men', { fin: false });
    ws.send('ted ✓', { fin: true });
    const message = await reply;
    assert.equal(message.isBinary, false);
    assert.equal(message.data.toString('utf8'), 'fragmented ✓');
    ws.close();
  });

  it('keeps the order of 200 pipelined messages', async () => {
    const ws = await open();
    const received: string[] = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        received.push(String(data));
        if (received.length === 200) resolve();
      }),
    );
    for (let i = 0; i < 200; i++) ws.send(`m${i}`);
    await done;
    assert.deepEqual(
      received,
      Array.from({ length: 200 }, (_, i) => `m${i}`),
    );
    ws.close();
  });

  it('answers a ws ping with a pong carrying the same payload', async () => {
    const ws = await open();
    const pong = new Promise<Buffer>((resolve) => ws.once('pong', resolve));
    ws.ping(Buffer.from('are you there?'));
    assert.equal((await pong).toString(), 'are you there?');
    // The connection still carries messages after the control frame.
    assert.equal((await echo(ws, 'after ping')).data.toString(), 'after ping');
    ws.close();
  });

  it('answers a client close code with the same code', async () => {
    const ws = await open();
    const done = closed(ws);
    ws.close(4000, 'client says bye');
    const { code } = await done;
    assert.equal(code, 4000);
  });

  it('answers a close without a code with an empty close (1005 on both sides)', async () => {
    const ws = await open();
    const done = closed(ws);
    ws.close();
    assert.equal((await done).code, 1005);
  });

  it(`${deflate ? 'accepts' : 'declines'} the permessage-deflate offer ws makes by default, and messages flow`, async () => {
    const ws = await open(); // perMessageDeflate defaults to true: ws offers the extension
    if (deflate) assert.match(ws.extensions, /^permessage-deflate/);
    else assert.equal(ws.extensions, '');
    for (const data of [patternBytes(10_000), Buffer.alloc(200_000, 0x61), patternBytes(1024 * 1024, 3)]) {
      const reply = await echo(ws, data);
      assert.equal(reply.isBinary, true);
      assert.ok(reply.data.equals(data), `${data.length} bytes differ`);
    }
    const text = MULTIBYTE.repeat(500);
    assert.equal((await echo(ws, text)).data.toString('utf8'), text);
    ws.close();
  });

  it('works with perMessageDeflate: false (no extension offered)', async () => {
    const ws = await open({ perMessageDeflate: false });
    assert.equal(ws.extensions, '');
    assert.equal((await echo(ws, MULTIBYTE)).data.toString('utf8'), MULTIBYTE);
    ws.close();
  });

  it('chooses no subprotocol when none is asked for', async () => {
    const ws = await open();
    assert.equal(ws.protocol, '');
    ws.close();
  });
}

describe('ws client against the wsbridge library (in-process, deflate on by default)', () => {
  let server: Server;
  let url = '';
  const closes: { code: number; reason: string; protocol: string | undefined }[] = [];
  const pongs: string[] = [];
  const pings: string[] = [];
  const extensionOffers: string[] = [];

  before(async () => {
    server = createServer({
      protocols: ['b', 'a'],
      pingInterval: 0,
      open(conn) {
        extensionOffers.push(String(conn.headers['sec-websocket-extensions'] ?? ''));
      },
      message(conn: Connection, data, isBinary) {
        const text = isBinary ? '' : data.toString('utf8');
        if (text === 'cmd:server-close') conn.close(4002, 'server says bye ✓');
        else if (text === 'cmd:server-ping') conn.ping('srv-ping');
        else if (text === 'cmd:server-sends') {
          conn.send('from server: ' + MULTIBYTE);
          conn.send(patternBytes(1024 * 1024, 7), true);
          conn.send('');
          conn.send(Buffer.alloc(0));
        } else conn.send(data, isBinary);
      },
      ping(_conn, payload) {
        pings.push(payload.toString());
      },
      pong(_conn, payload) {
        pongs.push(payload.toString());
      },
      close(conn, code, reason) {
        closes.push({ code, reason, protocol: conn.protocol });
      },
    });
    await server.listen({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    await server.close();
  });

  describe('echo', () => echoSuite(() => url, true));

  it('saw the permessage-deflate offer in the request (and accepted it: on by default)', () => {
    assert.ok(
      extensionOffers.some((offer) => offer.includes('permessage-deflate')),
      `offers: ${JSON.stringify(extensionOffers)}`,
    );
  });

  it('the server saw the client close code and reason, and a ws ping', async () => {
    assert.ok(
      await until(() => closes.some((c) => c.code === 4000 && c.reason === 'client says bye')),
      JSON.stringify(closes),
    );
    assert.ok(await until(() => closes.some((c) => c.code === 1005)), JSON.stringify(closes));
    assert.ok(pings.includes('are you there?'), JSON.stringify(pings));
  });

  it('negotiates the server-preferred subprotocol: server [b, a], ws offers [a, b] → b', async () => {
    const ws = await openWs(url, ['a', 'b']);
    assert.equal(ws.protocol, 'b');
    const done = closed(ws);
    ws.close(1000);
    await done;
    assert.ok(await until(() => closes.some((c) => c.protocol === 'b')), JSON.stringify(closes));
  });

  it('picks the one subprotocol both know (ws offers [x, a] → a)', async () => {
    const one = await openWs(url, ['x', 'a']);
    assert.equal(one.protocol, 'a');
    await settle(one);
  });

  it('answers 101 without a subprotocol when nothing matches (which ws itself then refuses)', async () => {
    const result = await offerProtocols(url, ['x', 'y']);
    assert.equal(result.status, 101);
    assert.equal(result.protocol, undefined);
    assert.equal(result.error, 'Server sent no subprotocol');
  });

  it('sends server-initiated text, 1 MiB binary and empty messages to ws', async () => {
    const ws = await openWs(url);
    const received: { data: Buffer; isBinary: boolean }[] = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data, isBinary) => {
        received.push({ data: data as Buffer, isBinary });
        if (received.length === 4) resolve();
      }),
    );
    ws.send('cmd:server-sends');
    await done;
    assert.deepEqual(
      received.map((m) => m.isBinary),
      [false, true, false, true],
    );
    assert.equal(received[0]!.data.toString('utf8'), 'from server: ' + MULTIBYTE);
    assert.ok(received[1]!.data.equals(patternBytes(1024 * 1024, 7)));
    assert.equal(received[2]!.data.length, 0);
    assert.equal(received[3]!.data.length, 0);
    await settle(ws);
  });

  it('server ping reaches ws, whose pong reaches the server with the payload', async () => {
    const ws = await openWs(url);
    const ping = new Promise<Buffer>((resolve) => ws.once('ping', resolve));
    ws.send('cmd:server-ping');
    assert.equal((await ping).toString(), 'srv-ping');
    assert.ok(await until(() => pongs.includes('srv-ping')), JSON.stringify(pongs));
    await settle(ws);
  });

  it('server close code and UTF-8 reason reach ws; ws echoes the code back', async () => {
    const ws = await openWs(url);
    const done = closed(ws);
    ws.send('cmd:server-close');
    const { code, reason } = await done;
    assert.equal(code, 4002);
    assert.equal(reason, 'server says bye ✓');
    assert.ok(await until(() => closes.some((c) => c.code === 4002)), JSON.stringify(closes));
  });
});

describe('ws client against the wsbridge CLI (--echo-mode -p 0)', () => {
  let cli: CliServer;
  let url = '';

  before(async () => {
    cli = await startCli(['--echo-mode', '-p', '0', '--log-level=debug']);
    assert.ok(cli.port > 0, `no port in: ${cli.listening}`);
    url = `ws://127.0.0.1:${cli.port}/`;
  });
  after(async () => {
    await cli.stop();
  });

  it('logs a listening line with the real port, reachable over IPv4 and IPv6 loopback', async () => {
    assert.match(cli.listening, /listening on ws:\/\/localhost:\d+\//);
    const v6 = await openWs(`ws://[::1]:${cli.port}/`);
    assert.equal((await echo(v6, 'over ipv6')).data.toString(), 'over ipv6');
    await settle(v6);
  });

  describe('echo (permessage-deflate on, the CLI default)', () => echoSuite(() => url, true));

  it('logged the client close code and reason (debug log)', async () => {
    await cli.waitForStderr(/close #\d+ \S+ \S+ 4000 client says bye/);
  });

  it('with deflate: 1 MiB + 1 incompressible bytes, or 2 MiB that compress to almost nothing, close with 1009', async () => {
    for (const data of [patternBytes(1024 * 1024 + 1, 9), Buffer.alloc(2 * 1024 * 1024)]) {
      const ws = await openWs(url);
      assert.match(ws.extensions, /permessage-deflate/);
      const done = closed(ws);
      ws.send(data);
      const { code } = await done;
      assert.equal(code, 1009, `${data.length} bytes`);
    }
  });

  it('answers a subprotocol offer with 101 and no subprotocol when --protocol is not given', async () => {
    const result = await offerProtocols(url, ['a', 'b']);
    assert.equal(result.status, 101);
    assert.equal(result.protocol, undefined);
    // ws insists on getting one of its offers back (so does Chromium: see chromium.test).
    assert.equal(result.error, 'Server sent no subprotocol');
  });

  it('--protocol=b,a: ws offering [a, b] gets b; offering [x, a] gets a', async () => {
    const chooser = await startCli(['--echo-mode', '-p', '0', '--protocol=b,a']);
    try {
      const ws = await openWs(`ws://127.0.0.1:${chooser.port}/`, ['a', 'b']);
      assert.equal(ws.protocol, 'b');
      assert.equal((await echo(ws, 'proto')).data.toString(), 'proto');
      await settle(ws);
      const other = await openWs(`ws://127.0.0.1:${chooser.port}/`, ['x', 'a']);
      assert.equal(other.protocol, 'a');
      await settle(other);
    } finally {
      await chooser.stop();
    }
  });

  it('pings an idle client when --ping-interval is set, and ws keeps the connection alive', async () => {
    const pinger = await startCli(['--echo-mode', '-p', '0', '--ping-interval=100']);
    try {
      const ws = await openWs(`ws://127.0.0.1:${pinger.port}/`);
      let pings = 0;
      const twoPings = new Promise<void>((resolve) =>
        ws.on('ping', () => {
          if (++pings === 2) resolve();
        }),
      );
      await twoPings;
      assert.equal(ws.readyState, WebSocket.OPEN);
      assert.equal((await echo(ws, 'alive')).data.toString(), 'alive');
      await settle(ws);
    } finally {
      await pinger.stop();
    }
  });
});

describe('ws client against the wsbridge CLI with --deflate=off', () => {
  let cli: CliServer;
  let url = '';
  before(async () => {
    cli = await startCli(['--echo-mode', '-p', '0', '--deflate=off']);
    url = `ws://127.0.0.1:${cli.port}/`;
  });
  after(async () => {
    await cli.stop();
  });

  describe('echo (permessage-deflate off)', () => echoSuite(() => url, false));
});
