/**
 * RFC 6455 §5.4 Fragmentation: Autobahn category 5. Every input is fed whole, byte by byte and at random
 * split points (which also covers Autobahn's "chopped" and "frame-wise" variants of each case).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Opcode } from '../../src/protocol/index.js';
import {
  assertFailed,
  assertOpen,
  buildFrame,
  c,
  clientFrame,
  eachMode,
  fragmentedMessage,
  Prng,
  SessionHarness,
} from '../helpers/protocol-harness.js';

describe('RFC 6455 §5.4 fragmentation — Autobahn 5', () => {
  it('5.1: a ping fragmented into 2 frames → 1002 at the first frame, no pong', () => {
    const input = Buffer.concat([c.ping('fragment1', { fin: false }), c.cont('fragment2')]);
    eachMode(input, {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.events.filter((e) => e.type === 'ping').length, 0);
    });
  });

  it('5.2: a pong fragmented into 2 frames → 1002', () => {
    const input = Buffer.concat([c.pong('fragment1', { fin: false }), c.cont('fragment2')]);
    eachMode(input, {}, (h) => assertFailed(h, 1002));
  });

  it('a fragmented close → 1002 (not a clean close)', () => {
    eachMode(buildFrame({ opcode: Opcode.Close, payload: Buffer.from([3, 0xe8]), fin: false }), {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.events.filter((e) => e.type === 'close').length, 0);
    });
  });

  it('5.3 / 5.4 / 5.5: a text message in 2 fragments (whole, chopped, frame-wise)', () => {
    const input = Buffer.concat([c.text('fragment1', { fin: false }), c.cont('fragment2')]);
    eachMode(input, { echo: true }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.messages(), [{ data: Buffer.from('fragment1fragment2'), isBinary: false }]);
      const frames = h.frames();
      assert.equal(frames.length, 1, 'echoed as one frame');
      assert.equal(frames[0].payload.toString(), 'fragment1fragment2');
    });
  });

  it('5.6 / 5.7 / 5.8: a ping between two text fragments is answered first, then the message completes', () => {
    const input = Buffer.concat([
      c.text('fragment1', { fin: false }),
      c.ping('pongme!'),
      c.cont('fragment2'),
    ]);
    eachMode(input, { echo: true }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.eventTypes(), ['ping', 'message']);
      const frames = h.frames();
      assert.deepEqual(
        frames.map((f) => [f.opcode, f.payload.toString()]),
        [
          [Opcode.Pong, 'pongme!'],
          [Opcode.Text, 'fragment1fragment2'],
        ],
      );
    });
  });

  it('5.9 / 5.10 / 5.11: a continuation with FIN and nothing to continue → 1002, later text ignored', () => {
    const input = Buffer.concat([c.cont('non-continuation payload'), c.text('Hello, world!')]);
    eachMode(input, { echo: true }, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.messages().length, 0);
    });
  });

  it('5.12 / 5.13 / 5.14: a continuation without FIN and nothing to continue → 1002', () => {
    const input = Buffer.concat([
      c.cont('non-continuation payload', { fin: false }),
      c.text('Hello, world!'),
    ]);
    eachMode(input, { echo: true }, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.messages().length, 0);
    });
  });

  it('5.15: a complete 2-fragment message, then a stray continuation → message delivered, then 1002', () => {
    const input = Buffer.concat([
      c.text('fragment1', { fin: false }),
      c.cont('fragment2'),
      c.cont('fragment3', { fin: false }),
      c.text('fragment4'),
    ]);
    eachMode(input, { echo: true }, (h) => {
      assertFailed(h, 1002, [Opcode.Text]);
      assert.deepEqual(
        h.messages().map((m) => m.data.toString()),
        ['fragment1fragment2'],
      );
    });
  });

  it('5.16 / 5.17: a stray continuation (FIN or not) before a fragmented text → 1002, nothing delivered', () => {
    for (const fin of [false, true]) {
      const round = Buffer.concat([
        c.cont('fragment1', { fin }),
        c.text('fragment2', { fin: false }),
        c.cont('fragment3'),
      ]);
      eachMode(Buffer.concat([round, round]), { echo: true }, (h) => {
        assertFailed(h, 1002);
        assert.equal(h.messages().length, 0);
      });
    }
  });

  it('5.18: a new text frame where a continuation is expected → 1002', () => {
    const input = Buffer.concat([c.text('fragment1', { fin: false }), c.text('fragment2')]);
    eachMode(input, { echo: true }, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.messages().length, 0);
    });
  });

  it('a new binary (or text) message inside a fragmented binary (or text) one → 1002, either way round', () => {
    for (const [first, second] of [
      [Opcode.Text, Opcode.Binary],
      [Opcode.Binary, Opcode.Text],
      [Opcode.Binary, Opcode.Binary],
    ]) {
      const input = Buffer.concat([
        clientFrame(first, 'start', { fin: false }),
        clientFrame(second, 'intruder', { fin: true }),
        c.cont('end'),
      ]);
      eachMode(input, {}, (h) => {
        assertFailed(h, 1002);
        assert.equal(h.messages().length, 0);
      });
    }
  });

  it('5.19 / 5.20: text in 5 fragments with pings after the 2nd and 4th → pongs in order, then the message', () => {
    const input = Buffer.concat([
      c.text('fragment1', { fin: false }),
      c.cont('fragment2', { fin: false }),
      c.ping('pongme 1!'),
      c.cont('fragment3', { fin: false }),
      c.cont('fragment4', { fin: false }),
      c.ping('pongme 2!'),
      c.cont('fragment5'),
    ]);
    eachMode(input, { echo: true }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.eventTypes(), ['ping', 'ping', 'message']);
      assert.deepEqual(
        h.frames().map((f) => [f.opcode, f.payload.toString()]),
        [
          [Opcode.Pong, 'pongme 1!'],
          [Opcode.Pong, 'pongme 2!'],
          [Opcode.Text, 'fragment1fragment2fragment3fragment4fragment5'],
        ],
      );
    });
  });

  it('pings between every fragment of a message are all answered in order', () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 20; i++) {
      parts.push(
        i === 0 ? c.binary(Buffer.from([i]), { fin: false }) : c.cont(Buffer.from([i]), { fin: i === 19 }),
      );
      if (i < 19) parts.push(c.ping(`p${i}`), c.pong(`unsolicited ${i}`));
    }
    eachMode(Buffer.concat(parts), {}, (h) => {
      assertOpen(h);
      const pongs = h.frames().map((f) => f.payload.toString());
      assert.deepEqual(
        pongs,
        Array.from({ length: 19 }, (_, i) => `p${i}`),
      );
      assert.deepEqual(h.messages(), [
        { data: Buffer.from(Array.from({ length: 20 }, (_, i) => i)), isBinary: true },
      ]);
    });
  });

  it('6.2.4-style: a UTF-8 text message in 1-byte fragments (splitting every code point)', () => {
    const text = 'Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 🎉';
    const input = fragmentedMessage(Opcode.Text, text, 1);
    eachMode(input, { echo: true }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.messages(), [{ data: Buffer.from(text), isBinary: false }]);
      assert.equal(h.frames()[0].payload.toString(), text);
    });
  });

  it('fragment sizes 1..9 and odd sizes reassemble binary and text exactly', () => {
    const rng = new Prng(54);
    const bin = rng.bytes(777);
    const text = 'ab€😀'.repeat(50);
    for (const size of [1, 2, 3, 4, 5, 7, 9, 63, 64, 65, 125, 126, 200]) {
      const input = Buffer.concat([
        fragmentedMessage(Opcode.Binary, bin, size),
        fragmentedMessage(Opcode.Text, text, size),
      ]);
      eachMode(input, {}, (h) => {
        assertOpen(h);
        assert.deepEqual(h.messages(), [
          { data: bin, isBinary: true },
          { data: Buffer.from(text), isBinary: false },
        ]);
      });
    }
  });

  it('6.1.2 / 6.1.3: empty fragments (all empty, and empty–non-empty–empty)', () => {
    const allEmpty = Buffer.concat([c.text('', { fin: false }), c.cont('', { fin: false }), c.cont('')]);
    eachMode(allEmpty, { echo: true }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.messages(), [{ data: Buffer.alloc(0), isBinary: false }]);
    });
    const mixed = Buffer.concat([
      c.text('', { fin: false }),
      c.cont('middle frame payload', { fin: false }),
      c.cont(''),
    ]);
    eachMode(mixed, { echo: true }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.messages(), [{ data: Buffer.from('middle frame payload'), isBinary: false }]);
    });
  });

  it('a Close in the middle of a fragmented message ends the connection; the partial message is dropped', () => {
    const input = Buffer.concat([c.text('fragment1', { fin: false }), c.close(1000), c.cont('fragment2')]);
    eachMode(input, {}, (h) => {
      assert.deepEqual(h.eventTypes(), ['close']);
      assert.deepEqual(
        h.frames().map((f) => f.opcode),
        [Opcode.Close],
      );
    });
  });

  it('after a fragmented message completes, a new message may start (state is reset)', () => {
    const input = Buffer.concat([
      fragmentedMessage(Opcode.Text, 'first message', 4),
      fragmentedMessage(Opcode.Binary, Buffer.from('second'), 2),
      c.text('third'),
    ]);
    eachMode(input, {}, (h) => {
      assertOpen(h);
      assert.deepEqual(
        h.messages().map((m) => [m.data.toString(), m.isBinary]),
        [
          ['first message', false],
          ['second', true],
          ['third', false],
        ],
      );
    });
  });

  it('the session can send a fragmented message with control frames interleaved', () => {
    const h = new SessionHarness();
    h.session.sendFragment(Opcode.Text, 'Hel', false);
    h.session.ping('between');
    h.session.sendFragment(Opcode.Continuation, 'lo', true);
    assert.deepEqual(
      h.frames().map((f) => [f.opcode, f.fin, f.payload.toString(), f.masked]),
      [
        [Opcode.Text, false, 'Hel', false],
        [Opcode.Ping, true, 'between', false],
        [Opcode.Continuation, true, 'lo', false],
      ],
    );
  });
});
