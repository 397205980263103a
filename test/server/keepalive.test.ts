/**
 * Keepalive over real sockets: idle connections are pinged; a peer that answers stays, a peer that is
 * silent is dropped (close reports 1006) within a bounded time.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { Op, RawClient, type Frame } from '../helpers/raw-client.js';
import { assertServes, sleep, startServer, stopAll, within } from '../helpers/server-harness.js';

afterEach(stopAll);

const keepalive = { pingInterval: 100, pongTimeout: 100 };

test('peers that answer pings stay connected for a second (raw client and library client)', async () => {
  const h = await startServer(keepalive);
  const raw = await RawClient.open(h.target, { path: '/raw' });
  const { conn } = await h.events.next('open');
  const lib = await h.client('/lib');
  const libConn = (await h.events.next('open')).conn;
  try {
    let pings = 0;
    const stopAt = Date.now() + 1000;
    while (Date.now() < stopAt) {
      let frame: Frame;
      try {
        frame = await raw.readFrame(Math.max(1, stopAt - Date.now()));
      } catch (error) {
        if (raw.closed) throw error;
        break; // the second is over
      }
      assert.equal(frame.opcode, Op.Ping, 'an idle connection only gets pings');
      pings++;
      raw.sendFrame(Op.Pong, frame.payload);
    }
    assert.ok(pings >= 3, `the idle raw client was pinged ${pings} times in a second`);
    assert.equal(h.events.all('close').length, 0, 'nobody was dropped');
    assert.equal(conn.readyState, 'open');
    assert.equal(libConn.readyState, 'open');
    assert.ok(h.events.all('pong', conn).length >= 3, 'the pongs reached the pong callback');
    assert.ok(lib.events.all('ping').length >= 3, 'the library client was pinged and answered by itself');
    assert.equal(h.server.count, 2);

    raw.sendFrame(Op.Text, 'still here');
    for (;;) {
      const frame = await raw.readFrame(2000);
      if (frame.opcode === Op.Ping) continue;
      assert.deepEqual([frame.opcode, frame.payload.toString()], [Op.Text, 'still here']);
      break;
    }
    assert.equal(await lib.roundTrip('me too'), 'me too');
  } finally {
    raw.destroy();
  }
});

test('a silent peer that never answers pings is dropped and close reports 1006', async () => {
  const h = await startServer(keepalive);
  const existing = await h.client('/existing');
  h.events.discard('open');
  const raw = await RawClient.open(h.target, { path: '/silent' });
  const { conn } = await h.events.next('open');
  const started = Date.now();
  try {
    const closed = await h.events.next('close', conn, 3000);
    const elapsed = Date.now() - started;
    assert.equal(closed.code, 1006);
    assert.match(closed.reason, /ping/);
    assert.ok(elapsed >= 150, `dropped only after an unanswered ping (${elapsed} ms)`);
    await within(raw.closedPromise, 2000, 'the silent client socket closes');
    const frame = await raw.readFrame(100);
    assert.equal(frame.opcode, Op.Ping, 'it was pinged before being dropped');
    assert.equal(h.server.get(conn.id), undefined);
  } finally {
    raw.destroy();
  }
  // The library client answered its pings all along and is still connected.
  assert.equal(h.events.all('close').length, 1);
  await assertServes(h.url, {}, existing);
});

test('any traffic counts as life: a client that only sends messages is never dropped', async () => {
  const h = await startServer({ ...keepalive, pingInterval: 150 });
  const raw = await RawClient.open(h.target);
  const { conn } = await h.events.next('open');
  try {
    for (let i = 0; i < 12; i++) {
      raw.sendFrame(Op.Text, `tick ${i}`);
      await sleep(50);
    }
    assert.equal(conn.readyState, 'open');
    assert.equal(h.events.all('message', conn).length, 12);
    assert.equal(h.events.all('close').length, 0);
  } finally {
    raw.destroy();
  }
});
