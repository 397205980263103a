/**
 * RFC 6455 §7 Closing the connection (and §5.5.1 Close frames): Autobahn category 7, the close payload
 * codec, and local misuse after close. Every received input is fed whole, byte by byte and at random splits.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CloseCode,
  encodeClosePayload,
  InvalidStateError,
  isValidCloseCode,
  MAX_CLOSE_REASON,
  Opcode,
  parseClosePayload,
  ProtocolError,
  truncateReason,
} from '../../src/protocol/index.js';
import {
  assertEchoedClose,
  assertFailed,
  assertOpen,
  buildFrame,
  c,
  closeOf,
  closePayload,
  eachMode,
  fragmentedMessage,
  SessionHarness,
} from '../helpers/protocol-harness.js';

const VALID_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

describe('RFC 6455 §7 closing — Autobahn 7.1: basic closing handshake', () => {
  it('7.1.1: a text message, then Close 1000 → message, Close 1000 echoed, closed', () => {
    eachMode(Buffer.concat([c.text('Hello World!'), c.close(1000)]), { echo: true }, (h) => {
      assertEchoedClose(h, 1000, [Opcode.Text]);
      assert.deepEqual(h.eventTypes(), ['message', 'close']);
      assert.equal(h.session.closeCode, 1000);
      assert.equal(h.session.hasReceivedClose, true);
      assert.equal(h.session.hasSentClose, true);
    });
  });

  it('7.1.2: two Close frames → answered once, the second ignored', () => {
    eachMode(Buffer.concat([c.close(1000), c.close(1000)]), {}, (h) => assertEchoedClose(h, 1000));
  });

  it('7.1.3: a ping after the Close → not answered', () => {
    eachMode(Buffer.concat([c.close(1000), c.ping('Hello World!')]), {}, (h) => {
      assertEchoedClose(h, 1000);
      assert.equal(h.events.filter((e) => e.type === 'ping').length, 0);
    });
  });

  it('7.1.4: a text message after the Close → not delivered', () => {
    eachMode(Buffer.concat([c.close(1000), c.text('Hello World!')]), { echo: true }, (h) => {
      assertEchoedClose(h, 1000);
      assert.equal(h.messages().length, 0);
    });
  });

  it('7.1.5: fragment 1, Close, fragment 2 → Close echoed, no message', () => {
    const input = Buffer.concat([c.text('fragment1', { fin: false }), c.close(1000), c.cont('fragment2')]);
    eachMode(input, { echo: true }, (h) => {
      assertEchoedClose(h, 1000);
      assert.equal(h.messages().length, 0);
    });
  });

  it('7.1.6: a 256 KiB message, a ping and a Close in one stream → message, pong, Close, in that order', () => {
    const big = 'BAsd7&jh23'.repeat(26214);
    const input = Buffer.concat([c.text(big), c.ping('Hello World!'), c.close(1000)]);
    eachMode(input, { echo: true }, (h) => {
      assertEchoedClose(h, 1000, [Opcode.Text, Opcode.Pong]);
      assert.equal(h.messages()[0].data.toString(), big);
      assert.equal(h.frames()[1].payload.toString(), 'Hello World!');
    });
  });

  it('garbage after the Close (even invalid frames) is ignored', () => {
    const input = Buffer.concat([c.close(1000), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00])]);
    eachMode(input, {}, (h) => assertEchoedClose(h, 1000));
  });
});

describe('RFC 6455 §7 closing — Autobahn 7.3: close frame structure', () => {
  it('7.3.1: Close with no payload → answered with an empty Close; reported as 1005', () => {
    eachMode(c.close(), {}, (h) => {
      assertEchoedClose(h, undefined);
      assert.equal(h.frames()[0].payload.length, 0);
      const [event] = h.events;
      assert.ok(event.type === 'close' && event.code === 1005 && event.reason === '');
    });
  });

  it('7.3.2: Close with a 1-byte payload → 1002', () => {
    eachMode(buildFrame({ opcode: Opcode.Close, payload: Buffer.from([0x03]) }), {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.events.filter((e) => e.type === 'close').length, 0);
    });
  });

  it('7.3.3: Close 1000 without reason → echoed 1000', () => {
    eachMode(c.close(1000), {}, (h) => {
      assertEchoedClose(h, 1000);
      const [event] = h.events;
      assert.ok(event.type === 'close' && event.code === 1000 && event.reason === '');
    });
  });

  it('7.3.4: Close 1000 with a reason → echoed 1000, the reason reported', () => {
    eachMode(c.close(1000, 'Hello World!'), {}, (h) => {
      assertEchoedClose(h, 1000);
      const [event] = h.events;
      assert.ok(event.type === 'close' && event.reason === 'Hello World!');
      assert.equal(h.session.closeReason, 'Hello World!');
    });
  });

  it('7.3.5: Close with a 123-byte reason (multi-byte characters) → accepted', () => {
    const reason = 'é'.repeat(61) + 'x'; // 123 bytes
    assert.equal(Buffer.byteLength(reason), 123);
    eachMode(c.close(1000, reason), {}, (h) => {
      assertEchoedClose(h, 1000);
      const [event] = h.events;
      assert.ok(event.type === 'close' && event.reason === reason);
    });
  });

  it('7.3.6: Close with a 124-byte reason (a 126-byte control frame) → 1002', () => {
    eachMode(c.close(1000, 'x'.repeat(124)), {}, (h) => assertFailed(h, 1002));
  });

  it('7.5.1: Close with an invalid UTF-8 reason → 1007', () => {
    const reason = Buffer.from('cebae1bdb9cf83cebcceb5eda080656469746564', 'hex');
    eachMode(c.close(1000, reason), {}, (h) => {
      assertFailed(h, 1007);
      assert.equal(h.events.filter((e) => e.type === 'close').length, 0);
    });
  });

  it('a reason ending inside a UTF-8 sequence, or with an overlong, → 1007', () => {
    for (const hex of ['e282', 'c0af', 'ff', '80']) {
      eachMode(c.close(1000, Buffer.from(hex, 'hex')), {}, (h) => assertFailed(h, 1007));
    }
  });
});

describe('RFC 6455 §7.4 status codes — Autobahn 7.7, 7.9, 7.13', () => {
  for (const code of VALID_CODES)
    it(`7.7: Close ${code} → echoed ${code}`, () => {
      eachMode(c.close(code), {}, (h) => {
        assertEchoedClose(h, code);
        const [event] = h.events;
        assert.ok(event.type === 'close' && event.code === code);
      });
    });

  for (const code of INVALID_CODES)
    it(`7.9 / 7.13: Close ${code} → 1002`, () => {
      eachMode(c.close(code), {}, (h) => {
        assertFailed(h, 1002);
        assert.equal(h.events.filter((e) => e.type === 'close').length, 0);
      });
      eachMode(c.close(code, 'with a reason'), {}, (h) => assertFailed(h, 1002));
    });
});

describe('RFC 6455 §7 closing — initiated by this side', () => {
  it('close() sends Close (default 1000), then the peer’s Close completes the handshake without a second Close', () => {
    for (const input of [c.close(1000), c.close(1001, 'me too'), c.close()]) {
      const beforeFeed = (h: SessionHarness) => {
        h.session.close();
        assert.equal(h.session.state, 'closing');
        assert.equal(h.session.hasSentClose, true);
        assert.equal(h.session.hasReceivedClose, false);
        assert.deepEqual(closeOf(h.frames()[0]), { code: 1000, reason: '' });
      };
      eachMode(input, { beforeFeed }, (h) => {
        assert.equal(h.session.state, 'closed');
        assert.equal(h.session.hasReceivedClose, true);
        assert.equal(h.frames().length, 1, 'no second Close');
        assert.deepEqual(h.eventTypes(), ['close']);
      });
    }
  });

  it('close(code, reason) puts both on the wire', () => {
    const h = new SessionHarness();
    h.session.close(4000, 'custom réason');
    assert.deepEqual(closeOf(h.frames()[0]), { code: 4000, reason: 'custom réason' });
  });

  it('while closing, incoming messages and pongs are still delivered, pings are not answered', () => {
    const input = Buffer.concat([c.text('late but valid'), c.ping('no answer'), c.pong('p'), c.close(1000)]);
    eachMode(input, { beforeFeed: (h) => h.session.close(1000) }, (h) => {
      assert.deepEqual(h.eventTypes(), ['message', 'ping', 'pong', 'close']);
      assert.deepEqual(
        h.frames().map((f) => f.opcode),
        [Opcode.Close],
        'only our Close was written',
      );
      assert.equal(h.session.state, 'closed');
    });
  });

  it('a protocol error while closing does not send a second Close', () => {
    eachMode(c.text('x', { rsv2: true }), { beforeFeed: (h) => h.session.close(1000) }, (h) => {
      assert.equal(h.session.state, 'closed');
      assert.equal(h.frames().length, 1);
      assert.equal(closeOf(h.frames()[0]).code, 1000);
      assert.equal(h.errors()[0].closeCode, 1002);
    });
  });

  it('sending after close() throws InvalidStateError; a second close() is a no-op', () => {
    const h = new SessionHarness();
    h.session.close(1000);
    assert.throws(() => h.session.send('x'), InvalidStateError);
    assert.throws(() => h.session.send(Buffer.from([1])), InvalidStateError);
    assert.throws(() => h.session.sendFragment(Opcode.Text, 'x', true), InvalidStateError);
    assert.throws(() => h.session.ping(), InvalidStateError);
    assert.throws(() => h.session.pong(), InvalidStateError);
    h.session.close(1001, 'again');
    assert.equal(h.frames().length, 1);
  });

  it('sending after the peer’s Close, or after a protocol error, throws InvalidStateError', () => {
    const closed = new SessionHarness().feedWith(c.close(1000));
    assert.throws(() => closed.session.send('x'), InvalidStateError);
    assert.throws(() => closed.session.ping('x'), InvalidStateError);
    closed.session.close();
    assert.equal(closed.frames().length, 1);
    const failed = new SessionHarness().feedWith(c.cont('x'));
    assert.throws(() => failed.session.send('x'), InvalidStateError);
    failed.session.close();
    assert.equal(failed.frames().length, 1);
  });

  it('close() with a reserved code or a reason over 123 bytes throws InvalidStateError and sends nothing', () => {
    for (const code of [1004, 1006, 1015, 1016, 999, 2000, 2999, 5000, 65535]) {
      const h = new SessionHarness();
      assert.throws(() => h.session.close(code), InvalidStateError, `code ${code}`);
      assert.equal(h.writes.length, 0);
      assert.equal(h.session.state, 'open');
      h.session.send('still open');
    }
    const h = new SessionHarness();
    assert.throws(() => h.session.close(1000, 'x'.repeat(124)), InvalidStateError);
    assert.throws(() => h.session.close(1000, 'é'.repeat(62)), InvalidStateError);
    assert.equal(h.writes.length, 0);
    h.session.close(1000, 'x'.repeat(123));
    assert.equal(h.frames()[0].payload.length, 125);
  });

  it('close(1005) never puts 1005 on the wire (it means "no status code", RFC 6455 §7.4.1)', () => {
    const h = new SessionHarness();
    try {
      h.session.close(1005);
    } catch (error) {
      assert.ok(error instanceof InvalidStateError);
    }
    for (const frame of h.frames()) {
      assert.equal(frame.opcode, Opcode.Close);
      assert.equal(frame.payload.length, 0, 'if anything is sent, it is an empty Close');
    }
  });

  it('abort() closes without a handshake; later input is ignored', () => {
    const h = new SessionHarness();
    h.session.abort();
    assert.equal(h.session.state, 'closed');
    h.feedWith(Buffer.concat([c.text('x'), c.close(1000)]));
    assert.equal(h.events.length, 0);
    assert.equal(h.writes.length, 0);
  });

  it('the Close sent on a protocol error carries a valid UTF-8 reason of at most 123 bytes', () => {
    const cases = [c.cont('x'), c.text(Buffer.from([0xff])), c.close(1005), buildFrame({ opcode: 3 })];
    for (const input of cases) {
      const h = new SessionHarness().feedWith(input);
      const frame = h.frames()[0];
      const reason = frame.payload.subarray(2);
      assert.ok(reason.length <= MAX_CLOSE_REASON);
      assert.doesNotThrow(() => parseClosePayload(frame.payload));
      assert.equal(h.session.closeReason, h.errors()[0].message);
    }
  });

  it('a message completed in the same chunk as the Close is delivered before the close event', () => {
    const input = Buffer.concat([fragmentedMessage(Opcode.Binary, Buffer.from('abcdef'), 2), c.close(1000)]);
    eachMode(input, {}, (h) => {
      assertEchoedClose(h, 1000);
      assert.deepEqual(h.eventTypes(), ['message', 'close']);
    });
  });

  it('nothing is sent before the Close frame is complete', () => {
    const input = c.close(1000, 'bye');
    const h = new SessionHarness();
    for (let i = 0; i < input.length - 1; i++) h.feed(Buffer.from(input.subarray(i, i + 1)));
    assertOpen(h);
    assert.equal(h.writes.length, 0);
    h.feed(Buffer.from(input.subarray(input.length - 1)));
    assertEchoedClose(h, 1000);
  });
});

describe('close payload codec (§5.5.1, §7.4)', () => {
  it('isValidCloseCode: exactly 1000–1003, 1007–1014 and 3000–4999', () => {
    for (let code = 0; code < 70000; code++) {
      const expected =
        (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      if (isValidCloseCode(code) !== expected) assert.fail(`code ${code}`);
    }
  });

  it('parseClosePayload: empty → 1005, 1-byte → ProtocolError 1002', () => {
    assert.deepEqual(parseClosePayload(Buffer.alloc(0)), { code: CloseCode.NoStatus, reason: '' });
    assert.throws(
      () => parseClosePayload(Buffer.from([3])),
      (e: unknown) => e instanceof ProtocolError && e.closeCode === 1002,
    );
  });

  it('parseClosePayload: valid codes with and without reasons; invalid codes → 1002; bad reason → 1007', () => {
    for (const code of VALID_CODES) {
      assert.deepEqual(parseClosePayload(closePayload(code)), { code, reason: '' });
      assert.deepEqual(parseClosePayload(closePayload(code, 'ça va')), { code, reason: 'ça va' });
    }
    for (const code of INVALID_CODES)
      assert.throws(
        () => parseClosePayload(closePayload(code, 'x')),
        (e: unknown) => e instanceof ProtocolError && e.closeCode === 1002,
        `code ${code}`,
      );
    for (const hex of ['ff', 'c0af', 'eda080', 'e282'])
      assert.throws(
        () => parseClosePayload(closePayload(1000, Buffer.from(hex, 'hex'))),
        (e: unknown) => e instanceof ProtocolError && e.closeCode === 1007,
      );
  });

  it('encodeClosePayload: no code (or 1005) → empty; code and reason big-endian + UTF-8', () => {
    assert.equal(encodeClosePayload().length, 0);
    assert.equal(encodeClosePayload(undefined).length, 0);
    assert.equal(encodeClosePayload(1005).length, 0);
    assert.deepEqual([...encodeClosePayload(1000)], [0x03, 0xe8]);
    assert.deepEqual([...encodeClosePayload(4999, 'é')], [0x13, 0x87, 0xc3, 0xa9]);
    for (const code of VALID_CODES)
      assert.deepEqual(parseClosePayload(encodeClosePayload(code, 'why')), { code, reason: 'why' });
  });

  it('encodeClosePayload: local misuse throws InvalidStateError', () => {
    assert.throws(() => encodeClosePayload(undefined, 'reason without code'), InvalidStateError);
    assert.throws(() => encodeClosePayload(1005, 'reason'), InvalidStateError);
    for (const code of INVALID_CODES.filter((x) => x !== 1005))
      assert.throws(() => encodeClosePayload(code), InvalidStateError, `code ${code}`);
    assert.equal(encodeClosePayload(1000, 'x'.repeat(123)).length, 125);
    assert.throws(() => encodeClosePayload(1000, 'x'.repeat(124)), InvalidStateError);
    assert.throws(() => encodeClosePayload(1000, '€'.repeat(41) + 'x'), InvalidStateError); // 124 bytes
  });

  it('truncateReason keeps at most 123 bytes without cutting a character', () => {
    assert.equal(truncateReason('short'), 'short');
    const ascii = 'a'.repeat(200);
    assert.equal(truncateReason(ascii), 'a'.repeat(123));
    for (const ch of ['é', '€', '😀']) {
      const out = truncateReason(ch.repeat(100));
      assert.ok(Buffer.byteLength(out) <= 123);
      assert.ok(Buffer.byteLength(out) > 123 - Buffer.byteLength(ch));
      assert.equal(out, ch.repeat(out.length / ch.length));
    }
  });
});
