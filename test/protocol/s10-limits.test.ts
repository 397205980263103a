/**
 * RFC 6455 §10.4 Implementation-specific limits (and Autobahn category 9, limits/performance, checked for
 * correctness): large messages whole and in many fragments, the message size limit enforced from frame
 * headers (1009 before the payload arrives), and bounded buffering in the parser.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameParser, Opcode, type ParserSink, type ProtocolError } from '../../src/protocol/index.js';
import {
  assertFailed,
  assertOpen,
  buildFrame,
  c,
  chops,
  eachMode,
  feedModes,
  fragmentedMessage,
  Prng,
  randomSplits,
  SessionHarness,
  whole,
  withMode,
} from '../helpers/protocol-harness.js';

const KiB = 1024;
const MiB = 1024 * 1024;

/** Text of exactly `size` bytes mixing 1-, 2-, 3- and 4-byte characters, so fragment cuts split characters. */
function mixedText(size: number): Buffer {
  const unit = Buffer.from('aé€😀bcdefghij'); // 1+2+3+4+10 = 20 bytes
  const out = Buffer.alloc(size, 0x41);
  for (let at = 0; at + unit.length <= size; at += unit.length) unit.copy(out, at);
  return out;
}

/** Modes for the large cases (time budget): whole, 64 KiB chops, tiny pieces at the edges, random splits. */
function largeModes(length: number): ReturnType<typeof feedModes> {
  return [whole, chops(65536), ...feedModes(length).slice(1, 3)];
}

describe('RFC 6455 §10.4 limits — Autobahn 9.1 / 9.2: large single-frame messages', () => {
  for (const size of [64 * KiB, 1 * MiB, 4 * MiB]) {
    it(`9.1: text of ${size / KiB} KiB in one frame`, () => {
      const text = mixedText(size);
      eachMode(
        c.text(text),
        { maxMessageSize: 4 * MiB },
        (h) => {
          assertOpen(h);
          const [message] = h.messages();
          assert.equal(message.isBinary, false);
          assert.ok(message.data.equals(text));
        },
        size <= 64 * KiB ? feedModes(size) : largeModes(size),
      );
    });

    it(`9.2: binary of ${size / KiB} KiB in one frame`, () => {
      const bin = new Prng(size).bytes(size);
      eachMode(
        c.binary(bin),
        { maxMessageSize: 4 * MiB },
        (h) => {
          assertOpen(h);
          const [message] = h.messages();
          assert.equal(message.isBinary, true);
          assert.ok(message.data.equals(bin));
        },
        size <= 64 * KiB ? feedModes(size) : largeModes(size),
      );
    });
  }

  it('the server sends a 4 MiB message as a header plus the payload itself (no copy)', () => {
    const h = new SessionHarness();
    const payload = new Prng(1).bytes(4 * MiB);
    h.session.send(payload);
    assert.equal(h.writes.length, 1);
    assert.equal(h.writes[0].split, true);
    const [frame] = h.frames();
    assert.equal(frame.lengthEncoding, 64);
    assert.ok(frame.payload.equals(payload));
    // A Uint8Array view at an offset (not a Buffer) is sent from the right bytes.
    const view = new Uint8Array(payload.buffer, payload.byteOffset + 3, 20000);
    h.session.send(view);
    assert.ok(h.frames()[1].payload.equals(payload.subarray(3, 20003)));
  });
});

describe('RFC 6455 §10.4 limits — Autobahn 9.3 / 9.4: a 4 MiB message in many fragments', () => {
  for (const fragment of [64, 256, 4 * KiB, 64 * KiB]) {
    it(`9.3: 4 MiB of text as ${fragment}-byte fragments, maxMessageSize exactly 4 MiB → accepted`, () => {
      const text = mixedText(4 * MiB);
      const input = fragmentedMessage(Opcode.Text, text, fragment);
      const modes =
        fragment === 64 ? [whole, chops(997), randomSplits(3, 4096)] : [whole, randomSplits(5, 64 * KiB)];
      eachMode(
        input,
        { maxMessageSize: 4 * MiB },
        (h) => {
          assertOpen(h);
          const messages = h.messages();
          assert.equal(messages.length, 1);
          assert.equal(messages[0].isBinary, false);
          assert.ok(messages[0].data.equals(text));
        },
        modes,
      );
    });
  }

  it('9.4: 4 MiB of binary as 64-byte fragments → accepted', () => {
    const bin = new Prng(94).bytes(4 * MiB);
    eachMode(
      fragmentedMessage(Opcode.Binary, bin, 64),
      { maxMessageSize: 4 * MiB },
      (h) => {
        assertOpen(h);
        assert.ok(h.messages()[0].data.equals(bin));
      },
      [whole, randomSplits(7, 2048)],
    );
  });

  it('9.5 / 9.6: 1 MiB messages sent in chops of 64 bytes', () => {
    const text = mixedText(MiB);
    const bin = new Prng(95).bytes(MiB);
    const input = Buffer.concat([c.text(text), c.binary(bin)]);
    const h = new SessionHarness().feedWith(input, chops(64));
    assertOpen(h);
    assert.deepEqual(h.messages(), [
      { data: text, isBinary: false },
      { data: bin, isBinary: true },
    ]);
  });

  it('9.7 / 9.8: 1000 small text and binary messages in one stream arrive in order', () => {
    const rng = new Prng(97);
    const expected: { data: Buffer; isBinary: boolean }[] = [];
    const frames: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      const isBinary = i % 2 === 1;
      const data = isBinary ? rng.bytes(rng.int(0, 200)) : mixedText(rng.int(0, 200));
      expected.push({ data, isBinary });
      frames.push(isBinary ? c.binary(data) : c.text(data));
    }
    eachMode(Buffer.concat(frames), { echo: true }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.messages(), expected);
      assert.equal(h.frames().length, 1000);
    });
  });
});

