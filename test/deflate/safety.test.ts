/**
 * permessage-deflate safety: decompression bombs fail with 1009 without the server's memory growing
 * towards the inflated size (measured in a child process), invalid compressed data fails with 1007, the
 * per-connection zlib state is released on close, and the process-wide zlib job limiter caps concurrency.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { connect } from '../../src/index.js';
import { JobLimiter, MessageDeflate, zlibJobs, DEFLATE_DEFAULTS } from '../../src/server/deflate.js';
import {
  assertServes,
  openClient,
  startServer,
  stopAll,
  until,
  within,
  type TestClient,
} from '../helpers/server-harness.js';
import { encodeFrame } from '../helpers/raw-client.js';
import {
  closeRawClients,
  compressibleText,
  deflateMessage,
  DeflateRawClient,
  fakeDeflateServer,
  MiB,
  Op,
  RSV1,
  startMemoryServer,
  type MemoryServer,
  type MemoryStats,
} from '../helpers/deflate-harness.js';

const OFFER = 'permessage-deflate; client_max_window_bits';
const BOMB_SIZE = 50_000_000;
/** 50 MB of zeros, compressed to ~50 KB. */
const bomb = deflateMessage(Buffer.alloc(BOMB_SIZE));

let child: MemoryServer | undefined;

/**
 * Stats once `settled` holds (polled up to 3 s): a connection's buffers are freed when its socket has
 * closed and zlib has let go of a stream closed mid-job, a little after the Close went out.
 */
async function settledStats(
  server: MemoryServer,
  settled: (s: MemoryStats) => boolean,
): Promise<MemoryStats> {
  const deadline = Date.now() + 3000;
  let stats = await server.stats();
  while (!settled(stats) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    stats = await server.stats();
  }
  return stats;
}
const tracked = (s: MemoryStats): number => s.heapUsed + s.external;
afterEach(async () => {
  closeRawClients();
  await child?.stop();
  child = undefined;
  await stopAll();
});

