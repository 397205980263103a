/**
 * Pipe mode, standard framing (lines), against the real CLI with real FIFOs: sh/printf/cat writers,
 * `cat` as the application's reader, `ws` clients. Also `--framing=chunks`, the line-length limit and
 * `--protocol`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  catReader,
  catWriter,
  connect,
  pieceWriter,
  sh,
  shq,
  sleep,
  startBridge,
  until,
  type Bridge,
  type Client,
  type Proc,
} from '../helpers/pipe-harness.js';

/** Everything one test started, cleaned up in `after` whatever happened. */
function scope(): {
  bridge(args?: string[]): Promise<Bridge>;
  client(bridge: Bridge, path?: string, protocols?: string | string[]): Promise<Client>;
  reader(path: string): Proc;
  cleanup(): Promise<void>;
} {
  const bridges: Bridge[] = [];
  const clients: Client[] = [];
  const procs: Proc[] = [];
  return {
    bridge: async (args = []) => {
      const b = await startBridge(args);
      bridges.push(b);
      return b;
    },
    client: async (bridge, path = '/', protocols) => {
      const c = await connect(bridge.url(path), protocols);
      clients.push(c);
      return c;
    },
    reader: (path) => {
      const r = catReader(path);
      procs.push(r);
      return r;
    },
    cleanup: async () => {
      for (const c of clients) c.ws.terminate();
      for (const p of procs) await p.kill();
      for (const b of bridges) await b.cleanup();
    },
  };
}