describe('RFC 6455 §10.4 limits — maxMessageSize and 1009', () => {
  it('a message of exactly the limit is accepted; one byte more → 1009', () => {
    for (const limit of [0, 1, 125, 126, 1000, 65536]) {
      eachMode(
        c.binary(Buffer.alloc(limit, 1)),
        { maxMessageSize: limit },
        (h) => {
          assertOpen(h);
          assert.equal(h.messages()[0].data.length, limit);
        },
        [whole, ...feedModes(limit).slice(2, 4)],
      );
      eachMode(
        c.binary(Buffer.alloc(limit + 1, 1)),
        { maxMessageSize: limit },
        (h) => assertFailed(h, 1009),
        [whole, ...feedModes(limit).slice(2, 4)],
      );
    }
  });

  for (const [encoding, length, limit] of [
    [7, 101, 100],
    [16, 1001, 1000],
    [16, 65535, 65534],
    [64, 65536, 65535],
    [64, 5 * MiB, 4 * MiB],
    [64, 2 ** 53 - 1, 16 * MiB],
    [64, 2 ** 62, 16 * MiB],
  ] as const)
    it(`a header announcing ${length} bytes (${encoding}-bit length) over a ${limit}-byte limit → 1009 without the payload`, () => {
      for (const opcode of [Opcode.Text, Opcode.Binary]) {
        const header = buildFrame({ opcode, length: BigInt(length), lengthEncoding: encoding });
        // Only the header is ever sent: the verdict cannot wait for the payload.
        eachMode(header, { maxMessageSize: limit }, (h) => assertFailed(h, 1009));
        // With payload bytes following, the Close is written no later than the piece ending the header.
        const input = Buffer.concat([header, Buffer.alloc(300, 0x41)]);
        for (const mode of feedModes(input.length)) {
          const h = new SessionHarness({ maxMessageSize: limit });
          const ends: number[] = [];
          for (const piece of mode.split(Buffer.from(input))) {
            h.feed(piece);
            ends.push(h.fed);
          }
          withMode(mode.name, () => {
            assertFailed(h, 1009);
            assert.ok(
              h.writes[0].at <= ends.find((end) => end >= header.length)!,
              'Close sent by the header end',
            );
          });
        }
      }
    });

  it('across fragments: the fragment header that takes the total over the limit → 1009, before its payload', () => {
    const first = c.binary(Buffer.alloc(1000, 1), { fin: false });
    const second = c.cont(Buffer.alloc(1000, 2), { fin: false });
    const thirdHeader = buildFrame({ opcode: Opcode.Continuation, length: 1001 });
    const input = Buffer.concat([first, second, thirdHeader]);
    eachMode(input, { maxMessageSize: 3000 }, (h) => {
      assertFailed(h, 1009);
      assert.ok(h.writes[0].at > first.length + second.length, 'not before the third header');
      assert.equal(h.messages().length, 0);
    });
    // Exactly reaching the limit is fine.
    const fits = Buffer.concat([first, second, c.cont(Buffer.alloc(1000, 3))]);
    eachMode(fits, { maxMessageSize: 3000 }, (h) => {
      assertOpen(h);
      assert.equal(h.messages()[0].data.length, 3000);
    });
  });

  it('4 MiB of 64-byte fragments, then a fragment header announcing one more byte → 1009', () => {
    const input = Buffer.concat([
      fragmentedMessage(Opcode.Binary, Buffer.alloc(4 * MiB, 7), 64).subarray(0, -(2 + 4 + 64)), // all but the last
      c.cont(Buffer.alloc(64, 7), { fin: false }),
      buildFrame({ opcode: Opcode.Continuation, length: 1 }),
    ]);
    const h = new SessionHarness({ maxMessageSize: 4 * MiB }).feedWith(input, chops(4096));
    assertFailed(h, 1009);
    assert.ok(h.writes[0].at > input.length - 6, 'not before the last header');
  });

  it('the limit is per message: many messages each under the limit are all accepted', () => {
    const input = Buffer.concat(Array.from({ length: 50 }, (_, i) => c.binary(Buffer.alloc(1000, i))));
    eachMode(input, { maxMessageSize: 1000 }, (h) => {
      assertOpen(h);
      assert.equal(h.messages().length, 50);
    });
  });

  it('control frames between fragments do not count toward the message size', () => {
    const input = Buffer.concat([
      c.text('x'.repeat(50), { fin: false }),
      c.ping('y'.repeat(125)),
      c.pong('z'.repeat(125)),
      c.cont('x'.repeat(50)),
    ]);
    eachMode(input, { maxMessageSize: 100 }, (h) => {
      assertOpen(h);
      assert.equal(h.messages()[0].data.length, 100);
    });
  });

  it('a 64-bit length with the top bit set is 1002 even when it is also over the limit', () => {
    eachMode(buildFrame({ opcode: Opcode.Binary, length: 2n ** 63n }), { maxMessageSize: 10 }, (h) =>
      assertFailed(h, 1002),
    );
  });

  it('a control frame over 125 bytes is 1002, not 1009, whatever the limit', () => {
    eachMode(c.ping(Buffer.alloc(126)), { maxMessageSize: 10 }, (h) => assertFailed(h, 1002));
  });
});

