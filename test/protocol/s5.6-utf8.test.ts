/**
 * RFC 6455 §5.6 Data frames / §8.1 UTF-8 handling: Autobahn category 6 at the session level. Valid text is
 * delivered; invalid text fails with 1007 — and fails fast, as soon as the offending byte has been fed, not
 * at the end of the frame or message.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { Opcode } from '../../src/protocol/index.js';
import {
  assertFailed,
  assertOpen,
  autobahnUtf8Cases,
  buildFrame,
  c,
  eachMode,
  feedModes,
  fragmentedMessage,
  SessionHarness,
  utf8Reference,
  withMode,
  type FeedMode,
} from '../helpers/protocol-harness.js';

const KOSME = Buffer.from('cebae1bdb9cf83cebcceb5', 'hex'); // κόσμε

/** Feeds `input` cut as `mode` says and returns the harness plus the cumulative end offset of each piece. */
function feedTracked(input: Buffer, mode: FeedMode): { h: SessionHarness; ends: number[] } {
  const h = new SessionHarness();
  const ends: number[] = [];
  for (const piece of mode.split(Buffer.from(input))) {
    h.feed(piece);
    ends.push(h.fed);
  }
  return { h, ends };
}

/** Asserts the 1007 Close was written while feeding the piece that contains input byte `index`. */
function assertFailedAtByte(h: SessionHarness, ends: number[], index: number): void {
  assertFailed(h, 1007);
  const expectedAt = ends.find((end) => end > index)!;
  assert.equal(
    h.writes[0].at,
    expectedAt,
    `Close written after ${h.writes[0].at} bytes, expected at byte ${index}`,
  );
}