describe('pipe mode, standard (lines)', () => {
  const s = scope();
  after(() => s.cleanup());

  it('each line written to the input FIFO is one text message to every client (newline and CR removed)', async () => {
    const bridge = await s.bridge();
    const a = await s.client(bridge);
    const b = await s.client(bridge);
    await sh(`printf 'one\\ntwo\\r\\n\\nthree — ü\\n' > ${shq(bridge.pipeIn)}`);
    for (const c of [a, b]) {
      await c.waitCount(4);
      assert.deepEqual(c.texts(), ['one', 'two', '', 'three — ü']);
      assert.ok(
        c.messages.every((m) => !m.binary),
        'standard mode sends text messages',
      );
    }
  });

  it('client messages come out of the output FIFO, one per line, read by cat', async () => {
    const bridge = await s.bridge();
    const reader = s.reader(bridge.pipeOut);
    const a = await s.client(bridge);
    const b = await s.client(bridge);
    a.ws.send('hello from a');
    await reader.waitStdout((out) => out.includes('hello from a\n'), 5_000, 'first message');
    b.ws.send('hello from b');
    await reader.waitStdout((out) => out.includes('hello from b\n'), 5_000, 'second message');
    a.ws.send(Buffer.from('binary too'), { binary: true });
    await reader.waitStdout((out) => out.toString().split('\n').length >= 4, 5_000, 'three lines');
    assert.equal(reader.stdout().toString(), 'hello from a\nhello from b\nbinary too\n');
  });

  it('successive writers (printf > fifo in a shell loop, open-write-close each) are all delivered in order', async () => {
    const bridge = await s.bridge(['--backlog=0']);
    const c = await s.client(bridge);
    const n = 300;
    await sh(`i=1; while [ $i -le ${n} ]; do printf 'm%d\\n' $i > ${shq(bridge.pipeIn)}; i=$((i+1)); done`);
    await c.waitCount(n, 10_000).catch((error: Error) => {
      throw new Error(`${error.message}\nstderr:\n${bridge.stderr()}`);
    });
    assert.deepEqual(
      c.texts(),
      Array.from({ length: n }, (_, i) => `m${i + 1}`),
    );
  });

  it('successive writer processes started one after another (sh -c printf) each get through', async () => {
    const bridge = await s.bridge();
    const c = await s.client(bridge);
    for (let i = 1; i <= 5; i++) await sh(`printf 'writer %d\\n' ${i} > ${shq(bridge.pipeIn)}`);
    await c.waitCount(5);
    assert.deepEqual(c.texts(), ['writer 1', 'writer 2', 'writer 3', 'writer 4', 'writer 5']);
  });

  it('a writer that closes without a trailing newline still gets its last line delivered', async () => {
    const bridge = await s.bridge();
    const c = await s.client(bridge);
    await sh(`printf 'first\\nMessage to broadcast' > ${shq(bridge.pipeIn)}`);
    await c.waitCount(2);
    await sh(`printf 'next writer' > ${shq(bridge.pipeIn)}`);
    await c.waitCount(3);
    assert.deepEqual(c.texts(), ['first', 'Message to broadcast', 'next writer']);
  });

  it('invalid UTF-8 in a line is sent as text with U+FFFD in place of the bad bytes (gwsocket dropped the chunk)', async () => {
    const bridge = await s.bridge();
    const c = await s.client(bridge);
    await sh(`printf 'bad \\377\\376 bytes\\nfine\\n' > ${shq(bridge.pipeIn)}`);
    await c.waitCount(2);
    assert.deepEqual(c.texts(), ['bad \ufffd\ufffd bytes', 'fine']);
    assert.ok(!c.messages[0].binary);
  });

  it('a line split across several writes of one writer is one message', async () => {
    const bridge = await s.bridge();
    const c = await s.client(bridge);
    await pieceWriter(
      bridge.pipeIn,
      ['par', 't one, ', 'part two\nsecond', ' line\n'].map((p) => Buffer.from(p)),
      30,
    );
    await c.waitCount(2);
    assert.deepEqual(c.texts(), ['part one, part two', 'second line']);
  });

  it('a late reader of the output FIFO gets what was queued (up to --pipe-buffer; the rest dropped and logged), then the live stream', async () => {
    // each message is 8 bytes on the pipe ("early-N\n"): 8 fit in 64 bytes, the next 4 do not
    const bridge = await s.bridge(['--pipe-buffer=64']);
    const c = await s.client(bridge);
    for (let i = 1; i <= 12; i++) c.ws.send(`early-${i.toString(16)}`);
    // Repeated drop lines are rate-limited (one a second, with a count): wait for the first, then let
    // the rest arrive; the exact count is checked in the exit statistics below.
    await until(
      () => /record dropped: no reader on the output pipe/.test(bridge.stderr()),
      5_000,
      'a drop logged',
      () => bridge.stderr(),
    );
    await sleep(300);
    const reader = s.reader(bridge.pipeOut);
    const queued = Array.from({ length: 8 }, (_, i) => `early-${(i + 1).toString(16)}\n`).join('');
    await reader.waitStdout((out) => out.length >= queued.length, 5_000, 'queued messages');
    c.ws.send('live');
    await reader.waitStdout((out) => out.includes('live\n'), 5_000, 'live message');
    assert.equal(reader.stdout().toString(), `${queued}live\n`);
    assert.match(bridge.stderr(), /output pipe: reader attached/);
    await bridge.stop('SIGINT', 5_000);
    assert.match(bridge.stderr(), /pipe statistics: .*"droppedNoReader":4[,}]/);
  });

  it('a reader that goes away and a new one: the new one gets what clients send from then on; any loss is logged', async () => {
    const bridge = await s.bridge();
    const c = await s.client(bridge);
    const first = s.reader(bridge.pipeOut);
    c.ws.send('to first');
    await first.waitStdout((out) => out.includes('to first\n'), 5_000, 'first reader');
    await first.kill();
    c.ws.send('while nobody reads');
    await sleep(300);
    const second = s.reader(bridge.pipeOut);
    await sleep(100);
    c.ws.send('to second');
    await second.waitStdout((out) => out.includes('to second\n'), 5_000, 'second reader');
    const got = second.stdout().toString();
    if (!got.includes('while nobody reads'))
      assert.match(bridge.stderr(), /output pipe reader went away/, 'the lost message is reported');
    assert.ok(got.endsWith('to second\n'), got);
  });
});