describe('RFC 6455 §10.4 limits — bounded buffering in the parser', () => {
  function collectingSink(): ParserSink & { messages: Buffer[]; errors: ProtocolError[] } {
    const messages: Buffer[] = [];
    const errors: ProtocolError[] = [];
    return {
      messages,
      errors,
      onMessage: (data) => messages.push(Buffer.from(data)),
      onPing: () => {},
      onPong: () => {},
      onCloseFrame: () => {},
      onError: (e) => errors.push(e),
    };
  }

  it('data payload bytes are consumed as they arrive; only header and control bytes are held (≤ 14 + 125)', () => {
    const input = Buffer.concat([
      c.binary(new Prng(1).bytes(100000), { fin: false }),
      c.ping(Buffer.alloc(125)),
      c.cont(new Prng(2).bytes(50000)),
    ]);
    for (const mode of [randomSplits(1), randomSplits(2), chops(7)]) {
      const sink = collectingSink();
      const parser = new FrameParser({ role: 'server', maxMessageSize: MiB }, sink);
      let maxBuffered = 0;
      for (const piece of mode.split(Buffer.from(input))) {
        parser.push(piece);
        maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
      }
      withMode(mode.name, () => {
        assert.ok(maxBuffered <= 14 + 125, `held ${maxBuffered} bytes`);
        assert.equal(parser.bufferedBytes, 0);
        assert.equal(sink.messages.length, 1);
        assert.equal(sink.messages[0].length, 150000);
        assert.deepEqual(sink.errors, []);
      });
    }
  });

  it('stop() drops held bytes and ignores further input', () => {
    const sink = collectingSink();
    const parser = new FrameParser({ role: 'server', maxMessageSize: MiB }, sink);
    const frame = c.text('hello');
    parser.push(Buffer.from(frame.subarray(0, 3)));
    assert.equal(parser.bufferedBytes, 3);
    parser.stop();
    assert.equal(parser.isStopped, true);
    assert.equal(parser.bufferedBytes, 0);
    parser.push(Buffer.from(frame.subarray(3)));
    parser.push(c.text('again'));
    assert.deepEqual(sink.messages, []);
  });

  it('the parser stops after the first error and reports exactly one', () => {
    const sink = collectingSink();
    const parser = new FrameParser({ role: 'server', maxMessageSize: MiB }, sink);
    parser.push(
      Buffer.concat([c.text('ok'), c.cont('stray'), c.cont('stray again'), c.text('not delivered')]),
    );
    assert.equal(sink.errors.length, 1);
    assert.equal(sink.errors[0].closeCode, 1002);
    assert.equal(parser.isStopped, true);
    assert.deepEqual(
      sink.messages.map((m) => m.toString()),
      ['ok'],
    );
  });

  it('RSV1 is accepted on a first frame only when the owner allows it (permessage-deflate), never on continuations', () => {
    const sink = collectingSink();
    const parser = new FrameParser({ role: 'server', maxMessageSize: MiB, allowRsv1: true }, sink);
    parser.push(Buffer.concat([c.binary('compressed?', { rsv1: true, fin: false }), c.cont('x')]));
    assert.equal(sink.messages.length, 1);
    parser.push(Buffer.concat([c.binary('a', { fin: false }), c.cont('b', { rsv1: true })]));
    assert.equal(sink.errors[0]?.closeCode, 1002);
  });
});
