/**
 * Graceful shutdown over real sockets: `server.close()` calls `shutdown` for each connection, sends
 * Close 1001, resolves once clients answer, terminates those that never do after `shutdownTimeout`, and
 * refuses new connections meanwhile.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../../src/index.js';
import { RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { sleep, startServer, stopAll, within } from '../helpers/server-harness.js';

afterEach(stopAll);

test('close() calls shutdown for each connection, sends 1001, and resolves once clients answer', async () => {
  const h = await startServer({ shutdownTimeout: 5000 });
  const a = await h.client('/a');
  const b = await h.client('/b');
  const raw = await RawClient.open(h.target, { path: '/raw' });
  try {
    assert.equal(h.server.count, 3);
    const conns = h.events.all('open').map((e) => e.conn);

    let resolved = false;
    const closing = h.server.close().then(() => {
      resolved = true;
    });
    assert.equal(h.server.close(), h.server.close(), 'close() is idempotent');
    assert.deepEqual(
      h.events
        .all('shutdown')
        .map((e) => e.conn.id)
        .sort(),
      conns.map((c) => c.id).sort(),
      'shutdown ran for every connection, synchronously',
    );

    const rawClose = await raw.readClose();
    assert.deepEqual([rawClose.code, rawClose.reason], [1001, 'server shutting down']);
    for (const client of [a, b]) {
      const seen = await client.events.next('close');
      assert.deepEqual([seen.code, seen.reason], [1001, 'server shutting down']);
    }
    await sleep(150);
    assert.equal(resolved, false, 'still waiting for the raw client to answer');
    raw.sendClose(1001);
    await within(closing, 2000, 'close() resolves after the last answer');
    await raw.waitClosed(2000);

    for (const conn of conns) {
      const order = h.events.events.filter((e) => e.conn.id === conn.id).map((e) => e.type);
      assert.deepEqual(order, ['open', 'shutdown', 'close'], `callbacks of connection ${conn.id}`);
      const closed = h.events.all('close', conn)[0];
      assert.equal(closed.code, 1001, 'each client echoed 1001');
    }
    assert.equal(h.server.count, 0);
  } finally {
    raw.destroy();
  }
});

test('a client that never answers the Close is terminated after shutdownTimeout; new connections are refused meanwhile', async () => {
  const h = await startServer({ shutdownTimeout: 400, closeTimeout: 10_000 });
  const polite = await h.client('/polite');
  const raw = await RawClient.open(h.target, { path: '/deaf' });
  const deafConn = h.events.all('open')[1].conn;
  const half = await RawClient.connect(h.target);
  half.write('GET / HTTP/1.1\r\nHost: x\r\n'); // a handshake still in progress
  try {
    await sleep(20);
    const started = Date.now();
    const closing = h.server.close();
    assert.deepEqual((await raw.readClose()).code, 1001);
    assert.equal((await polite.events.next('close')).code, 1001);

    // While close() waits for the deaf client, nobody new gets in.
    await assert.rejects(connect(h.url, { handshakeTimeout: 1000 }));
    await assert.rejects(
      (async () => {
        const late = await RawClient.connect(h.target);
        late.write(upgradeRequest().head);
        try {
          return await late.readHead(1000);
        } finally {
          late.destroy();
        }
      })(),
      'a raw connection attempt during shutdown gets no 101',
    );
    await within(half.closedPromise, 1000, 'a pending handshake is dropped at shutdown');

    await within(closing, 3000, 'close() resolves after shutdownTimeout');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 350, `waited for the deaf client (${elapsed} ms)`);
    await raw.waitClosed(1000);
    const deaf = h.events.all('close', deafConn)[0];
    assert.ok(deaf, 'the deaf connection got its close callback');
    assert.equal(deaf.code, 1006, 'terminated without a closing handshake');
    assert.equal(h.server.count, 0);
    assert.equal(h.events.all('open').length, 2, 'nothing opened during shutdown');
    // The raw client saw nothing after the Close.
    assert.equal(raw.pendingLength, 0);
    assert.equal(h.events.all('message').length, 0);
  } finally {
    raw.destroy();
    half.destroy();
  }
});

test('close() on an idle server resolves at once and frees the port', async () => {
  const h = await startServer();
  const port = h.port;
  await within(h.stop(), 1000, 'idle close');
  await assert.rejects(
    connect(`ws://127.0.0.1:${port}/`),
    (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
  );
});