describe('pipe mode, line length limit (--max-frame-size)', () => {
  const s = scope();
  after(() => s.cleanup());

  it('a line over the limit is discarded with a log line naming the limit; the next line still arrives', async () => {
    const bridge = await s.bridge(['--max-frame-size=100']);
    const c = await s.client(bridge);
    const long = 'x'.repeat(500);
    await sh(`printf 'short one\\n${long}\\nshort two\\n' > ${shq(bridge.pipeIn)}`);
    await c.waitCount(2);
    const line = await bridge.waitLog(/error input line of \d+\+? bytes is over the limit of 100: discarded/);
    assert.ok(line);
    // an over-long line written in pieces (it is cut off before its newline arrives), then a normal one
    await pieceWriter(
      bridge.pipeIn,
      [
        Buffer.from('y'.repeat(80)),
        Buffer.from('y'.repeat(80)),
        Buffer.from('y'.repeat(80) + '\nshort three\n'),
      ],
      30,
    );
    await c.waitCount(3);
    // and exactly the limit is fine
    await sh(`printf '${'z'.repeat(100)}\\n' > ${shq(bridge.pipeIn)}`);
    await c.waitCount(4);
    assert.deepEqual(c.texts(), ['short one', 'short two', 'short three', 'z'.repeat(100)]);
    assert.equal((bridge.stderr().match(/over the limit of 100: discarded/g) ?? []).length, 2);
  });
});

describe('pipe mode, --framing=chunks (gwsocket read-sized messages)', () => {
  const s = scope();
  after(() => s.cleanup());

  it('one 10,001-byte write arrives as 4095 + 4095 + 1811 byte messages', async () => {
    const bridge = await s.bridge(['--framing=chunks']);
    const c = await s.client(bridge);
    const data = Buffer.alloc(10_001);
    for (let i = 0; i < data.length; i++) data[i] = 0x41 + (i % 26);
    await pieceWriter(bridge.pipeIn, [data], 0);
    await c.waitCount(3);
    await sleep(100);
    assert.deepEqual(
      c.messages.map((m) => m.data.length),
      [4095, 4095, 1811],
    );
    assert.deepEqual(Buffer.concat(c.messages.map((m) => m.data)), data);
    assert.ok(c.messages.every((m) => !m.binary));
  });

  it('newlines are not delimiters: a separate write is a separate message, newline included', async () => {
    const bridge = await s.bridge(['--framing=chunks']);
    const c = await s.client(bridge);
    const w = catWriter(bridge.pipeIn);
    await w.write('a\nb\n');
    await c.waitCount(1);
    await sleep(50);
    await w.write('c');
    await c.waitCount(2);
    await w.end();
    assert.deepEqual(c.texts(), ['a\nb\n', 'c']);
  });

  it('client messages are written to the output without any delimiter', async () => {
    const bridge = await s.bridge(['--framing=chunks']);
    const reader = s.reader(bridge.pipeOut);
    const a = await s.client(bridge);
    a.ws.send('abc');
    await reader.waitStdout((out) => out.length >= 3, 5_000, 'first');
    a.ws.send('def');
    a.ws.send(Buffer.from([0x00, 0xff]), { binary: true });
    await reader.waitStdout((out) => out.length >= 8, 5_000, 'all');
    await sleep(100);
    assert.deepEqual(reader.stdout(), Buffer.concat([Buffer.from('abcdef'), Buffer.from([0x00, 0xff])]));
  });
});

describe('pipe mode, --protocol', () => {
  const s = scope();
  after(() => s.cleanup());

  it('--protocol=chat,superchat: a client offering "superchat, chat" gets chat (server preference); none offered: none answered', async () => {
    const bridge = await s.bridge(['--protocol=chat,superchat']);
    const c = await s.client(bridge, '/', ['superchat', 'chat']);
    assert.equal(c.ws.protocol, 'chat');
    const only = await s.client(bridge, '/', ['superchat']);
    assert.equal(only.ws.protocol, 'superchat');
    const none = await s.client(bridge);
    assert.equal(none.ws.protocol, '');
    // and the pipe still works for a client that negotiated a subprotocol
    await sh(`printf 'to all\\n' > ${shq(bridge.pipeIn)}`);
    for (const x of [c, only, none]) await x.waitFor((m) => m.data.toString() === 'to all');
  });
});
