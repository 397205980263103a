/**
 * RFC 6455 §5.2 Base framing protocol: Autobahn categories 1 (framing: text/binary at the length-encoding
 * edges), 3 (reserved bits) and 4 (reserved opcodes), plus the length field itself. Every input is fed whole,
 * byte by byte and at random split points.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, headerSize, Opcode, writeHeader } from '../../src/protocol/index.js';
import {
  assertFailed,
  assertOpen,
  buildFrame,
  c,
  chops,
  clientFrame,
  decodeFrames,
  eachMode,
  feedModes,
  Prng,
  SessionHarness,
  whole,
  withMode,
} from '../helpers/protocol-harness.js';

const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

function textOf(length: number): string {
  // ASCII with a rotating alphabet, so an off-by-one anywhere changes the bytes.
  let out = '';
  for (let i = 0; i < length; i++) out += String.fromCharCode(0x20 + (i % 95));
  return out;
}

describe('RFC 6455 §5.2 framing — Autobahn 1.1 (text) and 1.2 (binary)', () => {
  for (const length of LENGTHS) {
    it(`1.1: text message of ${length} bytes is delivered intact and echoed with the minimal length field`, () => {
      const payload = textOf(length);
      eachMode(c.text(payload), { echo: true }, (h) => {
        assertOpen(h);
        const messages = h.messages();
        assert.equal(messages.length, 1);
        assert.equal(messages[0].isBinary, false);
        assert.equal(messages[0].data.toString('utf8'), payload);
        const frames = h.frames();
        assert.equal(frames.length, 1);
        assert.equal(frames[0].opcode, Opcode.Text);
        assert.equal(frames[0].masked, false, 'server frames are never masked');
        assert.ok(frames[0].fin && !frames[0].rsv1 && !frames[0].rsv2 && !frames[0].rsv3);
        assert.equal(frames[0].lengthEncoding, length < 126 ? 7 : length < 65536 ? 16 : 64);
        assert.equal(frames[0].payload.toString('utf8'), payload);
      });
    });

    it(`1.2: binary message of ${length} bytes is delivered intact and echoed`, () => {
      const payload = new Prng(length + 1).bytes(length);
      eachMode(c.binary(payload), { echo: true }, (h) => {
        assertOpen(h);
        const messages = h.messages();
        assert.equal(messages.length, 1);
        assert.equal(messages[0].isBinary, true);
        assert.ok(messages[0].data.equals(payload));
        const frames = h.frames();
        assert.equal(frames.length, 1);
        assert.equal(frames[0].opcode, Opcode.Binary);
        assert.equal(frames[0].lengthEncoding, length < 126 ? 7 : length < 65536 ? 16 : 64);
        assert.ok(frames[0].payload.equals(payload));
      });
    });
  }

  it('1.1.8 / 1.2.8: a 65536-byte message sent in chops of 997 bytes', () => {
    const text = textOf(65536);
    const bin = new Prng(8).bytes(65536);
    for (const [input, isBinary] of [
      [c.text(text), false],
      [c.binary(bin), true],
    ] as const) {
      const h = new SessionHarness().feedWith(input, chops(997));
      assertOpen(h);
      const [message] = h.messages();
      assert.equal(message.isBinary, isBinary);
      assert.ok(message.data.equals(isBinary ? bin : Buffer.from(text)));
    }
  });

  it('many frames of every size in one stream come out in order, whatever the split', () => {
    const rng = new Prng(77);
    const expected: { data: Buffer; isBinary: boolean }[] = [];
    const frames: Buffer[] = [];
    for (let i = 0; i < 60; i++) {
      const length = rng.pick([0, 1, 2, 3, 4, 5, 124, 125, 126, 127, 300, 1000, 65535, 65536, 70001]);
      const isBinary = rng.next() < 0.5;
      const data = isBinary ? rng.bytes(length) : Buffer.from(textOf(length));
      expected.push({ data, isBinary });
      frames.push(isBinary ? c.binary(data) : c.text(data));
    }
    eachMode(Buffer.concat(frames), {}, (h) => {
      assertOpen(h);
      assert.deepEqual(h.messages(), expected);
      assert.equal(h.frames().length, 0, 'nothing written');
    });
  });

  it('the server encodes its own frames with the minimal length field (§5.2 "minimal number of bytes")', () => {
    for (const length of LENGTHS) {
      assert.equal(headerSize(length, false), length < 126 ? 2 : length < 65536 ? 4 : 10);
      assert.equal(headerSize(length, true), headerSize(length, false) + 4);
      const frame = encodeFrame(Opcode.Binary, Buffer.alloc(length, 7));
      const [decoded] = decodeFrames(frame);
      assert.equal(decoded.lengthEncoding, length < 126 ? 7 : length < 65536 ? 16 : 64);
      assert.equal(decoded.payload.length, length);
      assert.equal(decoded.fin, true);
    }
  });

  it('writeHeader encodes FIN, RSV1, the mask bit and lengths up to 2^53 - 1', () => {
    const target = Buffer.alloc(20, 0xee);
    assert.equal(writeHeader(target, 3, Opcode.Text, 5, false, true, true), 5);
    assert.deepEqual([...target.subarray(3, 5)], [0x41, 0x85]);
    assert.equal(target[2], 0xee, 'bytes before the offset untouched');
    const big = 2 ** 53 - 1;
    assert.equal(writeHeader(target, 0, Opcode.Binary, big), 10);
    assert.equal(target.readBigUInt64BE(2), BigInt(big));
    assert.equal(target[1], 127);
  });
});

describe('RFC 6455 §5.2 framing — the payload length field', () => {
  it('a 64-bit length with the most significant bit set fails with 1002, before any payload', () => {
    for (const opcode of [Opcode.Text, Opcode.Binary]) {
      const header = buildFrame({ opcode, length: 2n ** 63n + 5n });
      eachMode(header, { maxMessageSize: Number.MAX_SAFE_INTEGER }, (h) => assertFailed(h, 1002));
      const all = buildFrame({ opcode, length: 2n ** 64n - 1n });
      eachMode(all, {}, (h) => assertFailed(h, 1002));
    }
  });

  it('a 64-bit length just below 2^63 is a size question (1009), not a framing error', () => {
    eachMode(buildFrame({ opcode: Opcode.Binary, length: 2n ** 63n - 1n }), {}, (h) => assertFailed(h, 1009));
  });

  it('16- and 64-bit encodings are read big-endian (lengths 256, 258, 65537, 16777217)', () => {
    for (const length of [256, 258, 0x10001, 0x1000001]) {
      const payload = Buffer.alloc(length, 0x61);
      payload[length - 1] = 0x62;
      const h = new SessionHarness({ maxMessageSize: 32 * 1024 * 1024 }).feedWith(
        c.binary(payload),
        chops(65536),
      );
      assertOpen(h);
      assert.equal(h.messages()[0].data.length, length);
      assert.equal(h.messages()[0].data[length - 1], 0x62);
    }
  });

  it('nothing is delivered until the last payload byte arrives', () => {
    const input = c.text('hello world');
    const h = new SessionHarness();
    for (let i = 0; i < input.length; i++) {
      assert.equal(h.events.length, 0, `no event after ${i} bytes`);
      h.feed(Buffer.from(input.subarray(i, i + 1)));
    }
    assert.deepEqual(h.eventTypes(), ['message']);
    assert.equal(h.events[0].at, input.length);
  });
});

const RSV_COMBINATIONS = [1, 2, 3, 4, 5, 6, 7].map((bits) => ({
  bits,
  rsv1: (bits & 4) !== 0,
  rsv2: (bits & 2) !== 0,
  rsv3: (bits & 1) !== 0,
}));

describe('RFC 6455 §5.2 framing — Autobahn 3: reserved bits (no extension negotiated)', () => {
  it('3.1: text with RSV1 → 1002', () => {
    eachMode(c.text('Hello, world!', { rsv1: true }), {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.messages().length, 0);
    });
  });

  it('3.2: valid text, then text with RSV2, then ping → message, 1002, no pong', () => {
    const input = Buffer.concat([
      c.text('Hello, world!'),
      c.text('Hello, world!', { rsv2: true }),
      c.ping('x'),
    ]);
    eachMode(input, { echo: true }, (h) => {
      assertFailed(h, 1002, [Opcode.Text]);
      assert.deepEqual(h.eventTypes(), ['message', 'error']);
    });
  });

  it('3.3 / 3.4: valid text, text with RSV1+RSV2, ping (whole, chopped, byte-wise) → 1002, nothing after', () => {
    const input = Buffer.concat([
      c.text('Hello, world!'),
      c.text('Hello, world!', { rsv1: true, rsv2: true }),
      c.ping(''),
    ]);
    eachMode(input, { echo: true }, (h) => {
      assertFailed(h, 1002, [Opcode.Text]);
      assert.deepEqual(h.eventTypes(), ['message', 'error']);
    });
  });

  it('3.5: binary with RSV1+RSV3 → 1002', () => {
    eachMode(c.binary(Buffer.from([0, 0xff, 0xfe]), { rsv1: true, rsv3: true }), {}, (h) =>
      assertFailed(h, 1002),
    );
  });

  it('3.6: ping with RSV2+RSV3 → 1002 and no pong', () => {
    eachMode(c.ping('Hello, world!', { rsv2: true, rsv3: true }), {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.events.filter((e) => e.type === 'ping').length, 0);
    });
  });

  it('3.7: close with all RSV bits → 1002, not a clean close', () => {
    eachMode(c.close(1000, '', { rsv1: true, rsv2: true, rsv3: true }), {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.events.filter((e) => e.type === 'close').length, 0);
    });
  });

  const kinds: [string, (bits: { rsv1: boolean; rsv2: boolean; rsv3: boolean }) => Buffer][] = [
    ['text', (rsv) => c.text('abc', rsv)],
    ['binary', (rsv) => c.binary('abc', rsv)],
    ['ping', (rsv) => c.ping('abc', rsv)],
    ['pong', (rsv) => c.pong('abc', rsv)],
    ['close', (rsv) => c.close(1000, 'abc', rsv)],
    ['continuation', (rsv) => Buffer.concat([c.text('a', { fin: false }), c.cont('bc', rsv)])],
  ];
  for (const [kind, make] of kinds)
    it(`every RSV combination on a ${kind} frame → 1002; a following ping is not answered`, () => {
      for (const rsv of RSV_COMBINATIONS) {
        const input = Buffer.concat([make(rsv), c.ping('after')]);
        eachMode(input, {}, (h) => {
          withMode(`rsv=${rsv.bits}`, () => {
            assertFailed(h, 1002);
            assert.equal(h.messages().length, 0);
          });
        });
      }
    });

  it('the reserved-bit error needs no payload: a header announcing 1000 bytes is enough', () => {
    for (const rsv of RSV_COMBINATIONS) {
      const header = buildFrame({ opcode: Opcode.Text, length: 1000, ...rsv });
      for (const mode of feedModes(header.length)) {
        const h = new SessionHarness().feedWith(header, mode);
        withMode(`${mode.name}, rsv=${rsv.bits}`, () => assertFailed(h, 1002));
      }
    }
  });
});

describe('RFC 6455 §5.2 framing — Autobahn 4: reserved opcodes', () => {
  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    const kind = opcode < 8 ? 'non-control' : 'control';
    it(`opcode ${opcode} (reserved ${kind}) → 1002, with or without payload, FIN or not`, () => {
      for (const payload of ['', 'reserved opcode payload']) {
        for (const fin of [true, false]) {
          eachMode(clientFrame(opcode, payload, { fin }), {}, (h) => assertFailed(h, 1002));
        }
      }
    });

    it(`opcode ${opcode}: valid text, then the reserved frame, then ping → message, 1002, no pong`, () => {
      const input = Buffer.concat([
        c.text('Hello, world!'),
        clientFrame(opcode, 'x'),
        c.ping('Hello, world!'),
      ]);
      eachMode(input, { echo: true }, (h) => {
        assertFailed(h, 1002, [Opcode.Text]);
        assert.deepEqual(h.eventTypes(), ['message', 'error']);
      });
    });
  }

  it('a reserved opcode inside a fragmented message → 1002 (4.x mid-message)', () => {
    const input = Buffer.concat([c.text('frag', { fin: false }), clientFrame(3, 'x'), c.cont('ment')]);
    eachMode(input, {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.messages().length, 0);
    });
  });

  it('the opcode error is reported from the header alone (payload never sent)', () => {
    const header = buildFrame({ opcode: 5, length: 300 });
    eachMode(header, {}, (h) => assertFailed(h, 1002), [whole, ...feedModes(header.length)]);
  });
});
