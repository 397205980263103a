/**
 * The client `connect()` against the server: the same Connection object on both sides, text and binary
 * both ways, subprotocol negotiation, and the client's checks of the server's answer.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, Connection, HandshakeError } from '../../src/index.js';
import { acceptFor } from '../helpers/raw-client.js';
import { fakeServer, startServer, stopAll } from '../helpers/server-harness.js';

afterEach(stopAll);

function answerWith(extraHeaders: string, status = '101 Switching Protocols') {
  return fakeServer((socket) => {
    socket.once('data', (chunk: Buffer) => {
      const key = /sec-websocket-key: *(\S+)/i.exec(chunk.toString('latin1'))?.[1] ?? '';
      socket.write(
        `HTTP/1.1 ${status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Accept: ${acceptFor(key)}\r\n${extraHeaders}\r\n`,
      );
    });
  });
}

describe('client ↔ server', () => {
  test('connect() resolves to a Connection, the same class the server hands out', async () => {
    const h = await startServer();
    const client = await h.client('/x');
    const { conn } = await h.events.next('open');
    assert.ok(client.conn instanceof Connection);
    assert.ok(conn instanceof Connection);
    assert.equal(client.conn.readyState, 'open');
    assert.equal(client.conn.isOpen, true);
    assert.equal(client.events.all('open').length, 1, 'the client open callback ran');
  });

  test('text and binary messages both ways, including empty, multibyte and large ones', async () => {
    const h = await startServer({}, { echo: false });
    const client = await h.client();
    const { conn } = await h.events.next('open');

    const large = Buffer.alloc(300 * 1024);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7) & 0xff;
    const cases: Array<[string | Buffer, boolean]> = [
      ['plain text', false],
      ['', false],
      ['héllo wörld – 日本語 – 🎉', false],
      [Buffer.from([0, 1, 2, 255]), true],
      [Buffer.alloc(0), true],
      [large, true],
      ['x'.repeat(70_000), false],
    ];
    for (const [data, isBinary] of cases) {
      client.conn.send(data);
      const atServer = await h.events.next('message');
      assert.equal(atServer.isBinary, isBinary);
      assert.ok(atServer.data.equals(Buffer.from(data)), 'client → server payload intact');
      conn.send(data);
      const atClient = await client.events.next('message');
      assert.equal(atClient.isBinary, isBinary);
      assert.ok(atClient.data.equals(Buffer.from(data)), 'server → client payload intact');
    }
    // send(data, binary) overrides the type in both directions
    client.conn.send('as binary', true);
    assert.equal((await h.events.next('message')).isBinary, true);
    conn.send(Buffer.from('as text'), false);
    const m = await client.events.next('message');
    assert.deepEqual([m.data.toString(), m.isBinary], ['as text', false]);
  });

  test('many messages keep their order', async () => {
    const h = await startServer();
    const client = await h.client();
    for (let i = 0; i < 200; i++) client.conn.send(`m${i}`);
    for (let i = 0; i < 200; i++) assert.equal(await client.events.nextText(), `m${i}`);
  });

  test('rejects a non-WebSocket URL and a refused connection', async () => {
    await assert.rejects(connect('http://127.0.0.1:1/'), TypeError);
    const h = await startServer();
    const port = h.port;
    await h.stop();
    await assert.rejects(
      connect(`ws://127.0.0.1:${port}/`),
      (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
    );
  });

  test('a non-101 answer rejects with HandshakeError carrying the status', async () => {
    const h = await startServer({ origins: ['https://ok.example'] });
    await assert.rejects(
      connect(h.url, { origin: 'https://evil.example' }),
      (e: unknown) => e instanceof HandshakeError && e.status === 403,
    );
  });
});

describe('subprotocols', () => {
  test("the server's preference order picks from the client's list", async () => {
    const h = await startServer({ protocols: ['chat.v2', 'chat.v1'] });
    const a = await h.client('/', { protocols: ['chat.v1', 'chat.v2'] });
    const sa = await h.events.next('open');
    assert.equal(a.conn.protocol, 'chat.v2');
    assert.equal(sa.conn.protocol, 'chat.v2');

    const b = await h.client('/', { protocols: ['other', 'chat.v1'] });
    assert.equal(b.conn.protocol, 'chat.v1');
    assert.equal((await h.events.next('open')).conn.protocol, 'chat.v1');

    const c = await h.client('/', { protocols: ['nothing-in-common'] });
    assert.equal(c.conn.protocol, undefined, 'no overlap: no protocol, still connected');
    assert.equal(await c.roundTrip('ok'), 'ok');

    const d = await h.client('/');
    assert.equal(d.conn.protocol, undefined);
  });

  test('a selector function chooses from the offer', async () => {
    const offers: string[][] = [];
    const h = await startServer({
      protocols: (offered) => {
        offers.push([...offered]);
        return offered[offered.length - 1];
      },
    });
    const a = await h.client('/', { protocols: ['a', 'b', 'c'] });
    assert.equal(a.conn.protocol, 'c');
    assert.deepEqual(offers, [['a', 'b', 'c']]);
  });

  test('the upgrade hook may change the protocol within the offer', async () => {
    const h = await startServer({
      protocols: ['one', 'two'],
      upgrade(info) {
        assert.deepEqual(info.offeredProtocols, ['one', 'two']);
        assert.equal(info.protocol, 'one');
        info.protocol = 'two';
        info.responseHeaders['X-Hook'] = 'yes';
      },
    });
    const a = await h.client('/', { protocols: ['one', 'two'] });
    assert.equal(a.conn.protocol, 'two');
    assert.equal((await h.events.next('open')).conn.protocol, 'two');
  });

  test('the client rejects a subprotocol it did not offer', async () => {
    const fake = await answerWith('Sec-WebSocket-Protocol: unoffered\r\n');
    try {
      await assert.rejects(
        connect(`ws://127.0.0.1:${fake.port}/`, { protocols: ['mine'], handshakeTimeout: 2000 }),
        (e: unknown) => e instanceof HandshakeError && /not offered/.test(e.message),
      );
      await assert.rejects(
        connect(`ws://127.0.0.1:${fake.port}/`, { handshakeTimeout: 2000 }),
        (e: unknown) => e instanceof HandshakeError && /not offered/.test(e.message),
        'a protocol answered to a client that offered none is rejected too',
      );
    } finally {
      await fake.close();
    }
  });

  test('the client rejects a wrong Sec-WebSocket-Accept and a silent server times out', async () => {
    const wrong = await fakeServer((socket) =>
      socket.once('data', () =>
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n',
        ),
      ),
    );
    const silent = await fakeServer(() => undefined);
    try {
      await assert.rejects(
        connect(`ws://127.0.0.1:${wrong.port}/`),
        (e: unknown) => e instanceof HandshakeError && /Accept/.test(e.message),
      );
      await assert.rejects(
        connect(`ws://127.0.0.1:${silent.port}/`, { handshakeTimeout: 200 }),
        (e: unknown) => e instanceof HandshakeError && /timed out/.test(e.message),
      );
    } finally {
      await wrong.close();
      await silent.close();
    }
  });
});
