/**
 * The library API over real sockets: callbacks and their order, the Connection object's methods and
 * properties, and the server's hub operations (broadcast, send by id, count, iteration, prepared frames).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, InvalidStateError, prepareFrame, type Connection as Conn } from '../../src/index.js';
import { encodeFrame, Op, RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { sleep, startServer, stopAll, until, within } from '../helpers/server-harness.js';

afterEach(stopAll);

describe('callbacks', () => {
  test('open → message → drain → shutdown → close fire in order with the right arguments', async () => {
    const order: string[] = [];
    const h = await startServer<{ tag: string }>(
      {
        open(conn) {
          order.push(`open:${conn.id}`);
          conn.data = { tag: 'mine' };
        },
        message(conn, data, isBinary) {
          order.push(`message:${conn.id}:${isBinary ? 'bin' : 'text'}:${data.length}`);
          // A large reply always overflows the 16 KiB high-water mark, so drain must follow.
          if (data.toString() === 'big') assert.equal(conn.send(Buffer.alloc(256 * 1024, 7)), false);
        },
        drain(conn) {
          order.push(`drain:${conn.id}`);
        },
        shutdown(conn) {
          order.push(`shutdown:${conn.id}:${conn.readyState}`);
        },
        close(conn, code, reason) {
          order.push(`close:${conn.id}:${code}:${reason}:${conn.data?.tag}`);
        },
      },
      { echo: false },
    );
    const client = await h.client('/');
    const open = await h.events.next('open');
    const id = open.conn.id;
    assert.ok(open.conn instanceof Connection);

    client.conn.send('hello');
    const text = await h.events.next('message');
    assert.equal(text.conn, open.conn, 'message gets the same Connection object as open');
    assert.equal(text.data.toString(), 'hello');
    assert.equal(text.isBinary, false);
    assert.ok(Buffer.isBuffer(text.data));

    client.conn.send(Buffer.from([1, 2, 3]));
    const bin = await h.events.next('message');
    assert.deepEqual([...bin.data], [1, 2, 3]);
    assert.equal(bin.isBinary, true);

    client.conn.send('big');
    await h.events.next('drain');
    const reply = await client.events.next('message');
    assert.equal(reply.data.length, 256 * 1024);

    await within(h.stop(), 3000, 'server.close()');
    const closeEvent = await h.events.next('close');
    assert.equal(closeEvent.code, 1001, 'the client echoed our 1001');
    assert.deepEqual(order, [
      `open:${id}`,
      `message:${id}:text:5`,
      `message:${id}:bin:3`,
      `message:${id}:text:3`,
      `drain:${id}`,
      `shutdown:${id}:open`,
      `close:${id}:1001::mine`,
    ]);
    const clientClose = await client.events.next('close');
    assert.equal(clientClose.code, 1001);
    assert.equal(clientClose.reason, 'server shutting down');
  });

  test('open runs before a message that arrived in the same packet as the handshake', async () => {
    const order: string[] = [];
    const h = await startServer({
      open: () => order.push('open'),
      message: (_c, d) => order.push(`message:${d}`),
    });
    const raw = await RawClient.connect(h.target);
    try {
      raw.write(Buffer.concat([Buffer.from(upgradeRequest().head), encodeFrame(Op.Text, 'early')]));
      assert.equal((await raw.readHead()).status, 101);
      const echo = await raw.readFrame();
      assert.equal(echo.payload.toString(), 'early');
      assert.deepEqual(order, ['open', 'message:early']);
    } finally {
      raw.destroy();
    }
  });
});

describe('Connection', () => {
  test('send() returns true under the high-water mark, false past it, and drain follows', async () => {
    const h = await startServer({}, { echo: false });
    const client = await h.client();
    const { conn } = await h.events.next('open');
    assert.equal(conn.send('small'), true);
    assert.equal(await client.events.nextText(), 'small');
    assert.equal(conn.send(Buffer.alloc(64 * 1024)), false, 'a 64 KiB message overflows the 16 KiB mark');
    await h.events.next('drain', conn);
    assert.equal(conn.bufferedAmount, 0);
    assert.equal((await client.events.next('message')).data.length, 64 * 1024);
    assert.equal(conn.send('after drain'), true);
    assert.equal(await client.events.nextText(), 'after drain');
  });

  test('bufferedAmount grows while the peer does not read, and drains to 0 when it does', async () => {
    const h = await startServer({}, { echo: false });
    const raw = await RawClient.open(h.target);
    try {
      raw.socket.pause();
      const { conn } = await h.events.next('open');
      assert.equal(conn.bufferedAmount, 0);
      const chunk = Buffer.alloc(64 * 1024, 1);
      let sent = 0;
      let sawFalse = false;
      // The kernel's buffers absorb a few MB first; stop once 256 KiB are queued in user space.
      for (let i = 0; i < 1024 && conn.bufferedAmount < 256 * 1024; i++) {
        if (!conn.send(chunk)) sawFalse = true;
        sent++;
        if (i % 16 === 15) await sleep(1);
      }
      assert.ok(sawFalse, 'send() reported backpressure');
      assert.ok(conn.bufferedAmount >= 256 * 1024, `bufferedAmount ${conn.bufferedAmount} grew`);
      h.events.discard('drain'); // the kernel may have drained earlier, smaller backlogs
      const drained = h.events.next('drain', conn, 10_000);
      raw.socket.resume();
      await drained;
      assert.equal(conn.bufferedAmount, 0);
      const frameSize = 10 + 64 * 1024; // 64 KiB needs the 64-bit length form
      await until(() => raw.pendingLength >= sent * frameSize, 5000, 'client received everything');
      assert.equal(raw.pendingLength, sent * frameSize);
      const frame = await raw.readFrame();
      assert.equal(frame.opcode, 2);
      assert.equal(frame.payload.length, 64 * 1024);
    } finally {
      raw.destroy();
    }
  });

  test('close(code, reason) reaches the client; send after close returns false', async () => {
    const h = await startServer();
    const client = await h.client();
    const { conn } = await h.events.next('open');
    conn.close(4001, 'custom reason');
    assert.equal(conn.isOpen, false);
    assert.equal(conn.readyState, 'closing');
    assert.equal(conn.send('late'), false);
    conn.close(4002, 'ignored'); // a second call does nothing
    const seen = await client.events.next('close');
    assert.deepEqual([seen.code, seen.reason], [4001, 'custom reason']);
    const serverSide = await h.events.next('close');
    assert.equal(serverSide.code, 4001);
    assert.equal(conn.readyState, 'closed');
    assert.equal(h.server.count, 0);
  });

  test('send(), ping() and broadcast on a closing or closed connection return false, never throw', async () => {
    const h = await startServer({ perMessageDeflate: true }, { echo: false });
    const client = await h.client('/', { perMessageDeflate: true });
    const { conn } = await h.events.next('open');
    const big = Buffer.alloc(4096, 1); // compressed path (over the deflate threshold)
    // Closing: the server has sent its Close, the client has not answered yet.
    conn.close(1000);
    assert.equal(conn.readyState, 'closing');
    assert.equal(conn.send('late'), false);
    assert.equal(conn.send(big), false);
    assert.equal(conn.ping('late'), false);
    assert.equal(h.server.broadcast('all'), 0);
    assert.equal(h.server.broadcast(big), 0);
    // The peer's side: its connection received our Close and answered it, so it is closing too.
    await client.events.next('close');
    assert.equal(client.conn.send('late'), false);
    assert.equal(client.conn.ping(), false);
    // Closed: the transport is gone.
    await h.events.next('close');
    assert.equal(conn.readyState, 'closed');
    assert.equal(conn.send('late'), false);
    assert.equal(conn.send(big, true), false);
    assert.equal(conn.ping(), false);
    assert.equal(h.server.send(conn.id, 'late'), false);
    // Misuse still throws, whatever the state.
    assert.throws(() => conn.send(42 as unknown as string), TypeError);
    assert.throws(() => client.conn.send(null as unknown as string), TypeError);
  });

  test('each server numbers its connections from 1, apart from other servers and from clients', async () => {
    const names: string[] = [];
    const naming = (server: string) => ({
      open(conn: Conn) {
        names.push(`${server}:guest-${conn.id}`);
      },
    });
    const a = await startServer(naming('a'), { echo: false });
    const b = await startServer(naming('b'), { echo: false });
    const ca = await a.client();
    await a.events.next('open');
    const cb = await b.client();
    await b.events.next('open');
    const ca2 = await a.client();
    await a.events.next('open');
    assert.deepEqual(names, ['a:guest-1', 'b:guest-1', 'a:guest-2']);
    // Client connections count on their own: this file's clients so far.
    assert.deepEqual([ca.conn.id, cb.conn.id, ca2.conn.id], [ca.conn.id, ca.conn.id + 1, ca.conn.id + 2]);
    assert.notEqual(ca.conn.id, 0);
  });

  test('terminate() drops the transport: both sides report 1006', async () => {
    const h = await startServer();
    const client = await h.client();
    const { conn } = await h.events.next('open');
    conn.terminate();
    assert.equal((await h.events.next('close')).code, 1006);
    assert.equal((await client.events.next('close')).code, 1006);
    assert.equal(h.server.count, 0);
  });

  test('ping() from either side: the peer answers, pong and ping callbacks carry the payload', async () => {
    const h = await startServer();
    const client = await h.client();
    const { conn } = await h.events.next('open');
    assert.equal(conn.ping('from-server'), true);
    assert.equal((await client.events.next('ping')).payload.toString(), 'from-server');
    assert.equal((await h.events.next('pong')).payload.toString(), 'from-server');
    client.conn.ping(Buffer.from([9, 8, 7]));
    assert.deepEqual([...(await h.events.next('ping')).payload], [9, 8, 7]);
    assert.deepEqual([...(await client.events.next('pong')).payload], [9, 8, 7]);
    assert.throws(() => conn.ping(Buffer.alloc(126)), InvalidStateError);
    assert.throws(() => conn.ping({} as unknown as string), TypeError);
  });

  test('pause() holds incoming messages until resume()', async () => {
    const h = await startServer({}, { echo: false });
    const client = await h.client();
    const { conn } = await h.events.next('open');
    conn.pause();
    client.conn.send('while paused');
    await sleep(100);
    assert.equal(h.events.all('message', conn).length, 0, 'nothing delivered while paused');
    conn.resume();
    assert.equal((await h.events.next('message', conn)).data.toString(), 'while paused');
  });

  test('ids are unique and never reused after connections close', async () => {
    const h = await startServer();
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const client = await h.client();
      const { conn } = await h.events.next('open');
      assert.ok(Number.isInteger(conn.id));
      assert.ok(!seen.has(conn.id), `id ${conn.id} was reused`);
      assert.ok(!seen.has(client.conn.id), 'client ids come from the same sequence');
      assert.notEqual(conn.id, client.conn.id);
      seen.add(conn.id).add(client.conn.id);
      if (i % 2 === 0) await client.close();
      else conn.terminate();
      await h.events.next('close');
    }
    assert.equal(seen.size, 12);
  });

  test('data is a free user slot per connection', async () => {
    const h = await startServer<{ n: number }>(
      {
        open(conn) {
          conn.data = { n: 0 };
        },
        message(conn) {
          conn.data!.n++;
          conn.send(String(conn.data!.n));
        },
      },
      { echo: false },
    );
    const a = await h.client();
    const b = await h.client();
    assert.equal(await a.roundTrip('x'), '1');
    assert.equal(await a.roundTrip('x'), '2');
    assert.equal(await b.roundTrip('x'), '1');
    assert.equal(a.conn.data, undefined, 'client side slot is separate and starts empty');
    a.conn.data = { mine: true };
    assert.deepEqual(a.conn.data, { mine: true });
  });

  test('request info: path, query, headers, remoteAddress', async () => {
    const h = await startServer();
    const client = await h.client('/chat/room?x=1&y=two', {
      headers: { 'X-Custom': 'value' },
      origin: 'https://o.example',
    });
    const { conn } = await h.events.next('open');
    assert.equal(conn.path, '/chat/room');
    assert.equal(conn.query, 'x=1&y=two');
    assert.equal(conn.request.url, '/chat/room?x=1&y=two');
    assert.equal(conn.headers['x-custom'], 'value');
    assert.equal(conn.headers['origin'], 'https://o.example');
    assert.equal(conn.headers['host'], `127.0.0.1:${h.port}`);
    assert.equal(conn.headers['sec-websocket-version'], '13');
    assert.equal(conn.remoteAddress, '127.0.0.1');
    assert.ok(conn.request.remotePort > 0);
    assert.equal(client.conn.path, '/chat/room');
    assert.equal(client.conn.query, 'x=1&y=two');
    assert.equal(client.conn.remoteAddress, '127.0.0.1');

    const bare = await h.client('');
    const second = await h.events.next('open');
    assert.equal(second.conn.path, '/');
    assert.equal(second.conn.query, '');
    await bare.close();
  });
});

describe('server hub', () => {
  async function threeClients() {
    const h = await startServer({}, { echo: false });
    const clients = [await h.client(), await h.client(), await h.client()];
    const conns: Conn[] = [];
    for (let i = 0; i < 3; i++) conns.push((await h.events.next('open')).conn);
    return { h, clients, conns };
  }

  test('count, get() and iteration track open connections', async () => {
    const { h, clients, conns } = await threeClients();
    assert.equal(h.server.count, 3);
    const ids = conns.map((c) => c.id).sort((x, y) => x - y);
    assert.deepEqual(
      [...h.server].map((c) => c.id).sort((x, y) => x - y),
      ids,
    );
    assert.deepEqual(
      [...h.server.clients()].map((c) => c.id).sort((x, y) => x - y),
      ids,
    );
    assert.equal(h.server.get(conns[1].id), conns[1]);
    await clients[1].close();
    await h.events.next('close', conns[1]);
    assert.equal(h.server.count, 2);
    assert.equal(h.server.get(conns[1].id), undefined);
    assert.ok(![...h.server].includes(conns[1]));
  });

  test('broadcast reaches all but except, returns the count, honours binary', async () => {
    const { h, clients, conns } = await threeClients();
    assert.equal(h.server.broadcast('to all'), 3);
    for (const c of clients) {
      const m = await c.events.next('message');
      assert.deepEqual([m.data.toString(), m.isBinary], ['to all', false]);
    }
    assert.equal(h.server.broadcast('not you', { except: conns[0] }), 2);
    assert.equal(h.server.broadcast(Buffer.from('bytes'), { except: conns[1].id }), 2);
    assert.equal(h.server.broadcast('text as binary', { binary: true }), 3);
    assert.equal(h.server.broadcast(Buffer.from('bytes as text'), { binary: false }), 3);

    const got = await Promise.all(
      clients.map(async (c) => {
        const out: string[] = [];
        for (;;) {
          const m = await c.events.next('message');
          out.push(`${m.isBinary ? 'b' : 't'}:${m.data}`);
          if (m.data.toString() === 'bytes as text') return out;
        }
      }),
    );
    assert.deepEqual(got[0], ['b:bytes', 'b:text as binary', 't:bytes as text']);
    assert.deepEqual(got[1], ['t:not you', 'b:text as binary', 't:bytes as text']);
    assert.deepEqual(got[2], ['t:not you', 'b:bytes', 'b:text as binary', 't:bytes as text']);

    conns[2].close(1000);
    assert.equal(h.server.broadcast('closing ones are skipped'), 2);
  });

  test('send(id, data) reaches one connection; unknown or closed ids return false', async () => {
    const { h, clients, conns } = await threeClients();
    assert.equal(h.server.send(conns[1].id, 'just you'), true);
    assert.equal(h.server.send(conns[2].id, Buffer.from([0xff]), true), true);
    assert.equal(await clients[1].events.nextText(), 'just you');
    const bin = await clients[2].events.next('message');
    assert.deepEqual([[...bin.data], bin.isBinary], [[0xff], true]);
    assert.equal(h.server.send(999_999, 'nobody'), false);
    conns[0].close();
    assert.equal(h.server.send(conns[0].id, 'closing'), false);
    // Nothing else arrived at client 0 but the close.
    await clients[0].events.next('close');
    assert.equal(clients[0].events.all('message').length, 0);
  });

  test('prepareFrame + sendPrepared send the same encoded bytes to each connection', async () => {
    const { h, clients, conns } = await threeClients();
    assert.equal(h.server.count, 3);
    const small = prepareFrame('prepared');
    const big = Buffer.alloc(100 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
    const large = prepareFrame(big);
    assert.ok(large.tail, 'a large payload is kept apart from its header');
    const asBinary = prepareFrame('text bytes', true);
    for (const conn of conns) {
      assert.equal(conn.sendPrepared(small), true);
      conn.sendPrepared(large);
      conn.sendPrepared(asBinary);
    }
    for (const c of clients) {
      const a = await c.events.next('message');
      assert.deepEqual([a.data.toString(), a.isBinary], ['prepared', false]);
      const b = await c.events.next('message');
      assert.equal(b.isBinary, true);
      assert.ok(b.data.equals(big));
      const d = await c.events.next('message');
      assert.deepEqual([d.data.toString(), d.isBinary], ['text bytes', true]);
    }
    conns[0].close();
    assert.equal(conns[0].sendPrepared(small), false, 'not sent once closing');
  });
});
