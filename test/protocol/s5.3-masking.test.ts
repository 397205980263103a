/**
 * RFC 6455 §5.3 Client-to-server masking: `applyMask` against a naive byte loop (every alignment, key offset
 * and length), the server refusing unmasked client frames, the client refusing masked server frames.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyMask, Opcode } from '../../src/protocol/index.js';
import {
  assertFailed,
  assertOpen,
  buildFrame,
  c,
  eachMode,
  Prng,
  s,
  SessionHarness,
} from '../helpers/protocol-harness.js';

function naiveMask(data: Uint8Array, key: Uint8Array, keyOffset: number): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i] ^= key[(i + keyOffset) % 4];
  return out;
}

describe('RFC 6455 §5.3 masking — applyMask', () => {
  const rng = new Prng(53);
  const keys = [
    Buffer.from([0x37, 0xfa, 0x21, 0x3d]),
    Buffer.from([0, 0, 0, 0]),
    Buffer.from([0xff, 0xff, 0xff, 0xff]),
    Buffer.from([1, 0, 0, 0x80]),
    rng.bytes(4),
  ];

  it('matches a naive byte loop for lengths 0..100, every alignment 0..7, key offsets 0..7, several keys', () => {
    let cases = 0;
    for (const key of keys)
      for (let length = 0; length <= 100; length++)
        for (let align = 0; align < 8; align++)
          for (let keyOffset = 0; keyOffset < 8; keyOffset++) {
            // A fresh ArrayBuffer (offset 0, so 4-aligned) with guard bytes around the data.
            const backing = Buffer.from(new ArrayBuffer(length + 16));
            const original = rng.bytes(length);
            backing.fill(0xa5);
            original.copy(backing, align);
            const view = backing.subarray(align, align + length);
            applyMask(view, key, keyOffset);
            const expected = naiveMask(original, key, keyOffset);
            if (!view.equals(expected))
              assert.fail(
                `mismatch: key ${key.toString('hex')}, length ${length}, align ${align}, offset ${keyOffset}`,
              );
            for (let i = 0; i < backing.length; i++)
              if (i < align || i >= align + length)
                assert.equal(backing[i], 0xa5, `guard byte ${i} touched (length ${length}, align ${align})`);
            cases++;
          }
    assert.equal(cases, keys.length * 101 * 64);
  });

  it('matches the naive loop on large buffers (1 KiB .. 1 MiB + odd sizes) at every alignment', () => {
    for (const length of [1024, 4099, 65537, 1024 * 1024 + 3])
      for (let align = 0; align < 4; align++) {
        const key = keys[length % keys.length];
        const backing = Buffer.alloc(length + 8);
        const original = rng.bytes(length);
        original.copy(backing, align);
        const view = backing.subarray(align, align + length);
        applyMask(view, key, align + 1);
        assert.ok(view.equals(naiveMask(original, key, align + 1)), `length ${length}, align ${align}`);
      }
  });

  it('works on a Buffer from the shared pool and on a plain Uint8Array view', () => {
    const pooled = Buffer.from('a pooled buffer whose byteOffset is arbitrary, long enough for words');
    const original = Buffer.from(pooled);
    applyMask(pooled, keys[0], 0);
    assert.ok(pooled.equals(naiveMask(original, keys[0], 0)));
    const u8 = new Uint8Array(new ArrayBuffer(80), 3, 70);
    u8.fill(0x42);
    applyMask(u8, keys[3], 2);
    assert.ok(Buffer.from(u8).equals(naiveMask(Buffer.alloc(70, 0x42), keys[3], 2)));
  });

  it('masking piece by piece with a running key offset equals masking the whole (random splits)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = new Prng(seed);
      const original = r.bytes(r.int(0, 3000));
      const key = r.bytes(4);
      const pieces = Buffer.from(original);
      let at = 0;
      while (at < pieces.length) {
        const size = Math.min(pieces.length - at, r.int(1, r.next() < 0.5 ? 5 : 200));
        applyMask(pieces.subarray(at, at + size), key, at & 3);
        at += size;
      }
      assert.ok(pieces.equals(naiveMask(original, key, 0)), `seed ${seed}`);
    }
  });

  it('is an involution: masking twice restores the data', () => {
    const data = rng.bytes(1000);
    const copy = Buffer.from(data);
    applyMask(copy, keys[4], 1);
    assert.ok(!copy.equals(data));
    applyMask(copy, keys[4], 1);
    assert.ok(copy.equals(data));
  });
});

describe('RFC 6455 §5.3 masking — the server requires masked client frames', () => {
  for (const [name, frame] of [
    ['text', s.text('Hello')],
    ['binary', s.binary(Buffer.from([1, 2, 3]))],
    ['empty text', s.text('')],
    ['ping', s.ping('x')],
    ['pong', s.pong('x')],
    ['close', s.close(1000)],
    ['text with a 16-bit length', s.text('x'.repeat(300))],
  ] as const)
    it(`an unmasked ${name} frame → 1002`, () => {
      eachMode(frame, {}, (h) => {
        assertFailed(h, 1002);
        assert.equal(h.messages().length, 0);
      });
    });

  it('an unmasked continuation inside a masked message → 1002, the message is dropped', () => {
    const input = Buffer.concat([c.text('Hel', { fin: false }), s.cont('lo')]);
    eachMode(input, {}, (h) => {
      assertFailed(h, 1002);
      assert.equal(h.messages().length, 0);
    });
  });

  it('valid messages before the unmasked frame are delivered; nothing after it is', () => {
    const input = Buffer.concat([c.text('first'), s.text('second'), c.text('third')]);
    eachMode(input, {}, (h) => {
      assertFailed(h, 1002);
      assert.deepEqual(
        h.messages().map((m) => m.data.toString()),
        ['first'],
      );
    });
  });

  it('the unmasked-frame error is raised from the first two header bytes', () => {
    const header = buildFrame({ opcode: Opcode.Binary, length: 100000, mask: false });
    const h = new SessionHarness();
    h.feed(Buffer.from(header.subarray(0, 1)));
    assertOpen(h);
    h.feed(Buffer.from(header.subarray(1, 2)));
    assertFailed(h, 1002);
    assert.equal(h.writes[0].at, 2);
  });

  it('masked frames with every kind of key (including 00000000) unmask correctly', () => {
    for (const key of [
      [0, 0, 0, 0],
      [0xff, 0xff, 0xff, 0xff],
      [1, 2, 3, 4],
      [0x80, 0, 0x80, 0],
    ]) {
      const payload = 'The quick brown fox jumps over the lazy dog, twice: ' + 'é'.repeat(40);
      eachMode(buildFrame({ opcode: Opcode.Text, payload, mask: Buffer.from(key) }), {}, (h) => {
        assertOpen(h);
        assert.equal(h.messages()[0].data.toString(), payload);
      });
    }
  });
});

describe('RFC 6455 §5.3 masking — the client refuses masked server frames', () => {
  for (const [name, frame] of [
    ['text', c.text('Hello')],
    ['binary', c.binary(Buffer.from([1, 2, 3]))],
    ['ping', c.ping('x')],
    ['pong', c.pong('')],
    ['close', c.close(1000)],
  ] as const)
    it(`a masked ${name} frame from the server → 1002 (the client's Close is itself masked)`, () => {
      eachMode(frame, { role: 'client' }, (h) => {
        assertFailed(h, 1002);
        assert.equal(h.frames()[0].masked, true);
      });
    });

  it('unmasked server frames are accepted by the client', () => {
    const input = Buffer.concat([s.text('hi'), s.binary(Buffer.from([9, 8, 7])), s.ping('p')]);
    eachMode(input, { role: 'client' }, (h) => {
      assertOpen(h);
      assert.deepEqual(h.eventTypes(), ['message', 'message', 'ping']);
      const [pong] = h.frames();
      assert.equal(pong.opcode, Opcode.Pong);
      assert.equal(pong.masked, true);
      assert.equal(pong.payload.toString(), 'p');
    });
  });
});
