/**
 * Bad frames and resource limits on an open connection, over real sockets. Each one fails only the
 * offending connection with the right close code (or drops it, 1006), and the server keeps serving: a
 * connection opened before still echoes, and a fresh client still connects.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closePayload, encodeFrame, Op, RawClient } from '../helpers/raw-client.js';
import {
  assertServes,
  sleep,
  startChildServer,
  startServer,
  stopAll,
  type Harness,
} from '../helpers/server-harness.js';

afterEach(stopAll);

/** Opens a healthy client, then a raw one; returns both and the raw one's server-side connection. */
async function healthyAndRaw(h: Harness) {
  const existing = await h.client('/existing');
  h.events.discard('open');
  const raw = await RawClient.open(h.target, { path: '/raw' });
  const { conn } = await h.events.next('open');
  assert.equal(conn.path, '/raw');
  return { existing, raw, conn };
}

/** Sends `bytes` from a raw client; expects a Close with `code`, the TCP close, and the same code reported. */
async function expectFailure(h: Harness, bytes: Buffer | Buffer[], code: number) {
  const { existing, raw, conn } = await healthyAndRaw(h);
  try {
    for (const part of Array.isArray(bytes) ? bytes : [bytes]) raw.write(part);
    const close = await raw.readClose(3000);
    assert.equal(close.code, code, `client got Close ${close.code} (${close.reason})`);
    assert.deepEqual(close.before, [], 'nothing but the Close was sent back');
    await raw.waitClosed(3000);
    const reported = await h.events.next('close', conn);
    assert.equal(reported.code, code, 'the close callback reports the code the connection was failed with');
    assert.ok(conn.protocolError, 'protocolError is set');
    assert.equal(conn.protocolError.closeCode, code);
    assert.equal(h.events.all('message', conn).length, 0, 'the bad message was not delivered');
  } finally {
    raw.destroy();
  }
  await assertServes(h.url, {}, existing);
  return conn;
}

describe('malformed frames fail only that connection', () => {
  test('an unmasked client frame → Close 1002', async () => {
    const h = await startServer();
    await expectFailure(h, encodeFrame(Op.Text, 'naked', { mask: false }), 1002);
  });

  test('a reserved data opcode (3) and a reserved control opcode (0xB) → Close 1002', async () => {
    const h = await startServer();
    await expectFailure(h, encodeFrame(3, 'what'), 1002);
    await expectFailure(h, encodeFrame(0xb, ''), 1002);
  });

  test('invalid UTF-8 in a text message → Close 1007, also when split across fragments', async () => {
    const h = await startServer();
    await expectFailure(h, encodeFrame(Op.Text, Buffer.from([0x68, 0x69, 0xff, 0xfe])), 1007);
    // "é" is C3 A9: the first fragment ends inside the character, the second starts with a bad byte.
    await expectFailure(
      h,
      [
        encodeFrame(Op.Text, Buffer.from([0x61, 0xc3]), { fin: false }),
        encodeFrame(Op.Continuation, Buffer.from([0x28])),
      ],
      1007,
    );
  });

  test('RSV bits without an extension, an oversized ping, a fragmented ping, a stray continuation → 1002', async () => {
    const h = await startServer();
    await expectFailure(h, encodeFrame(Op.Text, 'x', { rsv: 0x40 }), 1002);
    await expectFailure(h, encodeFrame(Op.Ping, Buffer.alloc(126)), 1002);
    await expectFailure(h, encodeFrame(Op.Ping, 'p', { fin: false }), 1002);
    await expectFailure(h, encodeFrame(Op.Continuation, 'orphan'), 1002);
  });

  test('a Close with an invalid code (1005 on the wire) → 1002; a 1-byte Close payload → 1002', async () => {
    const h = await startServer();
    await expectFailure(h, encodeFrame(Op.Close, closePayload(1005)), 1002);
    await expectFailure(h, encodeFrame(Op.Close, Buffer.from([3])), 1002);
  });
});

describe('message size limit', () => {
  test('a message over maxMessageSize → Close 1009; one of exactly the limit is delivered', async () => {
    const h = await startServer({ maxMessageSize: 1024 });
    const existing = await h.client();
    const exact = Buffer.alloc(1024, 0x33);
    existing.conn.send(exact);
    assert.ok((await existing.events.next('message')).data.equals(exact), 'exactly 1024 bytes is allowed');
    await expectFailure(h, encodeFrame(Op.Binary, Buffer.alloc(1025)), 1009);
  });

  test('fragments that add up past maxMessageSize → Close 1009 before the message completes', async () => {
    const h = await startServer({ maxMessageSize: 1024 });
    await expectFailure(
      h,
      [
        encodeFrame(Op.Binary, Buffer.alloc(600), { fin: false }),
        encodeFrame(Op.Continuation, Buffer.alloc(600), { fin: false }),
      ],
      1009,
    );
  });

  test('a huge declared length is refused from the header alone (no payload sent)', async () => {
    const h = await startServer({ maxMessageSize: 1024 });
    const header = Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]); // 4 GiB, masked
    await expectFailure(h, header, 1009);
  });
});

describe('abrupt disconnects', () => {
  test('socket destroyed after half a frame → close reports 1006, nothing delivered, no crash', async () => {
    const h = await startServer();
    for (const cut of [1, 5, 500]) {
      const { existing, raw, conn } = await healthyAndRaw(h);
      const frame = encodeFrame(Op.Binary, Buffer.alloc(1000, 1));
      raw.write(frame.subarray(0, cut));
      await sleep(30);
      raw.destroy();
      const reported = await h.events.next('close', conn);
      assert.equal(reported.code, 1006, `cut at ${cut} bytes`);
      assert.equal(h.events.all('message', conn).length, 0);
      assert.equal(conn.readyState, 'closed');
      await assertServes(h.url, {}, existing);
      await existing.close();
    }
  });
});

