/**
 * The client role of `WebSocketSession` (RFC 6455 §5.1, §5.3): every frame it writes is masked with a fresh
 * key and decodes to what was sent; it answers pings, runs the closing handshake, and fails on masked input.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidStateError, Opcode } from '../../src/protocol/index.js';
import {
  assertEchoedClose,
  assertFailed,
  assertOpen,
  c,
  closeOf,
  eachMode,
  Prng,
  s,
  SessionHarness,
} from '../helpers/protocol-harness.js';

describe('client role — frames written', () => {
  it('send() of text and binary of every length-encoding size is masked and decodes intact', () => {
    const h = new SessionHarness({ role: 'client' });
    const rng = new Prng(11);
    const sent: { payload: Buffer; opcode: number }[] = [];
    for (const length of [0, 1, 31, 32, 33, 125, 126, 65535, 65536, 100000]) {
      const bin = rng.bytes(length);
      h.session.send(bin);
      sent.push({ payload: bin, opcode: Opcode.Binary });
      const text = 'ü'.repeat(Math.floor(length / 2)) + (length % 2 ? 'a' : '');
      h.session.send(text);
      sent.push({ payload: Buffer.from(text), opcode: Opcode.Text });
    }
    const frames = h.frames();
    assert.equal(frames.length, sent.length);
    frames.forEach((frame, i) => {
      assert.equal(frame.masked, true, `frame ${i} masked`);
      assert.equal(frame.fin, true);
      assert.equal(frame.rsv1 || frame.rsv2 || frame.rsv3, false);
      assert.equal(frame.opcode, sent[i].opcode);
      assert.ok(frame.payload.equals(sent[i].payload), `frame ${i} payload`);
      const length = sent[i].payload.length;
      assert.equal(frame.lengthEncoding, length < 126 ? 7 : length < 65536 ? 16 : 64);
    });
    // Large client payloads are masked in a copy, never sent as a separate unmasked `more` buffer.
    assert.ok(h.writes.every((w) => !w.split));
  });

  it('the masked bytes on the wire differ from the payload and keys vary from frame to frame', () => {
    const h = new SessionHarness({ role: 'client' });
    for (let i = 0; i < 50; i++) h.session.send('AAAAAAAAAAAAAAAA');
    const frames = h.frames();
    const keys = new Set(frames.map((f) => f.maskKey!.toString('hex')));
    assert.ok(keys.size >= 45, `mask keys should be fresh per frame, got ${keys.size} distinct of 50`);
    const wire = h.writes.map((w) => w.bytes.subarray(6).toString());
    assert.ok(
      wire.filter((bytes) => bytes === 'AAAAAAAAAAAAAAAA').length <= 1,
      'payload is masked on the wire',
    );
  });

  it('thousands of frames (past any internal pool of mask keys) are all masked and decode intact', () => {
    const h = new SessionHarness({ role: 'client' });
    for (let i = 0; i < 5000; i++) h.session.send(`message ${i}`);
    const frames = h.frames();
    assert.equal(frames.length, 5000);
    frames.forEach((f, i) => {
      if (!f.masked || f.payload.toString() !== `message ${i}`) assert.fail(`frame ${i}`);
    });
    const keys = new Set(frames.map((f) => f.maskKey!.toString('hex')));
    assert.ok(keys.size > 4900, `${keys.size} distinct keys of 5000`);
  });

  it('a caller-owned payload is not modified by masking', () => {
    const h = new SessionHarness({ role: 'client' });
    const payload = Buffer.from('do not touch me, I belong to the caller; long enough for word masking');
    const copy = Buffer.from(payload);
    h.session.send(payload);
    h.session.ping(payload.subarray(0, 10));
    h.session.sendFragment(Opcode.Binary, payload, true);
    assert.ok(payload.equals(copy));
    assert.equal(h.frames().length, 3);
  });

  it('ping(), pong(), sendFragment() and close() frames are masked', () => {
    const h = new SessionHarness({ role: 'client' });
    h.session.ping('are you there');
    h.session.pong('heartbeat');
    h.session.sendFragment(Opcode.Text, 'frag', false);
    h.session.sendFragment(Opcode.Continuation, 'ment', true);
    h.session.close(1001, 'going');
    const frames = h.frames();
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.fin, f.masked]),
      [
        [Opcode.Ping, true, true],
        [Opcode.Pong, true, true],
        [Opcode.Text, false, true],
        [Opcode.Continuation, true, true],
        [Opcode.Close, true, true],
      ],
    );
    assert.deepEqual(closeOf(frames[4]), { code: 1001, reason: 'going' });
    assert.equal(frames[0].payload.toString(), 'are you there');
    assert.equal(h.session.state, 'closing');
  });
});

describe('client role — frames received', () => {
  it('answers a server ping with a masked pong carrying the same payload', () => {
    const payload = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    eachMode(s.ping(payload), { role: 'client' }, (h) => {
      assertOpen(h);
      const [pong] = h.frames();
      assert.equal(pong.opcode, Opcode.Pong);
      assert.equal(pong.masked, true);
      assert.ok(pong.payload.equals(payload));
    });
  });

  it('receives a fragmented message with a ping in the middle', () => {
    const input = Buffer.concat([
      s.text('Hello, ', { fin: false }),
      s.ping('mid'),
      s.cont('world', { fin: true }),
    ]);
    eachMode(input, { role: 'client' }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.eventTypes(), ['ping', 'message']);
      assert.equal(h.messages()[0].data.toString(), 'Hello, world');
      assert.equal(h.frames()[0].opcode, Opcode.Pong);
    });
  });

  it("echoes the server's Close (masked) and reports the code and reason", () => {
    eachMode(s.close(1001, 'bye'), { role: 'client' }, (h) => {
      assertEchoedClose(h, 1001);
      assert.equal(h.frames()[0].masked, true);
      const event = h.events[0];
      assert.ok(event.type === 'close' && event.code === 1001 && event.reason === 'bye');
    });
  });

  it('client-initiated close completes when the server answers', () => {
    const beforeFeed = (h: SessionHarness) => {
      h.session.close(1000, 'done');
      assert.equal(h.session.state, 'closing');
    };
    eachMode(s.close(1000, 'done'), { role: 'client', beforeFeed }, (h) => {
      assert.equal(h.session.state, 'closed');
      const frames = h.frames();
      assert.equal(frames.length, 1, 'the client does not answer the server Close a second time');
      assert.equal(frames[0].masked, true);
      assert.deepEqual(closeOf(frames[0]), { code: 1000, reason: 'done' });
      assert.deepEqual(h.eventTypes(), ['close']);
      assert.throws(() => h.session.send('late'), InvalidStateError);
    });
  });

  it('the client applies the same protocol checks (RSV, opcode, invalid UTF-8, limits)', () => {
    eachMode(s.text('x', { rsv2: true }), { role: 'client' }, (h) => assertFailed(h, 1002));
    eachMode(s.binary('x', { rsv1: true }), { role: 'client' }, (h) => assertFailed(h, 1002));
    eachMode(s.cont('x'), { role: 'client' }, (h) => assertFailed(h, 1002));
    eachMode(s.text(Buffer.from([0x61, 0xc0, 0xaf])), { role: 'client' }, (h) => assertFailed(h, 1007));
    eachMode(s.binary(Buffer.alloc(101)), { role: 'client', maxMessageSize: 100 }, (h) =>
      assertFailed(h, 1009),
    );
    eachMode(s.close(1005), { role: 'client' }, (h) => assertFailed(h, 1002));
    eachMode(c.ping('masked'), { role: 'client' }, (h) => assertFailed(h, 1002));
  });
});
