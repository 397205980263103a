/**
 * The closing handshake over real sockets, both directions: who answers, who closes TCP, and which code
 * and reason each side's `close` callback reports.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidStateError } from '../../src/index.js';
import { encodeFrame, Op, RawClient } from '../helpers/raw-client.js';
import { startServer, stopAll, within } from '../helpers/server-harness.js';

afterEach(stopAll);

describe('client-initiated close', () => {
  test('raw client: the server answers with the same code, then closes TCP', async () => {
    const h = await startServer();
    const raw = await RawClient.open(h.target);
    const { conn } = await h.events.next('open');
    try {
      raw.sendClose(1000, 'done here');
      const answer = await raw.readClose();
      assert.equal(answer.code, 1000, 'the server echoed the code');
      assert.deepEqual(answer.before, []);
      await raw.waitEnded(2000); // the server closes the TCP connection
      await raw.waitClosed(2000);
      const reported = await h.events.next('close', conn);
      assert.deepEqual([reported.code, reported.reason], [1000, 'done here']);
      assert.equal(h.server.count, 0);
    } finally {
      raw.destroy();
    }
  });

  test('raw client: an empty Close is answered with an empty Close; close reports 1005', async () => {
    const h = await startServer();
    const raw = await RawClient.open(h.target);
    const { conn } = await h.events.next('open');
    try {
      raw.sendClose();
      const frame = await raw.readFrame();
      assert.equal(frame.opcode, Op.Close);
      assert.equal(frame.payload.length, 0);
      await raw.waitClosed(2000);
      assert.equal((await h.events.next('close', conn)).code, 1005);
    } finally {
      raw.destroy();
    }
  });

  test("frames after the client's Close are ignored", async () => {
    const h = await startServer();
    const raw = await RawClient.open(h.target);
    const { conn } = await h.events.next('open');
    try {
      raw.write(
        Buffer.concat([encodeFrame(Op.Close, Buffer.from([0x03, 0xe8])), encodeFrame(Op.Text, 'too late')]),
      );
      await raw.readClose();
      await raw.waitClosed(2000);
      await h.events.next('close', conn);
      assert.equal(h.events.all('message', conn).length, 0);
    } finally {
      raw.destroy();
    }
  });

  test('library client: close(4100, reason) reaches the server; both sides report 4100', async () => {
    const h = await startServer();
    const client = await h.client();
    const { conn } = await h.events.next('open');
    const seen = await within(client.close(4100, 'client leaving'), 2000, 'client close completes');
    assert.equal(seen.code, 4100);
    const reported = await h.events.next('close', conn);
    assert.deepEqual([reported.code, reported.reason], [4100, 'client leaving']);
    assert.equal(client.conn.readyState, 'closed');
  });
});

describe('server-initiated close', () => {
  test("conn.close(4000, 'bye') → the client sees 4000/'bye' and the server closes TCP after the echo", async () => {
    const h = await startServer();
    const client = await h.client();
    const { conn } = await h.events.next('open');
    conn.close(4000, 'bye');
    const seen = await within(client.events.next('close'), 2000, 'client close callback');
    assert.deepEqual([seen.code, seen.reason], [4000, 'bye']);
    const reported = await h.events.next('close', conn);
    assert.equal(reported.code, 4000, 'the client echoed the code');
  });

  test('raw client sees the Close frame, answers it, and the server then closes TCP', async () => {
    const h = await startServer();
    const raw = await RawClient.open(h.target);
    const { conn } = await h.events.next('open');
    try {
      conn.close(4000, 'bye');
      const close = await raw.readClose();
      assert.deepEqual([close.code, close.reason], [4000, 'bye']);
      assert.equal(raw.ended, false, 'the server waits for the answer before closing TCP');
      raw.sendClose(4000);
      await raw.waitClosed(2000);
      const reported = await h.events.next('close', conn);
      assert.equal(reported.code, 4000);
    } finally {
      raw.destroy();
    }
  });

  test('a peer that never answers the Close is dropped after closeTimeout (1006)', async () => {
    const h = await startServer({ closeTimeout: 200 });
    const raw = await RawClient.open(h.target);
    const { conn } = await h.events.next('open');
    try {
      const started = Date.now();
      conn.close(1000, 'answer me');
      assert.equal((await raw.readClose()).code, 1000);
      const reported = await h.events.next('close', conn, 3000);
      assert.ok(Date.now() - started >= 150, 'it waited for the answer first');
      assert.equal(reported.code, 1006);
      await raw.waitClosed(2000);
    } finally {
      raw.destroy();
    }
  });

  test('close reasons round trip: UTF-8 and the 123-byte maximum; bad codes and long reasons throw', async () => {
    const h = await startServer();
    const reasons = ['ünïcødé 🎉 reason', 'r'.repeat(123), 'é'.repeat(61) + 'x'];
    for (const reason of reasons) {
      const client = await h.client();
      const { conn } = await h.events.next('open');
      assert.throws(() => conn.close(1000, 'x'.repeat(124)), InvalidStateError);
      assert.throws(() => conn.close(1006), InvalidStateError);
      assert.throws(() => conn.close(999), InvalidStateError);
      assert.equal(conn.isOpen, true, 'a refused close() leaves the connection open');
      conn.close(3001, reason);
      const seen = await client.events.next('close');
      assert.deepEqual([seen.code, seen.reason], [3001, reason]);
      await h.events.next('close', conn);
    }
    // And from the client to the server.
    const client = await h.client();
    const { conn } = await h.events.next('open');
    client.conn.close(1000, reasons[0]);
    const reported = await h.events.next('close', conn);
    assert.deepEqual([reported.code, reported.reason], [1000, reasons[0]]);
  });

  test('simultaneous close from both sides completes on both', async () => {
    const h = await startServer();
    const client = await h.client();
    const { conn } = await h.events.next('open');
    conn.close(1000, 'server');
    client.conn.close(1000, 'client');
    const [s, c] = await Promise.all([h.events.next('close', conn), client.events.next('close')]);
    assert.equal(s.code, 1000);
    assert.equal(c.code, 1000);
    assert.equal(h.server.count, 0);
  });
});
