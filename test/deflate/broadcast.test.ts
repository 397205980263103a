/**
 * Broadcast with permessage-deflate: receivers whose server-side compressor keeps no context share one
 * compression per group of equal settings (proved by counting calls, and by byte-identical frames on raw
 * sockets); receivers with context takeover each get their own compressor's output. Everyone decodes
 * the right content, in order with their other messages.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openClient, startServer, stopAll, type Harness } from '../helpers/server-harness.js';
import {
  closeRawClients,
  compressibleBinary,
  compressibleText,
  DeflateRawClient,
  Op,
  randomText,
  spyDeflate,
  type DeflateSpy,
} from '../helpers/deflate-harness.js';
import type { Connection } from '../../src/index.js';

let spy: DeflateSpy | undefined;
afterEach(async () => {
  spy?.restore();
  spy = undefined;
  closeRawClients();
  await stopAll();
});

const OFFER = 'permessage-deflate; client_max_window_bits';
const text = compressibleText(60_000, 21);
const binary = compressibleBinary(40_000, 22);

/** Opens `n` raw clients with `offer` and waits until the server has them all. */
async function rawClients(h: Harness, n: number, offer: string | undefined): Promise<DeflateRawClient[]> {
  const clients = await Promise.all(Array.from({ length: n }, () => DeflateRawClient.open(h.target, offer)));
  for (let i = 0; i < n; i++) await h.events.next('open');
  return clients;
}

describe('broadcast to stateless receivers (server_no_context_takeover)', () => {
  it('compresses once for all, and every receiver gets the same bytes and decodes them', async () => {
    const h = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } }, { echo: false });
    const clients = await rawClients(h, 12, OFFER);
    spy = spyDeflate();
    assert.equal(h.server.broadcast(text), 12);
    assert.equal(h.server.broadcast(binary), 12);
    assert.equal(spy.compressOnce.length, 2, 'one compression per broadcast');
    assert.equal(spy.compress.length, 0, 'no per-receiver compression');
    const firstFrames: Buffer[] = [];
    for (const client of clients) {
      const t = await client.readMessage();
      assert.equal(t.compressed, true);
      assert.equal(t.opcode, Op.Text);
      assert.equal(t.data.toString(), text);
      const b = await client.readMessage();
      assert.equal(b.compressed, true);
      assert.equal(b.opcode, Op.Binary);
      assert.ok(b.data.equals(binary));
      firstFrames.push(t.frames[0].payload);
    }
    for (const frame of firstFrames)
      assert.ok(frame.equals(firstFrames[0]), 'byte-identical compressed frames');
    assert.ok(firstFrames[0].length < text.length / 2);
  });

  it('clients asking for server_no_context_takeover themselves (our client) share one compression', async () => {
    const h = await startServer({ perMessageDeflate: true }, { echo: false });
    const clients = await Promise.all(
      Array.from({ length: 6 }, () =>
        openClient(h.url, { perMessageDeflate: { serverNoContextTakeover: true } }),
      ),
    );
    spy = spyDeflate();
    assert.equal(h.server.broadcast(text), 6);
    assert.equal(spy.compressOnce.length, 1);
    for (const c of clients) assert.equal(await c.events.nextText(), text);
  });

  it('compresses once per group of equal settings (window bits differ)', async () => {
    const h = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } }, { echo: false });
    const wide = await rawClients(h, 4, OFFER);
    const narrow = await rawClients(h, 4, `${OFFER}; server_max_window_bits=10`);
    spy = spyDeflate();
    h.server.broadcast(text);
    assert.equal(spy.compressOnce.length, 2, 'one compression per group');
    assert.equal(spy.compress.length, 0);
    for (const group of [wide, narrow]) {
      const frames: Buffer[] = [];
      for (const client of group) {
        const message = await client.readMessage(); // inflated with the group's own window
        assert.equal(message.data.toString(), text);
        frames.push(message.frames[0].payload);
      }
      for (const frame of frames) assert.ok(frame.equals(frames[0]), 'identical within a group');
    }
  });

  it('sends below the threshold uncompressed to everyone, without compressing', async () => {
    const h = await startServer(
      { perMessageDeflate: { serverNoContextTakeover: true, threshold: 2000 } },
      { echo: false },
    );
    const clients = await rawClients(h, 3, OFFER);
    spy = spyDeflate();
    h.server.broadcast('x'.repeat(500));
    assert.equal(spy.compressOnce.length + spy.compress.length, 0);
    for (const client of clients) {
      const message = await client.readMessage();
      assert.equal(message.compressed, false);
      assert.equal(message.data.toString(), 'x'.repeat(500));
    }
  });
});