describe('backpressure limits', () => {
  test('a client that never reads while the server sends: send() turns false, then Close 1008 and the drop, counted', async () => {
    const maxBufferedAmount = 256 * 1024;
    const slow: number[] = [];
    const h = await startServer({ maxBufferedAmount, slowReader: (conn) => slow.push(conn.id) });
    const { existing, raw, conn } = await healthyAndRaw(h);
    try {
      raw.socket.pause();
      const chunk = Buffer.alloc(64 * 1024, 0x42);
      let firstFalse = -1;
      let sends = 0;
      // Kernel buffers take a few MB before anything queues in user space; bounded at 64 MiB in all.
      for (let i = 0; i < 1024 && conn.transportError === undefined; i++) {
        const ok = conn.send(chunk);
        sends++;
        if (!ok && firstFalse === -1) firstFalse = i;
        assert.ok(
          conn.bufferedAmount <= maxBufferedAmount + 2 * (chunk.length + 64),
          `buffer bounded: ${conn.bufferedAmount}`,
        );
        if (i % 16 === 15) await sleep(1);
      }
      assert.ok(conn.transportError, `the connection was dropped after ${sends} sends`);
      assert.match(conn.transportError.message, /not reading/);
      assert.ok(firstFalse !== -1 && firstFalse < sends - 1, 'send() returned false before the drop');
      assert.equal(h.server.stats.slowDropped, 1);
      assert.deepEqual(slow, [conn.id]);
      const held = conn.bufferedAmount;
      assert.equal(conn.send(chunk), false, 'send after the drop returns false');
      assert.ok(conn.bufferedAmount <= held, 'nothing more is queued');
      // The client reads at last: every frame queued so far, then the Close 1008.
      raw.socket.resume();
      const close = await raw.readClose(10_000);
      assert.equal(close.code, 1008);
      assert.match(close.reason, /not reading/);
      assert.ok(close.before.length >= sends - 1, `${close.before.length} frames before the Close`);
      const reported = await h.events.next('close', conn);
      assert.equal(reported.code, 1008);
      assert.match(reported.reason, /not reading/);
      assert.equal(h.server.get(conn.id), undefined);
      assert.equal(conn.readyState, 'closed');
      assert.equal(h.server.stats.slowDropped, 1, 'counted once');
      await raw.waitClosed(3000);
    } finally {
      raw.destroy();
    }
    await assertServes(h.url, {}, existing);
  });

  test('a message as large as both limits (16 MiB) is echoed back intact, not dropped', async () => {
    const size = 16 * 1024 * 1024;
    const h = await startServer({ maxMessageSize: size, maxBufferedAmount: size, perMessageDeflate: false });
    const client = await h.client('/', { maxMessageSize: size, perMessageDeflate: false });
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4096) payload.writeUInt32BE(i, i);
    client.conn.send(payload);
    const echoed = await client.events.next('message', client.conn, 20_000);
    assert.equal(echoed.data.length, size);
    assert.ok(echoed.data.equals(payload), 'same bytes');
    assert.equal(h.server.stats.slowDropped, 0);
    assert.equal((await client.close()).code, 1000);
  });

  test('a ping flood from a client that never reads: the server stops reading, its buffer and heap stay bounded', async () => {
    // The server runs in a child process so its heap is measured apart from this test's client.
    const child = await startChildServer({ pingInterval: 0 });
    const raw = await RawClient.open({ port: child.port, host: '127.0.0.1' });
    try {
      raw.socket.pause();
      const before = await child.stats();
      const ping = encodeFrame(Op.Ping, Buffer.alloc(125, 0x61)); // 131 bytes; each Pong is 127
      const batch = Buffer.concat(Array<Buffer>(500).fill(ping));
      const limit = 64 * 1024 * 1024;
      let sent = 0;
      let lastProgress = Date.now();
      // Keep at most 1 MiB queued here; stop when the server has not taken anything for 500 ms.
      while (sent < limit) {
        if (raw.socket.writableLength < 1024 * 1024) {
          raw.write(batch);
          sent += batch.length;
          lastProgress = Date.now();
          await new Promise((resolve) => setImmediate(resolve));
        } else {
          await sleep(20);
          if (Date.now() - lastProgress > 500) break;
        }
      }
      const pingsSent = sent / ping.length;
      const stats = await child.stats();
      assert.ok(sent < limit, `the server stopped reading: the client stalled after ${sent} bytes`);
      assert.ok(stats.pings < pingsSent, `server handled ${stats.pings} of ${pingsSent} pings, then paused`);
      assert.ok(
        stats.maxBufferedAmount < 512 * 1024,
        `server send buffer peaked at ${stats.maxBufferedAmount} bytes`,
      );
      const growth = stats.heapUsed - before.heapUsed;
      assert.ok(growth < 16 * 1024 * 1024, `server heap grew by ${growth} bytes`);
      assert.equal(stats.count, 1, 'the connection is still open');

      // Once the client reads again, every ping is answered, in order, and then its message is echoed.
      raw.socket.resume();
      raw.sendFrame(Op.Text, 'after the flood');
      let pongs = 0;
      for (;;) {
        const frame = await raw.readFrame(10_000);
        if (frame.opcode !== Op.Pong) {
          assert.deepEqual([frame.opcode, frame.payload.toString()], [Op.Text, 'after the flood']);
          break;
        }
        pongs++;
      }
      assert.equal(pongs, pingsSent);
    } finally {
      raw.destroy();
      await child.stop();
    }
  });
});