describe('decompression bombs', () => {
  it(`a ${Math.round(bomb.length / 1024)} KB message inflating to 50 MB closes with 1009; server memory stays bounded`, async () => {
    assert.ok(bomb.length < 100_000, `the bomb is small on the wire (${bomb.length} bytes)`);
    child = await startMemoryServer({ perMessageDeflate: true, maxMessageSize: 1 * MiB });
    const target = { port: child.port, host: '127.0.0.1' };
    const before = await child.stats();
    // Five at once (one of them fragmented), so a missing limit would show as hundreds of MB.
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => DeflateRawClient.open(target, OFFER)));
    clients.forEach((client, i) => {
      if (i === 0) client.sendFragments(Op.Binary, bomb, [1000, 20_000, 40_000]);
      else client.frame(Op.Binary, bomb, { rsv: RSV1 });
    });
    for (const client of clients) assert.equal(await client.readCloseCode(10_000), 1009);
    for (const client of clients) client.close();
    const after = await settledStats(child, (s) => s.count === 0 && tracked(s) - tracked(before) < 4 * MiB);
    const peakGrowth = after.maxRss - before.rss;
    assert.ok(
      peakGrowth < 40 * MiB,
      `peak RSS grew by ${(peakGrowth / MiB).toFixed(1)} MiB for 5 × 50 MB bombs`,
    );
    const retained = tracked(after) - tracked(before);
    assert.ok(retained < 4 * MiB, `heap + external retained: ${(retained / MiB).toFixed(1)} MiB`);
    assert.deepEqual(after.closeCodes, [1009, 1009, 1009, 1009, 1009]);
    // Still serving.
    await assertServes(`ws://127.0.0.1:${child.port}`, { perMessageDeflate: true });
  });

  it('with a large maxMessageSize (16 MiB) the bomb still stops at the limit, not at 50 MB', async () => {
    child = await startMemoryServer({ perMessageDeflate: true, maxMessageSize: 16 * MiB });
    const before = await child.stats();
    const client = await DeflateRawClient.open({ port: child.port, host: '127.0.0.1' }, OFFER);
    client.frame(Op.Text, bomb, { rsv: RSV1 });
    assert.equal(await client.readCloseCode(10_000), 1009);
    client.close();
    const after = await settledStats(child, (s) => s.count === 0 && tracked(s) - tracked(before) < 4 * MiB);
    const peakGrowth = after.maxRss - before.rss;
    assert.ok(peakGrowth < 40 * MiB, `peak RSS grew by ${(peakGrowth / MiB).toFixed(1)} MiB (50 MB bomb)`);
    const retained = tracked(after) - tracked(before);
    assert.ok(retained < 4 * MiB, `heap + external retained: ${(retained / MiB).toFixed(1)} MiB`);
  });

  it('a bomb sent by the ws client (which compresses 50 MB itself) closes with 1009', async () => {
    child = await startMemoryServer({ perMessageDeflate: true, maxMessageSize: 1 * MiB });
    const before = await child.stats();
    const ws = new WebSocket(`ws://127.0.0.1:${child.port}`, {
      perMessageDeflate: { threshold: 0 },
      maxPayload: 100 * MiB,
    });
    const code = await within(
      new Promise<number>((resolve, reject) => {
        ws.once('error', reject);
        ws.once('open', () => {
          assert.equal(ws.extensions, 'permessage-deflate');
          ws.send(Buffer.alloc(BOMB_SIZE));
        });
        ws.once('close', (closeCode: number) => resolve(closeCode));
      }),
      15_000,
      'ws close',
    );
    assert.equal(code, 1009);
    const after = await child.stats();
    assert.ok(
      after.maxRss - before.rss < 40 * MiB,
      `peak RSS grew by ${((after.maxRss - before.rss) / MiB).toFixed(1)} MiB`,
    );
  });

  it('our client fails with 1009 when a server sends it a bomb', async () => {
    const fake = await fakeDeflateServer('permessage-deflate', (socket) =>
      socket.write(encodeFrame(Op.Binary, bomb, { rsv: RSV1, mask: false })),
    );
    try {
      const conn = await connect(fake.url, {
        handshakeTimeout: 2000,
        closeTimeout: 300,
        maxMessageSize: 1 * MiB,
      });
      let messages = 0;
      conn.setHandlers({ message: () => void messages++ });
      await until(() => conn.readyState === 'closed', 5000, 'client closed');
      assert.equal(conn.protocolError?.closeCode, 1009);
      assert.equal(messages, 0);
    } finally {
      await fake.close();
    }
  });

  it('a message exactly at maxMessageSize inflated is accepted, one byte more is 1009', async () => {
    const h = await startServer({ perMessageDeflate: true, maxMessageSize: 100_000 }, { echo: false });
    const ok = await DeflateRawClient.open(h.target, OFFER);
    ok.frame(Op.Binary, deflateMessage(Buffer.alloc(100_000, 7)), { rsv: RSV1 });
    assert.equal((await h.events.next('message')).data.length, 100_000);
    const tooBig = await DeflateRawClient.open(h.target, OFFER);
    tooBig.frame(Op.Binary, deflateMessage(Buffer.alloc(100_001, 7)), { rsv: RSV1 });
    assert.equal(await tooBig.readCloseCode(), 1009);
  });
});

