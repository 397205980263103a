/**
 * RFC 6455 §5.5 Control frames: Autobahn category 2 (pings and pongs), the 125-byte limit, and the
 * session's own ping()/pong(). Every input is fed whole, byte by byte and at random split points.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidStateError, Opcode } from '../../src/protocol/index.js';
import {
  assertFailed,
  assertOpen,
  buildFrame,
  c,
  eachMode,
  Prng,
  SessionHarness,
} from '../helpers/protocol-harness.js';

function assertPongs(h: SessionHarness, payloads: Buffer[]): void {
  const frames = h.frames();
  assert.equal(frames.length, payloads.length, 'one pong per ping');
  frames.forEach((f, i) => {
    assert.equal(f.opcode, Opcode.Pong);
    assert.equal(f.fin, true);
    assert.equal(f.masked, false);
    assert.ok(f.payload.equals(payloads[i]), `pong ${i} echoes ping ${i}'s payload`);
  });
}

describe('RFC 6455 §5.5 control frames — Autobahn 2: pings and pongs', () => {
  it('2.1: ping without payload → pong without payload', () => {
    eachMode(c.ping(''), {}, (h) => {
      assertOpen(h);
      assertPongs(h, [Buffer.alloc(0)]);
      assert.deepEqual(h.eventTypes(), ['ping']);
    });
  });

  it('2.2: ping with a small text payload → pong with the same payload', () => {
    eachMode(c.ping('Hello, world!'), {}, (h) => {
      assertOpen(h);
      assertPongs(h, [Buffer.from('Hello, world!')]);
    });
  });

  it('2.3: ping with a small binary payload (non-UTF-8 bytes) → pong with the same bytes', () => {
    const payload = Buffer.from([0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff]);
    eachMode(c.ping(payload), {}, (h) => {
      assertOpen(h);
      assertPongs(h, [payload]);
    });
  });

  it('2.4 / 2.6: ping with a 125-byte payload (whole, byte-wise, chopped) → pong with 125 bytes', () => {
    const payload = Buffer.alloc(125, 0xfe);
    payload[0] = 1;
    payload[124] = 2;
    eachMode(c.ping(payload), {}, (h) => {
      assertOpen(h);
      assertPongs(h, [payload]);
    });
  });

  it('2.5: ping with a 126-byte payload → 1002, no pong', () => {
    eachMode(c.ping(Buffer.alloc(126, 0xfe)), {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.events.filter((e) => e.type === 'ping').length, 0);
    });
  });

  it('2.7: unsolicited pong without payload → nothing sent, pong event', () => {
    eachMode(c.pong(''), {}, (h) => {
      assertOpen(h);
      assert.equal(h.output.length, 0);
      assert.deepEqual(h.eventTypes(), ['pong']);
    });
  });

  it('2.8: unsolicited pong with payload → nothing sent, payload reported', () => {
    eachMode(c.pong('unsolicited pong payload'), {}, (h) => {
      assertOpen(h);
      assert.equal(h.output.length, 0);
      const [event] = h.events;
      assert.ok(event.type === 'pong' && event.payload.toString() === 'unsolicited pong payload');
    });
  });

  it('2.9: unsolicited pong, then ping → only the ping is answered', () => {
    eachMode(Buffer.concat([c.pong('unsolicited pong payload'), c.ping('ping payload')]), {}, (h) => {
      assertOpen(h);
      assertPongs(h, [Buffer.from('ping payload')]);
      assert.deepEqual(h.eventTypes(), ['pong', 'ping']);
    });
  });

  it('2.10 / 2.11: 10 pings in a row (whole and chopped) → 10 pongs in order', () => {
    const payloads = Array.from({ length: 10 }, (_, i) => Buffer.from(`payload-${i}`));
    eachMode(Buffer.concat(payloads.map((p) => c.ping(p))), {}, (h) => {
      assertOpen(h);
      assertPongs(h, payloads);
    });
  });

  it('random payloads of every length 0..125 are echoed exactly', () => {
    const rng = new Prng(25);
    const payloads = Array.from({ length: 126 }, (_, n) => rng.bytes(n));
    eachMode(Buffer.concat(payloads.map((p) => c.ping(p))), {}, (h) => {
      assertOpen(h);
      assertPongs(h, payloads);
    });
  });
});

describe('RFC 6455 §5.5 control frames — limits and structure', () => {
  for (const [name, opcode] of [
    ['ping', Opcode.Ping],
    ['pong', Opcode.Pong],
    ['close', Opcode.Close],
  ] as const) {
    it(`a ${name} announcing 126 bytes (16-bit length) → 1002 from the header alone`, () => {
      const header = buildFrame({ opcode, length: 126 });
      eachMode(header, {}, (h) => assertFailed(h, 1002));
      eachMode(buildFrame({ opcode, payload: Buffer.alloc(126) }), {}, (h) => assertFailed(h, 1002));
    });

    it(`a ${name} announcing 65536 bytes (64-bit length) → 1002`, () => {
      eachMode(buildFrame({ opcode, length: 65536 }), {}, (h) => assertFailed(h, 1002));
    });

    it(`a ${name} without FIN → 1002`, () => {
      eachMode(buildFrame({ opcode, payload: '', fin: false }), {}, (h) => assertFailed(h, 1002));
    });

    it(`a ${name} with RSV1 → 1002`, () => {
      eachMode(buildFrame({ opcode, payload: '', rsv1: true }), {}, (h) => assertFailed(h, 1002));
    });
  }

  it('a ping with a 125-byte payload encoded in a 16-bit length field → 1002 (control payloads use 7 bits)', () => {
    eachMode(buildFrame({ opcode: Opcode.Ping, payload: Buffer.alloc(125), lengthEncoding: 16 }), {}, (h) =>
      assertFailed(h, 1002),
    );
  });

  it('a ping between data frames does not disturb either message', () => {
    const input = Buffer.concat([
      c.text('one'),
      c.ping('p'),
      c.binary(Buffer.from([1, 2])),
      c.ping('q'),
      c.text('two'),
    ]);
    eachMode(input, {}, (h) => {
      assertOpen(h);
      assert.deepEqual(h.eventTypes(), ['message', 'ping', 'message', 'ping', 'message']);
      assertPongs(h, [Buffer.from('p'), Buffer.from('q')]);
    });
  });
});

describe('RFC 6455 §5.5 control frames — sending', () => {
  it('ping() and pong() send unmasked control frames with the payload (string or bytes)', () => {
    const h = new SessionHarness();
    assert.equal(h.session.ping(), true);
    h.session.ping('é'.repeat(62) + 'x'); // 125 bytes
    h.session.pong(Buffer.from([1, 2, 3]));
    const frames = h.frames();
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.payload.length, f.fin, f.masked]),
      [
        [Opcode.Ping, 0, true, false],
        [Opcode.Ping, 125, true, false],
        [Opcode.Pong, 3, true, false],
      ],
    );
  });

  it('ping()/pong() with more than 125 bytes throw InvalidStateError and write nothing', () => {
    const h = new SessionHarness();
    assert.throws(() => h.session.ping(Buffer.alloc(126)), InvalidStateError);
    assert.throws(() => h.session.pong('é'.repeat(63)), InvalidStateError); // 126 bytes
    assert.equal(h.writes.length, 0);
    assert.equal(h.session.state, 'open');
  });

  it("the transport's backpressure signal is returned by send(), ping() and pong()", () => {
    const h = new SessionHarness({ writeResult: false });
    assert.equal(h.session.ping('x'), false);
    assert.equal(h.session.pong('x'), false);
    assert.equal(h.session.send('x'), false);
    assert.equal(h.session.send(Buffer.alloc(20000)), false);
    const ok = new SessionHarness();
    assert.equal(ok.session.send(Buffer.alloc(20000)), true);
  });
});
