/** Self-tests of the protocol harness: if the frame builder, decoder or splitters lie, every other test lies. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, Opcode } from '../../src/protocol/index.js';
import {
  buildFrame,
  byteByByte,
  chops,
  decodeFrames,
  edgesBytewise,
  feedModes,
  Prng,
  randomSplits,
  whole,
} from '../helpers/protocol-harness.js';

describe('harness: Prng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const seqA = Array.from({ length: 20 }, () => a.next());
    const seqB = Array.from({ length: 20 }, () => b.next());
    const seqC = Array.from({ length: 20 }, () => c.next());
    assert.deepEqual(seqA, seqB);
    assert.notDeepEqual(seqA, seqC);
    for (const x of seqA) assert.ok(x >= 0 && x < 1);
  });

  it('int() stays in range and reaches both ends', () => {
    const rng = new Prng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const v = rng.int(3, 9);
      assert.ok(v >= 3 && v <= 9);
      seen.add(v);
    }
    assert.equal(seen.size, 7);
  });
});

describe('harness: frame builder and decoder', () => {
  it('round-trips every opcode, FIN/RSV combination and length encoding, masked and not', () => {
    const rng = new Prng(9);
    for (const opcode of [0, 1, 2, 3, 7, 8, 9, 10, 11, 15])
      for (let bits = 0; bits < 16; bits++)
        for (const length of [0, 1, 125, 126, 127, 65535, 65536])
          for (const mask of [true, false]) {
            const payload = rng.bytes(length);
            const spec = {
              opcode,
              payload,
              fin: (bits & 8) !== 0,
              rsv1: (bits & 4) !== 0,
              rsv2: (bits & 2) !== 0,
              rsv3: (bits & 1) !== 0,
              mask,
            };
            const frames = decodeFrames(buildFrame(spec));
            assert.equal(frames.length, 1);
            const f = frames[0];
            assert.equal(f.opcode, opcode);
            assert.equal(f.fin, spec.fin);
            assert.equal(f.rsv1, spec.rsv1);
            assert.equal(f.rsv2, spec.rsv2);
            assert.equal(f.rsv3, spec.rsv3);
            assert.equal(f.masked, mask);
            assert.equal(f.lengthEncoding, length < 126 ? 7 : length < 65536 ? 16 : 64);
            assert.ok(f.payload.equals(payload));
          }
  });

  it('masks the payload on the wire with the given key and leaves the source untouched', () => {
    const payload = Buffer.from('Hello');
    const frame = buildFrame({ opcode: Opcode.Text, payload, mask: Buffer.from([0x37, 0xfa, 0x21, 0x3d]) });
    // RFC 6455 §5.7: a single-frame masked text message "Hello".
    assert.deepEqual([...frame], [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    assert.equal(payload.toString(), 'Hello');
  });

  it('forces 16- and 64-bit length fields, and can announce a length it does not carry', () => {
    const f16 = buildFrame({ opcode: Opcode.Binary, payload: 'ab', lengthEncoding: 16, mask: false });
    assert.deepEqual([...f16], [0x82, 126, 0, 2, 0x61, 0x62]);
    const f64 = buildFrame({ opcode: Opcode.Binary, payload: 'ab', lengthEncoding: 64, mask: false });
    assert.deepEqual([...f64], [0x82, 127, 0, 0, 0, 0, 0, 0, 0, 2, 0x61, 0x62]);
    const lying = buildFrame({ opcode: Opcode.Binary, length: 2n ** 63n, mask: false });
    assert.deepEqual([...lying], [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(
      () => decodeFrames(buildFrame({ opcode: Opcode.Text, length: 10, mask: false })),
      /truncated/,
    );
  });

  it('agrees with the library encoder on unmasked frames', () => {
    for (const length of [0, 5, 125, 126, 65535, 65536, 70000]) {
      const payload = new Prng(length).bytes(length);
      assert.ok(
        buildFrame({ opcode: Opcode.Binary, payload, mask: false }).equals(
          encodeFrame(Opcode.Binary, payload),
        ),
      );
    }
  });

  it('decodes several frames in a row and rejects a cut one', () => {
    const bytes = Buffer.concat([
      buildFrame({ opcode: Opcode.Text, payload: 'one', mask: false }),
      buildFrame({ opcode: Opcode.Ping, payload: 'two', mask: true }),
    ]);
    const frames = decodeFrames(bytes);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.payload.toString()]),
      [
        [Opcode.Text, 'one'],
        [Opcode.Ping, 'two'],
      ],
    );
    for (let cut = 1; cut < bytes.length; cut++)
      if (cut !== 5) assert.throws(() => decodeFrames(bytes.subarray(0, cut)), /truncated/, `cut at ${cut}`);
  });
});

describe('harness: feeding modes', () => {
  it('every mode covers the input exactly, in order, with non-empty pieces', () => {
    const input = new Prng(3).bytes(5000);
    const modes = [
      whole,
      byteByByte,
      chops(997),
      edgesBytewise(100, 333),
      ...feedModes(input.length),
      randomSplits(8, 10),
    ];
    for (const mode of modes) {
      const pieces = mode.split(input);
      for (const piece of pieces) assert.ok(piece.length > 0, mode.name);
      assert.ok(Buffer.concat(pieces).equals(input), mode.name);
    }
    assert.equal(byteByByte.split(input).length, 5000);
    assert.equal(whole.split(input).length, 1);
  });

  it('random splits are reproducible per seed, differ across seeds, and cut small and large', () => {
    const input = Buffer.alloc(3000);
    const sizes = (seed: number) =>
      randomSplits(seed)
        .split(input)
        .map((p) => p.length);
    assert.deepEqual(sizes(1), sizes(1));
    assert.notDeepEqual(sizes(1), sizes(2));
    const all = [1, 2, 3, 4, 5].flatMap(sizes);
    assert.ok(all.some((n) => n <= 3));
    assert.ok(all.some((n) => n > 40));
  });

  it('large inputs are not fed byte by byte but still get tiny pieces at both ends', () => {
    const names = feedModes(5 * 1024 * 1024).map((m) => m.name);
    assert.ok(!names.includes('byte-by-byte'));
    const pieces = edgesBytewise(4096, 997).split(Buffer.alloc(20000));
    assert.ok(pieces[0].length <= 3 && pieces.at(-1)!.length <= 3);
  });
});