describe('RFC 6455 §5.6 / §8.1 UTF-8 — Autobahn 6.1–6.4', () => {
  it('6.1.1: an empty text frame is a valid (empty) message', () => {
    eachMode(c.text(''), { echo: true }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.messages(), [{ data: Buffer.alloc(0), isBinary: false }]);
      assert.equal(h.frames()[0].payload.length, 0);
    });
  });

  const valid = 'Hello-µ@ßöäüàá-UTF-8!!';
  it('6.2.1: valid UTF-8 with multi-byte code points in one frame', () => {
    eachMode(c.text(valid), { echo: true }, (h) => {
      assertOpen(h);
      assert.equal(h.messages()[0].data.toString(), valid);
      assert.equal(h.frames()[0].payload.toString(), valid);
    });
  });

  it('6.2.2: the same, fragmented on code point boundaries', () => {
    const bytes = Buffer.from(valid);
    // "Hello-µ" | "@ßöäüàá" | "-UTF-8!!" cut between characters.
    const a = Buffer.byteLength('Hello-µ');
    const b = a + Buffer.byteLength('@ßöäüàá');
    const input = Buffer.concat([
      c.text(bytes.subarray(0, a), { fin: false }),
      c.cont(bytes.subarray(a, b), { fin: false }),
      c.cont(bytes.subarray(b)),
    ]);
    eachMode(input, {}, (h) => {
      assertOpen(h);
      assert.equal(h.messages()[0].data.toString(), valid);
    });
  });

  it('6.2.3 / 6.2.4: the same, fragmented inside code points and at every byte', () => {
    for (const size of [1, 2, 3, 5]) {
      eachMode(fragmentedMessage(Opcode.Text, valid, size), {}, (h) => {
        assertOpen(h);
        assert.equal(h.messages()[0].data.toString(), valid);
      });
    }
  });

  const invalid = Buffer.concat([KOSME, Buffer.from('eda080', 'hex'), Buffer.from('edited')]);
  it('6.3.1: κόσμε + ED A0 80 (a surrogate) + "edited" in one frame → 1007', () => {
    eachMode(c.text(invalid), { echo: true }, (h) => {
      assertFailed(h, 1007);
      assert.equal(h.messages().length, 0);
    });
  });

  it('6.3.2: the same in 1-byte fragments → 1007 at the fragment carrying A0', () => {
    const input = fragmentedMessage(Opcode.Text, invalid, 1);
    eachMode(input, {}, (h) => {
      assertFailed(h, 1007);
      assert.equal(h.messages().length, 0);
    });
    // Each 1-byte fragment is a 7-byte frame; A0 is payload byte 12 → the 13th frame's last byte.
    const { h, ends } = feedTracked(input, feedModes(input.length)[1]);
    assertFailedAtByte(h, ends, 13 * 7 - 1);
  });

  it('6.4.1: 3 fragments, the 2nd makes it invalid (F4 90 80 80 > U+10FFFF) → 1007 before the 3rd arrives', () => {
    const part1 = c.text(KOSME, { fin: false });
    const part2 = c.cont(Buffer.from('f4908080', 'hex'), { fin: false });
    const part3 = c.cont('edited');
    for (const mode of feedModes(part1.length + part2.length)) {
      const { h, ends } = feedTracked(Buffer.concat([part1, part2]), mode);
      withMode(mode.name, () => {
        // F4 is fine, 90 is the byte that can't follow F4.
        assertFailedAtByte(h, ends, part1.length + 6 + 1);
        h.feed(Buffer.from(part3));
        assert.equal(h.frames().length, 1, 'nothing more after the 3rd fragment');
      });
    }
  });

  it('6.4.2: fragments cebae1bdb9cf83cebcceb5f4 | 90 | 8080656469746564 → 1007 on the 2nd fragment', () => {
    const part1 = c.text(Buffer.from('cebae1bdb9cf83cebcceb5f4', 'hex'), { fin: false });
    const part2 = c.cont(Buffer.from('90', 'hex'), { fin: false });
    const part3 = c.cont(Buffer.from('8080656469746564', 'hex'));
    for (const mode of feedModes(part1.length + part2.length)) {
      const { h, ends } = feedTracked(Buffer.concat([part1, part2]), mode);
      withMode(mode.name, () => assertFailedAtByte(h, ends, part1.length + part2.length - 1));
    }
    eachMode(Buffer.concat([part1, part2, part3]), {}, (h) => assertFailed(h, 1007));
  });

  it('6.4.3 / 6.4.4: one frame, sent as [header+valid | invalid | rest] → 1007 before the rest arrives', () => {
    const payload = Buffer.concat([KOSME, Buffer.from('f4908080', 'hex'), Buffer.from('edited')]);
    const frame = c.text(payload);
    const headerLength = frame.length - payload.length;
    const invalidAt = headerLength + KOSME.length + 1; // the 0x90
    const h = new SessionHarness();
    h.feed(Buffer.from(frame.subarray(0, headerLength + KOSME.length)));
    assertOpen(h);
    h.feed(Buffer.from(frame.subarray(headerLength + KOSME.length, headerLength + KOSME.length + 4)));
    assertFailed(h, 1007);
    h.feed(Buffer.from(frame.subarray(headerLength + KOSME.length + 4)));
    assert.equal(h.frames().length, 1);
    for (const mode of feedModes(frame.length)) {
      const t = feedTracked(frame, mode);
      withMode(mode.name, () => assertFailedAtByte(t.h, t.ends, invalidAt));
    }
  });
});