describe('invalid compressed data', () => {
  const cases: [string, Buffer, number][] = [
    ['an invalid block type', Buffer.from([0xff, 0xff, 0xff, 0xff]), Op.Binary],
    ['a stored block whose length check fails', Buffer.from([0x00, 0x05, 0x00, 0x00, 0x00, 0x41]), Op.Binary],
    ['random bytes', Buffer.from('3b9f0c77e1d26a4f88aa01ff23c4', 'hex'), Op.Text],
    [
      'valid DEFLATE of invalid UTF-8 in a text message',
      deflateMessage(Buffer.from([0x61, 0xc3, 0x28, 0x62])),
      Op.Text,
    ],
    ['valid DEFLATE of a truncated UTF-8 sequence', deflateMessage(Buffer.from([0x61, 0xe2, 0x82])), Op.Text],
  ];
  for (const [what, payload, opcode] of cases)
    it(`${what} fails the connection with 1007, and the server goes on serving`, async () => {
      const h = await startServer({ perMessageDeflate: true });
      const healthy = await h.client('/', { perMessageDeflate: true });
      const client = await DeflateRawClient.open(h.target, OFFER);
      client.frame(opcode, payload, { rsv: RSV1 });
      assert.equal(await client.readCloseCode(), 1007);
      await client.raw.waitEnded();
      assert.equal(h.events.all('message').length, 0, 'nothing delivered');
      await assertServes(h.url, { perMessageDeflate: true }, healthy);
    });

  for (const [what, code, payload, options] of [
    ['1007 (invalid data)', 1007, Buffer.from([0xff, 0xff, 0xff]), {}],
    ['1009 (bomb)', 1009, bomb, { maxMessageSize: 1 * MiB }],
  ] as const)
    it(`after failing with ${what} during inflation, the server sees the peer close without waiting for closeTimeout`, async () => {
      const h = await startServer({ perMessageDeflate: true, closeTimeout: 30_000, ...options });
      const ws = new WebSocket(h.url, { perMessageDeflate: { threshold: 0 } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const wsClosed = new Promise<number>((resolve) => ws.once('close', resolve));
      // ws would compress itself; send the prepared payload through its socket as a raw masked frame.
      (ws as unknown as { _socket: import('node:net').Socket })._socket.write(
        encodeFrame(Op.Binary, payload, { rsv: RSV1 }),
      );
      assert.equal(await within(wsClosed, 5000, 'ws close'), code);
      // The ws client closed its end; the server must notice now, not after 30 s.
      const closed = await h.events.next('close', undefined, 5000);
      assert.equal(closed.code, code);
      assert.equal(h.server.count, 0);
    });

  it('our client fails with 1007 on invalid compressed data from the server', async () => {
    const fake = await fakeDeflateServer('permessage-deflate', (socket) =>
      socket.write(encodeFrame(Op.Text, Buffer.from([0xff, 0xfe, 0xfd]), { rsv: RSV1, mask: false })),
    );
    try {
      const conn = await connect(fake.url, { handshakeTimeout: 2000, closeTimeout: 300 });
      await until(() => conn.readyState === 'closed', 5000, 'client closed');
      assert.equal(conn.protocolError?.closeCode, 1007);
    } finally {
      await fake.close();
    }
  });
});

describe('zlib memory', () => {
  it('per-connection zlib state is released when connections close (child process, after GC)', async () => {
    child = await startMemoryServer({ perMessageDeflate: true });
    const url = `ws://127.0.0.1:${child.port}`;
    const N = 150;
    // Warm-up: the first connections load code and grow pools that stay.
    for (const c of await Promise.all([1, 2, 3].map(() => openClient(url, { perMessageDeflate: true })))) {
      assert.equal(await c.roundTrip(compressibleText(20_000, 1)), compressibleText(20_000, 1));
      await c.close();
    }
    const base = await child.stats();
    const clients: TestClient[] = [];
    for (let i = 0; i < N; i += 25)
      clients.push(
        ...(await Promise.all(
          Array.from({ length: 25 }, () => openClient(url, { perMessageDeflate: true })),
        )),
      );
    const text = compressibleText(20_000, 2);
    // Every connection both inflates and deflates, so each has both zlib streams.
    await Promise.all(clients.map(async (c) => assert.equal(await c.roundTrip(text, 10_000), text)));
    const loaded = await child.stats();
    assert.equal(loaded.count, N);
    // Node reports part of zlib's native state as external memory (~40 KB per connection here).
    const grown = tracked(loaded) - tracked(base);
    assert.ok(
      grown > N * 20_000,
      `open compressed connections hold memory (${(grown / MiB).toFixed(1)} MiB)`,
    );
    await Promise.all(clients.map((c) => c.close()));
    const after = await settledStats(child, (s) => s.count === 0 && tracked(s) - tracked(base) < grown * 0.1);
    assert.equal(after.count, 0);
    const left = tracked(after) - tracked(base);
    assert.ok(
      left < grown * 0.1,
      `after closing: ${(left / MiB).toFixed(2)} MiB left of ${(grown / MiB).toFixed(1)} MiB`,
    );
  });

  it('MessageDeflate.close() drops pending work: no callback runs, later calls are ignored', async () => {
    const params = {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    };
    const deflate = new MessageDeflate(params, 'server', {}, 1 * MiB);
    let calls = 0;
    const done = new Promise<void>((resolve) =>
      deflate.compress(Buffer.from(compressibleText(10_000)), () => {
        calls++;
        resolve();
      }),
    );
    await done;
    for (let i = 0; i < 5; i++)
      deflate.compress(Buffer.from(compressibleText(50_000, i)), () => void calls++);
    deflate.decompress(deflateMessage('x'.repeat(5000)), () => void calls++);
    deflate.close();
    deflate.compress(Buffer.from('after close'), () => void calls++);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(calls, 1);
  });
});

describe('zlib job limiter', () => {
  it('JobLimiter runs at most `limit` jobs at once, in FIFO order', () => {
    const limiter = new JobLimiter(3);
    const started: number[] = [];
    const finish: (() => void)[] = [];
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 10; i++)
      limiter.run((done) => {
        started.push(i);
        running++;
        peak = Math.max(peak, running);
        finish[i] = () => {
          running--;
          done();
        };
      });
    assert.deepEqual(started, [0, 1, 2]);
    finish[1]();
    assert.deepEqual(started, [0, 1, 2, 3]);
    finish[0]();
    finish[3]();
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5]);
    // Each finish starts the next waiting job, so by the time the loop gets to it, it has started.
    for (let i = 2; i < 10; i++) if (i !== 3) finish[i]();
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(peak, 3);
    assert.equal(running, 0);
  });

  it('calling done twice frees only one slot', () => {
    const limiter = new JobLimiter(1);
    const started: number[] = [];
    const dones: (() => void)[] = [];
    for (let i = 0; i < 3; i++)
      limiter.run((done) => {
        started.push(i);
        dones.push(done);
      });
    dones[0]();
    dones[0]();
    assert.deepEqual(started, [0, 1], 'a second done() of the same job must not start another');
    dones[1]();
    assert.deepEqual(started, [0, 1, 2]);
  });

  it('jobs finishing synchronously let every waiting job run', () => {
    const limiter = new JobLimiter(2);
    let ran = 0;
    for (let i = 0; i < 1000; i++)
      limiter.run((done) => {
        ran++;
        done();
      });
    assert.equal(ran, 1000);
  });

  it(`the process-wide zlibJobs caps concurrent zlib work at ${DEFLATE_DEFAULTS.concurrency} under a burst`, async () => {
    const original = zlibJobs.run;
    let active = 0;
    let peak = 0;
    let jobs = 0;
    zlibJobs.run = (job) =>
      original.call(zlibJobs, (done) => {
        jobs++;
        active++;
        peak = Math.max(peak, active);
        let finished = false;
        job(() => {
          if (!finished) {
            finished = true;
            active--;
          }
          done();
        });
      });
    try {
      const h = await startServer({ perMessageDeflate: true }, { echo: false });
      const clients = await Promise.all(
        Array.from({ length: 40 }, () => h.client('/', { perMessageDeflate: true })),
      );
      const text = compressibleText(300_000, 8);
      // Context takeover: one compression per receiver, 40 at once; then 40 inflations in the clients.
      assert.equal(h.server.broadcast(text), 40);
      for (const c of clients) assert.equal(await c.events.nextText(c.conn, 15_000), text);
      assert.ok(jobs >= 80, `${jobs} zlib jobs ran`);
      assert.ok(
        peak <= DEFLATE_DEFAULTS.concurrency,
        `at most ${DEFLATE_DEFAULTS.concurrency} at once (saw ${peak})`,
      );
      assert.ok(peak >= 2, `jobs did run concurrently (peak ${peak})`);
      assert.equal(active, 0);
    } finally {
      delete (zlibJobs as { run?: unknown }).run;
      assert.equal(zlibJobs.run, original);
    }
  });
});
