/**
 * permessage-deflate on the wire (RFC 7692 §6–7): where RSV1 may and may not be set, the threshold,
 * context takeover and its reset, message order while compression runs asynchronously, fragmented and
 * unusual compressed messages. Frames are built and inspected by hand on raw sockets.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateRawSync } from 'node:zlib';
import { connect, type Connection } from '../../src/index.js';
import { startServer, stopAll, until } from '../helpers/server-harness.js';
import { encodeFrame } from '../helpers/raw-client.js';
import {
  closeRawClients,
  compressibleBinary,
  compressibleText,
  deflateMessage,
  DeflateRawClient,
  fakeDeflateServer,
  Op,
  randomText,
  RSV1,
  spyDeflate,
} from '../helpers/deflate-harness.js';

afterEach(async () => {
  closeRawClients();
  await stopAll();
});

const OFFER = 'permessage-deflate; client_max_window_bits';

describe('RSV1 placement', () => {
  it('a compressed message fragmented by hand (RSV1 on the first frame only) is received whole', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    const text = compressibleText(40_000, 11);
    const payload = await client.compressor.compress(text);
    assert.ok(payload.length > 40, 'enough compressed bytes to split');
    // Text frame + continuations, including 1-byte and empty ones, with a ping in between.
    const cuts = [1, 2, 3, 10, 10, 20, Math.floor(payload.length / 2), payload.length - 1];
    const frames: Buffer[] = [];
    const bounds = [0, ...cuts, payload.length];
    for (let i = 0; i + 1 < bounds.length; i++) {
      frames.push(
        encodeFrame(i === 0 ? Op.Text : Op.Continuation, payload.subarray(bounds[i], bounds[i + 1]), {
          fin: i + 2 === bounds.length,
          rsv: i === 0 ? RSV1 : 0,
        }),
      );
      if (i === 3) frames.push(encodeFrame(Op.Ping, 'mid-message'));
    }
    client.raw.write(Buffer.concat(frames));
    const pong = await client.raw.readFrame();
    assert.equal(pong.opcode, Op.Pong);
    assert.equal(pong.rsv, 0, 'a pong is never compressed');
    assert.equal(pong.payload.toString(), 'mid-message');
    const received = await h.events.next('message');
    assert.equal(received.isBinary, false);
    assert.equal(received.data.toString(), text);
    const echo = await client.readMessage();
    assert.equal(echo.compressed, true);
    assert.equal(echo.frames.length, 1);
    assert.equal(echo.frames[0].rsv, RSV1, 'RSV1 and nothing else');
    assert.equal(echo.data.toString(), text);
  });

  it('a fragmented compressed binary message keeps its context across fragments and messages', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    for (let i = 0; i < 4; i++) {
      const data = compressibleBinary(30_000, 100 + (i % 2)); // repeats: the second pair refers back
      const payload = await client.compressor.compress(data);
      client.sendFragments(Op.Binary, payload, [
        Math.floor(payload.length / 3),
        Math.floor((2 * payload.length) / 3),
      ]);
      const received = await h.events.next('message');
      assert.equal(received.isBinary, true);
      assert.ok(received.data.equals(data), `message ${i}`);
    }
  });

  it('RSV1 on a continuation frame fails the connection with 1002', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    const payload = await client.compressor.compress(compressibleText(5000));
    client.sendFragments(Op.Text, payload, [Math.floor(payload.length / 2)], true);
    assert.equal(await client.readCloseCode(), 1002);
    assert.equal(h.events.all('message').length, 0);
  });

  it('RSV1 on a continuation of an uncompressed message fails with 1002', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    client.frame(Op.Text, 'abc', { fin: false });
    client.frame(Op.Continuation, deflateMessage('def'), { rsv: RSV1 });
    assert.equal(await client.readCloseCode(), 1002);
  });

  for (const [name, opcode] of [
    ['ping', Op.Ping],
    ['pong', Op.Pong],
    ['close', Op.Close],
  ] as const)
    it(`RSV1 on a ${name} frame fails the connection with 1002 (control frames are never compressed)`, async () => {
      const h = await startServer({ perMessageDeflate: true });
      const client = await DeflateRawClient.open(h.target, OFFER);
      assert.ok(client.negotiated);
      const payload = opcode === Op.Close ? Buffer.from([0x03, 0xe8]) : deflateMessage('hi');
      client.frame(opcode, payload, { rsv: RSV1 });
      const close = await client.raw.readClose();
      assert.equal(close.code, 1002);
      assert.equal(close.before.length, 0, 'no pong for a bad ping');
    });

  it('RSV1 on a connection that did not negotiate deflate fails with 1002 (server)', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, undefined);
    assert.equal(client.negotiated, false);
    client.frame(Op.Binary, deflateMessage(Buffer.alloc(3000)), { rsv: RSV1 });
    assert.equal(await client.readCloseCode(), 1002);
  });

  it('RSV1 from a server that did not negotiate deflate fails our client with 1002', async () => {
    const fake = await fakeDeflateServer(undefined, (socket) =>
      socket.write(encodeFrame(Op.Text, deflateMessage('hello'), { rsv: RSV1, mask: false })),
    );
    try {
      const codes: number[] = [];
      const conn = await connect(fake.url, {
        handshakeTimeout: 2000,
        closeTimeout: 500,
        close: (_c, code) => void codes.push(code),
      });
      assert.equal(conn.deflate, undefined);
      await until(() => conn.readyState === 'closed', 3000, 'client closed');
      assert.equal(conn.protocolError?.closeCode, 1002);
    } finally {
      await fake.close();
    }
  });

  it('our client accepts compressed frames from a server that negotiated, and answers compressed', async () => {
    const text = compressibleText(10_000, 5);
    let answered: Buffer | undefined;
    const fake = await fakeDeflateServer('permessage-deflate; server_no_context_takeover', (socket) => {
      socket.write(encodeFrame(Op.Text, deflateMessage(text), { rsv: RSV1, mask: false }));
      let got = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        got = Buffer.concat([got, chunk]);
        answered = got;
      });
    });
    try {
      const received: string[] = [];
      const conn = await connect(fake.url, {
        handshakeTimeout: 2000,
        message: (c, data) => {
          received.push(data.toString());
          c.send(data.toString());
        },
      });
      await until(() => received.length === 1 && answered !== undefined, 3000, 'message and answer');
      assert.equal(received[0], text);
      assert.ok(conn.deflate);
      assert.equal(answered![0] & RSV1, RSV1, 'the client compresses its large answer');
      assert.ok(answered!.length < text.length / 2);
      conn.terminate();
    } finally {
      await fake.close();
    }
  });
});

describe('threshold', () => {
  async function rsvOfEcho(client: DeflateRawClient, size: number, binary: boolean): Promise<boolean> {
    const data = binary ? Buffer.alloc(size, 0x61) : 'a'.repeat(size);
    client.sendPlain(data, binary);
    const echo = await client.readMessage();
    assert.equal(echo.data.length, size);
    assert.ok(echo.data.equals(Buffer.from(data)), `content of ${size} bytes`);
    assert.equal(echo.opcode, binary ? Op.Binary : Op.Text);
    return echo.compressed;
  }

  it('by default (1024) smaller messages go uncompressed, larger ones compressed', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    for (const binary of [false, true]) {
      for (const size of [0, 1, 100, 1023])
        assert.equal(await rsvOfEcho(client, size, binary), false, `${size}`);
      for (const size of [1024, 1025, 70_000])
        assert.equal(await rsvOfEcho(client, size, binary), true, `${size}`);
    }
  });

  it('a custom threshold is honoured (0 compresses everything, even empty messages)', async () => {
    const h0 = await startServer({ perMessageDeflate: { threshold: 0 } });
    const c0 = await DeflateRawClient.open(h0.target, OFFER);
    for (const size of [0, 1, 10]) assert.equal(await rsvOfEcho(c0, size, false), true, `${size}`);
    const h1 = await startServer({ perMessageDeflate: { threshold: 10_000 } });
    const c1 = await DeflateRawClient.open(h1.target, OFFER);
    assert.equal(await rsvOfEcho(c1, 9_999, true), false);
    assert.equal(await rsvOfEcho(c1, 10_000, true), true);
  });

  it("our client's threshold decides what it compresses", async () => {
    const h = await startServer({ perMessageDeflate: true });
    const spy = spyDeflate();
    try {
      const c = await h.client('/', { perMessageDeflate: { threshold: 2000 } });
      for (const size of [1999, 2000, 1000, 50_000]) {
        c.conn.send('b'.repeat(size));
        assert.equal((await c.events.nextText()).length, size);
      }
      const mine = spy.compress.filter((r) => r.owner === c.conn.deflate).map((r) => r.input);
      assert.deepEqual(mine, [2000, 50_000]);
    } finally {
      spy.restore();
    }
  });
});

describe('control frames', () => {
  it('pings, pongs and the Close the server sends are never compressed', async () => {
    const h = await startServer({ perMessageDeflate: { threshold: 0 } });
    const client = await DeflateRawClient.open(h.target, OFFER);
    const conn = (await h.events.next('open')).conn;
    conn.ping('x'.repeat(100));
    client.frame(Op.Ping, 'y'.repeat(100));
    const frames = [await client.raw.readFrame(), await client.raw.readFrame()];
    for (const frame of frames) assert.equal(frame.rsv, 0);
    assert.deepEqual(
      frames.map((f) => f.opcode).sort((a, b) => a - b),
      [Op.Ping, Op.Pong],
    );
    conn.close(1000, 'z'.repeat(100));
    const close = await client.raw.readFrame();
    assert.equal(close.opcode, Op.Close);
    assert.equal(close.rsv, 0);
  });
});

describe('context takeover', () => {
  const repeated = randomText(4096, 42); // incompressible alone, tiny when it refers to itself

  async function echoSizes(offer: string, server: object = {}): Promise<number[]> {
    const h = await startServer({ perMessageDeflate: { threshold: 0, ...server } });
    const client = await DeflateRawClient.open(h.target, offer);
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      client.sendPlain(repeated);
      const echo = await client.readMessage();
      assert.equal(echo.compressed, true);
      assert.equal(echo.data.toString(), repeated, 'decoded with the negotiated window and context rule');
      sizes.push(echo.wireSize);
    }
    return sizes;
  }

  it('server context is kept across messages: a repeated message compresses to almost nothing', async () => {
    const [first, second, third] = await echoSizes(OFFER);
    assert.ok(first > 3000, `the first is incompressible (${first})`);
    assert.ok(
      second < first / 20 && third < first / 20,
      `later ones refer back (${first}, ${second}, ${third})`,
    );
  });

  it('server_no_context_takeover (asked by the client) resets it after every message', async () => {
    const sizes = await echoSizes(`${OFFER}; server_no_context_takeover`);
    assert.ok(sizes[0] > 3000);
    assert.deepEqual(sizes, [sizes[0], sizes[0], sizes[0]]);
  });

  it('serverNoContextTakeover (imposed by the server) resets it too', async () => {
    const sizes = await echoSizes(OFFER, { serverNoContextTakeover: true });
    assert.deepEqual(sizes, [sizes[0], sizes[0], sizes[0]]);
  });

  it('a small server window (9 bits) cannot refer 4 KiB back, and the peer inflates with 9 bits', async () => {
    const [first, second] = await echoSizes('permessage-deflate; server_max_window_bits=9');
    assert.ok(second > first * 0.9, `no long back-references (${first}, ${second})`);
  });

  it('client context kept by a raw client is followed by the server inflater', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      sizes.push((await client.sendCompressed(repeated)).length);
      assert.equal((await h.events.next('message')).data.toString(), repeated);
    }
    assert.ok(sizes[1] < sizes[0] / 20, `the raw client referred back (${sizes.join(', ')})`);
  });

  it('client_no_context_takeover: the server resets its inflater after each message', async () => {
    // The raw client resets too; if the server kept its window the messages would still decode, so also
    // check that a message which only makes sense with a fresh context decodes right.
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, `${OFFER}; client_no_context_takeover`);
    assert.ok(client.params!.has('client_no_context_takeover'));
    for (let i = 0; i < 3; i++) {
      const payload = await client.sendCompressed(repeated);
      assert.ok(payload.length > 3000, 'no back-references');
      assert.equal((await h.events.next('message')).data.toString(), repeated);
    }
    const conn = (await h.events.next('open')).conn;
    assert.equal(conn.deflate!.params.clientNoContextTakeover, true);
  });

  it('our client keeps its context unless clientNoContextTakeover, and the server decodes both', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const spy = spyDeflate();
    try {
      for (const noContext of [false, true]) {
        const c = await h.client('/', { perMessageDeflate: { clientNoContextTakeover: noContext } });
        for (let i = 0; i < 3; i++) {
          c.conn.send(repeated);
          assert.equal(await c.events.nextText(), repeated);
        }
        const sizes = spy.compress.filter((r) => r.owner === c.conn.deflate).map((r) => r.output);
        assert.equal(sizes.length, 3);
        if (noContext) assert.deepEqual(sizes, [sizes[0], sizes[0], sizes[0]], 'fresh context every time');
        else assert.ok(sizes[1] < sizes[0] / 20, `context kept (${sizes.join(', ')})`);
        await c.close();
      }
    } finally {
      spy.restore();
    }
  });
});

describe('message order with asynchronous compression', () => {
  const N = 300;
  const messageFor = (i: number): string | Buffer =>
    i % 3 === 0
      ? `small ${i}`
      : i % 3 === 1
        ? `${i} ${compressibleText(20_000 + i, i)}`
        : Buffer.concat([Buffer.from([i & 0xff]), compressibleBinary(5000 + i, i)]);

  it('the server sends interleaved small (plain) and large (compressed) messages in order', async () => {
    const h = await startServer(
      {
        perMessageDeflate: true,
        message: (conn) => {
          for (let i = 0; i < N; i++) conn.send(messageFor(i));
          conn.ping('after all'); // control frames may overtake, but must not break anything
        },
      },
      { echo: false },
    );
    const client = await DeflateRawClient.open(h.target, OFFER);
    client.sendPlain('go');
    for (let i = 0; i < N; i++) {
      const message = await client.readMessage();
      const expected = messageFor(i);
      assert.equal(message.compressed, i % 3 !== 0, `RSV1 of message ${i}`);
      assert.equal(message.opcode, typeof expected === 'string' ? Op.Text : Op.Binary, `opcode of ${i}`);
      assert.ok(message.data.equals(Buffer.from(expected)), `content of message ${i}`);
    }
  });

  it('our client sends interleaved messages in order, and receives the echoes in order', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const received: Buffer[] = [];
    const c = await h.client('/', { message: (_c, data) => void received.push(data) });
    for (let i = 0; i < N; i++) c.conn.send(messageFor(i));
    await until(() => received.length === N, 15_000, 'all echoes');
    const serverGot = h.events.all('message').map((e) => e.data);
    for (let i = 0; i < N; i++) {
      const expected = Buffer.from(messageFor(i));
      assert.ok(serverGot[i].equals(expected), `server got message ${i} in order`);
      assert.ok(received[i].equals(expected), `client got echo ${i} in order`);
    }
  });

  it('bufferedAmount counts messages still being compressed, and drain follows', async () => {
    const h = await startServer({ perMessageDeflate: true });
    let drains = 0;
    const c = await h.client('/', { drain: () => void drains++ });
    const big = compressibleText(200_000, 9);
    let full = false;
    for (let i = 0; i < 20; i++) if (!c.conn.send(big)) full = true;
    assert.ok(
      c.conn.bufferedAmount >= 20 * 200_000 - 200_000,
      `queued bytes counted (${c.conn.bufferedAmount})`,
    );
    assert.ok(full, 'send() reports the full buffer');
    for (let i = 0; i < 20; i++) assert.equal(await c.events.nextText(c.conn, 10_000), big);
    await until(() => drains > 0, 3000, 'drain');
    assert.equal(c.conn.bufferedAmount, 0);
  });

  it('a message sent right before close() is delivered before the Close', async () => {
    const text = compressibleText(100_000, 4);
    const h = await startServer(
      {
        perMessageDeflate: true,
        message: (conn: Connection) => {
          conn.send(text);
          conn.close(1000, 'bye');
        },
      },
      { echo: false },
    );
    const client = await DeflateRawClient.open(h.target, OFFER);
    client.sendPlain('go');
    const message = await client.readMessage();
    assert.equal(message.data.toString(), text);
    assert.equal(await client.readCloseCode(), 1000);
  });
});

describe('unusual compressed messages', () => {
  it('empty compressed messages (an empty stored block, or an empty last fragment) are empty messages', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    client.frame(Op.Binary, Buffer.from([0x00]), { rsv: RSV1 }); // RFC 7692 §7.2.3.6
    client.frame(Op.Text, deflateMessage(''), { rsv: RSV1 });
    const payload = await client.compressor.compress('');
    client.sendFragments(Op.Text, Buffer.concat([payload, Buffer.alloc(0)]), []);
    client.frame(Op.Text, deflateMessage('x'), { rsv: RSV1, fin: false });
    client.frame(Op.Continuation, Buffer.alloc(0), { fin: true });
    for (const [binary, text] of [
      [true, ''],
      [false, ''],
      [false, ''],
      [false, 'x'],
    ] as const) {
      const event = await h.events.next('message');
      assert.equal(event.data.toString(), text);
      assert.equal(event.isBinary, binary);
    }
  });

  it('a message that ends its DEFLATE stream (BFINAL set, RFC 7692 §7.2.3.3) and the next ones decode', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    const texts = ['first message, final block', 'second message, final block', 'third, sync flushed'];
    client.frame(Op.Text, deflateRawSync(Buffer.from(texts[0])), { rsv: RSV1 }); // Z_FINISH: BFINAL=1
    client.frame(Op.Text, deflateRawSync(Buffer.from(texts[1])), { rsv: RSV1 });
    client.frame(Op.Text, deflateMessage(texts[2]), { rsv: RSV1 });
    for (const text of texts) assert.equal((await h.events.next('message')).data.toString(), text);
  });

  it('a compressed message made of several flushed blocks decodes', async () => {
    const h = await startServer({ perMessageDeflate: true });
    const client = await DeflateRawClient.open(h.target, OFFER);
    const parts = ['alpha '.repeat(300), 'beta '.repeat(300), 'gamma '.repeat(300)];
    // Full-flush between parts (the trailer of the inner flushes stays), sync flush at the end.
    const payload = Buffer.concat(
      parts.map((part, i) =>
        deflateRawSync(Buffer.from(part), {
          finishFlush: i === parts.length - 1 ? constants.Z_SYNC_FLUSH : constants.Z_FULL_FLUSH,
        }),
      ),
    );
    client.frame(Op.Text, payload.subarray(0, payload.length - 4), { rsv: RSV1 });
    assert.equal((await h.events.next('message')).data.toString(), parts.join(''));
  });
});