describe('RFC 6455 §8.1 UTF-8 — fail fast', () => {
  const immediatelyInvalid = [0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xf7, 0xf8, 0xfc, 0xfe, 0xff];
  for (const byte of immediatelyInvalid)
    it(`a text frame whose payload begins with 0x${byte.toString(16)} fails as soon as that byte is fed`, () => {
      // The header announces 1000 bytes; only the header and the first payload byte are ever sent.
      const header = buildFrame({ opcode: Opcode.Text, length: 1000 });
      const firstByte = Buffer.from([byte ^ header[header.length - 4]]); // masked with key byte 0
      const h = new SessionHarness();
      for (let i = 0; i < header.length; i++) {
        h.feed(Buffer.from(header.subarray(i, i + 1)));
        assertOpen(h);
      }
      h.feed(Buffer.from(firstByte)); // a copy: the session unmasks what it is given in place
      assertFailed(h, 1007);
      assert.equal(h.writes[0].at, header.length + 1);
      // Whole header + first byte in one piece: same result.
      const t = new SessionHarness();
      t.feed(Buffer.concat([header, firstByte]));
      assertFailed(t, 1007);
    });

  for (const [hex, bad] of [
    ['eda0', 1],
    ['e080', 1],
    ['e09f', 1],
    ['f080', 1],
    ['f08f', 1],
    ['f490', 1],
    ['c2c2', 1],
    ['e2828a80', 3],
    ['41f09f9880bf', 5],
  ] as const)
    it(`payload ${hex}… fails at payload byte ${bad}, before the rest of the frame`, () => {
      const prefix = Buffer.from(hex, 'hex');
      const frame = c.text(Buffer.concat([prefix, Buffer.alloc(500, 0x41)]));
      const headerLength = frame.length - prefix.length - 500;
      const sent = frame.subarray(0, headerLength + prefix.length);
      for (const mode of feedModes(sent.length)) {
        const { h, ends } = feedTracked(sent, mode);
        withMode(mode.name, () => assertFailedAtByte(h, ends, headerLength + bad));
      }
    });

  it('an invalid byte deep inside a 64 KiB frame fails in the 1 KiB piece that carries it', () => {
    const payload = Buffer.alloc(65536, 0x61);
    payload[40000] = 0xff;
    const frame = c.text(payload);
    const headerLength = frame.length - payload.length;
    const h = new SessionHarness();
    for (let at = 0; at < frame.length && h.writes.length === 0; at += 1024)
      h.feed(Buffer.from(frame.subarray(at, at + 1024)));
    assertFailed(h, 1007);
    const index = headerLength + 40000;
    assert.equal(h.writes[0].at, Math.ceil((index + 1) / 1024) * 1024);
    assert.ok(h.fed < frame.length, 'failed before the frame was complete');
  });

  it('an invalid continuation fragment fails before its FIN fragment arrives; a later ping is not answered', () => {
    const input = Buffer.concat([
      c.text('valid start ', { fin: false }),
      c.cont(Buffer.from([0x20, 0xc3]), { fin: false }), // opens a 2-byte sequence
      c.cont(Buffer.from([0x28]), { fin: false }), // "(" cannot continue it
    ]);
    eachMode(Buffer.concat([input, c.ping('x'), c.cont('end')]), {}, (h) => {
      assertFailed(h, 1007);
      assert.equal(h.events.filter((e) => e.type === 'ping').length, 0);
    });
  });
});

describe('RFC 6455 §8.1 UTF-8 — Autobahn 6.5–6.23 (Kuhn stress test), every sequence', () => {
  const cases = autobahnUtf8Cases();

  it('the expected verdicts agree with buffer.isUtf8 and with the RFC 3629 reference', () => {
    assert.ok(cases.length > 100);
    for (const { bytes, valid, group } of cases) {
      assert.equal(isUtf8(bytes), valid, `${group}: ${bytes.toString('hex')}`);
      const ref = utf8Reference(bytes);
      assert.equal(ref.firstInvalid === -1 && ref.complete, valid, `${group}: ${bytes.toString('hex')}`);
    }
  });

  it('each sequence as one text frame: valid → delivered (and echoed), invalid → 1007 at the right byte', () => {
    for (const { bytes, valid, group } of cases) {
      const frame = c.text(bytes);
      const headerLength = frame.length - bytes.length;
      for (const mode of feedModes(frame.length)) {
        const { h, ends } = feedTracked(frame, mode);
        withMode(`${group} ${bytes.toString('hex')}, ${mode.name}`, () => {
          if (valid) {
            assertOpen(h);
            assert.deepEqual(h.messages(), [{ data: bytes, isBinary: false }]);
            return;
          }
          const { firstInvalid } = utf8Reference(bytes);
          // An impossible byte fails where it is; a sequence cut by the message end fails at the end.
          assertFailedAtByte(h, ends, firstInvalid === -1 ? frame.length - 1 : headerLength + firstInvalid);
          assert.equal(h.messages().length, 0);
        });
      }
    }
  });

  it('each sequence as 1-byte fragments and as 2-byte fragments with pings between: same verdicts', () => {
    for (const { bytes, valid, group } of cases) {
      for (const size of [1, 2]) {
        const fragments: Buffer[] = [];
        if (bytes.length === 0) fragments.push(c.text(''));
        for (let at = 0; at < bytes.length; at += size) {
          const fin = at + size >= bytes.length;
          const piece = bytes.subarray(at, at + size);
          fragments.push(at === 0 ? c.text(piece, { fin }) : c.cont(piece, { fin }));
          if (!fin && size === 2) fragments.push(c.ping('p'));
        }
        eachMode(Buffer.concat(fragments), {}, (h) => {
          withMode(`${group} ${bytes.toString('hex')}, fragments of ${size}`, () => {
            if (valid) {
              assertOpen(h);
              assert.deepEqual(h.messages(), [{ data: bytes, isBinary: false }]);
            } else {
              assertFailed(h, 1007, Array(h.frames().length - 1).fill(Opcode.Pong));
              assert.equal(h.messages().length, 0);
            }
          });
        });
      }
    }
  });

  it('invalid sequences are accepted as binary messages (no UTF-8 check on binary data)', () => {
    const invalidOnes = cases.filter((x) => !x.valid);
    const input = Buffer.concat(invalidOnes.map((x) => c.binary(x.bytes)));
    eachMode(input, {}, (h) => {
      assertOpen(h);
      assert.deepEqual(
        h.messages().map((m) => m.data),
        invalidOnes.map((x) => x.bytes),
      );
    });
  });
});