describe('broadcast threshold', () => {
  for (const stateless of [true, false])
    it(`applies to the payload size exactly as send() does (${stateless ? 'stateless' : 'context takeover'})`, async () => {
      const h = await startServer(
        { perMessageDeflate: { serverNoContextTakeover: stateless, threshold: 1024 } },
        { echo: false },
      );
      const [client] = await rawClients(h, 1, OFFER);
      const conn = [...h.server.clients()][0];
      for (const size of [1018, 1020, 1023, 1024, 1030]) {
        for (const data of ['a'.repeat(size), Buffer.alloc(size, 0x61)]) {
          conn.send(data);
          const sent = await client.readMessage();
          h.server.broadcast(data);
          const broadcast = await client.readMessage();
          const what = `${typeof data === 'string' ? 'text' : 'binary'} of ${size} bytes`;
          assert.equal(sent.compressed, size >= 1024, `send(): ${what}`);
          assert.equal(broadcast.compressed, sent.compressed, `broadcast(): ${what}, like send()`);
          assert.equal(broadcast.data.length, size);
        }
      }
    });
});

describe('broadcast to receivers with context takeover', () => {
  it("each receiver's own compressor is used, and its context carries to the next broadcast", async () => {
    const h = await startServer({ perMessageDeflate: true }, { echo: false });
    const clients = await rawClients(h, 8, OFFER);
    const conns = [...h.server.clients()];
    const repeated = randomText(8000, 5); // fits the 32 KiB window: the second refers back
    spy = spyDeflate();
    h.server.broadcast(repeated);
    h.server.broadcast(repeated);
    assert.equal(spy.compressOnce.length, 0);
    assert.equal(spy.compress.length, 16);
    const owners = new Set(spy.compress.map((r) => r.owner));
    assert.deepEqual(owners, new Set(conns.map((c) => c.deflate)), 'one compressor per receiver');
    for (const client of clients) {
      const first = await client.readMessage();
      const second = await client.readMessage();
      assert.equal(first.data.toString(), repeated);
      assert.equal(second.data.toString(), repeated);
      assert.ok(
        second.wireSize < first.wireSize / 10,
        `context kept (${first.wireSize} then ${second.wireSize})`,
      );
    }
  });

  it('mixed receivers: stateless, stateful, and uncompressed all get the right content', async () => {
    const h = await startServer({ perMessageDeflate: true }, { echo: false });
    const stateless = await rawClients(h, 3, `${OFFER}; server_no_context_takeover`);
    const stateful = await rawClients(h, 3, OFFER);
    const plain = await rawClients(h, 3, undefined);
    const ours = await openClient(h.url, { perMessageDeflate: true });
    const oursPlain = await openClient(h.url, { perMessageDeflate: false });
    await h.events.next('open');
    await h.events.next('open');
    spy = spyDeflate();
    assert.equal(h.server.broadcast(binary), 11);
    assert.equal(spy.compressOnce.length, 1, 'the stateless group shares one compression');
    assert.equal(
      spy.compress.filter((r) => r.owner !== ours.conn.deflate).length,
      4,
      'stateful ones: their own',
    );
    for (const client of [...stateless, ...stateful]) {
      const message = await client.readMessage();
      assert.equal(message.compressed, true);
      assert.ok(message.data.equals(binary));
    }
    for (const client of plain) {
      const message = await client.readMessage();
      assert.equal(message.compressed, false);
      assert.ok(message.data.equals(binary));
    }
    for (const c of [ours, oursPlain]) assert.ok((await c.events.next('message')).data.equals(binary));
  });
});

describe('broadcast ordering and options', () => {
  for (const stateless of [true, false])
    it(`keeps order with the receiver's own pending compressed sends (${stateless ? 'stateless' : 'context takeover'})`, async () => {
      const h = await startServer(
        { perMessageDeflate: { serverNoContextTakeover: stateless } },
        { echo: false },
      );
      const clients = await rawClients(h, 4, OFFER);
      const big1 = compressibleText(200_000, 1);
      const big2 = compressibleText(150_000, 2);
      for (const conn of h.server.clients()) conn.send(big1); // still compressing when the broadcast comes
      h.server.broadcast(big2);
      for (const conn of h.server.clients()) conn.send('small after');
      h.server.broadcast('small broadcast');
      for (const client of clients) {
        assert.equal((await client.readMessage()).data.toString(), big1);
        assert.equal((await client.readMessage()).data.toString(), big2);
        assert.equal((await client.readMessage()).data.toString(), 'small after');
        assert.equal((await client.readMessage()).data.toString(), 'small broadcast');
      }
    });

  it('except skips one receiver', async () => {
    const h = await startServer({ perMessageDeflate: { serverNoContextTakeover: true } }, { echo: false });
    const clients = await rawClients(h, 3, OFFER);
    const skipped = [...h.server.clients()][0] as Connection;
    assert.equal(h.server.broadcast(text, { except: skipped }), 2);
    h.server.broadcast('next');
    const got = await Promise.all(clients.map(async (c) => (await c.readMessage()).data.toString()));
    assert.equal(got.filter((g) => g === 'next').length, 1, 'the skipped one got "next" first');
    assert.equal(got.filter((g) => g === text).length, 2);
  });
});