describe('RFC 6455 §8.1 UTF-8 — sequences split across frame and fragment boundaries', () => {
  it('every valid multi-byte character split at every position across two fragments is accepted', () => {
    for (const ch of [
      'é',
      '€',
      '한',
      '𝄞',
      '😀',
      '\u{10ffff}',
      '\u{fffd}',
      '\u{80}',
      '\u{800}',
      '\u{10000}',
    ]) {
      const bytes = Buffer.from(`a${ch}b`);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const input = Buffer.concat([
          c.text(bytes.subarray(0, cut), { fin: false }),
          c.cont(bytes.subarray(cut)),
        ]);
        eachMode(input, {}, (h) => {
          assertOpen(h);
          assert.equal(h.messages()[0].data.toString(), `a${ch}b`);
        });
      }
    }
  });

  it('an invalid sequence split at every position across fragments → 1007', () => {
    for (const hex of ['eda080', 'f4908080', 'e080af', 'c0af', 'f8888080', 'efbf41', 'f0a4ad41']) {
      const bytes = Buffer.concat([Buffer.from('ok'), Buffer.from(hex, 'hex'), Buffer.from('tail')]);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const input = Buffer.concat([
          c.text(bytes.subarray(0, cut), { fin: false }),
          c.cont(bytes.subarray(cut)),
        ]);
        eachMode(input, {}, (h) => withMode(`${hex} cut at ${cut}`, () => assertFailed(h, 1007)));
      }
    }
  });

  it('a sequence truncated at the end of the message → 1007 when the final fragment arrives', () => {
    for (const tail of ['c3', 'e282', 'f09f98', 'e2', 'f0']) {
      const bytes = Buffer.concat([Buffer.from('hello'), Buffer.from(tail, 'hex')]);
      eachMode(c.text(bytes), {}, (h) => assertFailed(h, 1007));
      // Open sequence at the end of a non-final fragment, then an empty final fragment.
      const input = Buffer.concat([c.text(bytes, { fin: false }), c.cont('')]);
      for (const mode of feedModes(input.length)) {
        const { h, ends } = feedTracked(input, mode);
        withMode(`${tail}, ${mode.name}`, () => assertFailedAtByte(h, ends, input.length - 1));
      }
    }
  });

  it('the UTF-8 state is per message: a sequence cannot continue into the next message', () => {
    const input = Buffer.concat([c.text(Buffer.from([0x61, 0xe2, 0x82])), c.text(Buffer.from([0xac]))]);
    eachMode(input, {}, (h) => {
      assertFailed(h, 1007);
      assert.equal(h.messages().length, 0);
    });
    const fine = Buffer.concat([c.text('€'), c.text('€')]);
    eachMode(fine, {}, (h) => assert.deepEqual(h.messages().length, 2));
  });

  it('a ping between the bytes of a split character does not break the sequence', () => {
    const input = Buffer.concat([
      c.text(Buffer.from([0xf0, 0x9f]), { fin: false }),
      c.ping(Buffer.from([0xff])),
      c.cont(Buffer.from([0x98, 0x80])),
    ]);
    eachMode(input, {}, (h) => {
      assertOpen(h);
      assert.equal(h.messages()[0].data.toString(), '😀');
      assert.deepEqual(h.eventTypes(), ['ping', 'message']);
    });
  });
});
