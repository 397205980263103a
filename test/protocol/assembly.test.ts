/**
 * How the parser assembles a message that arrives in several reads: one buffer allocated from the frame
 * header, each piece copied and unmasked into it in one pass (the received chunks are read, never
 * written), through the injected copy-and-unmask when one is registered, else the JS fallback.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameParser, Opcode, type ParserSink } from '../../src/protocol/index.js';
import { setNativeMaskCopy } from '../../src/protocol/frame.js';
import { buildFrame, fragmentedMessage, Prng } from '../helpers/protocol-harness.js';

interface Received {
  messages: { data: Buffer; isBinary: boolean }[];
  errors: string[];
}

function parser(maxMessageSize = 16 * 1024 * 1024): { parser: FrameParser; got: Received } {
  const got: Received = { messages: [], errors: [] };
  const sink: ParserSink = {
    onMessage: (data, isBinary) => got.messages.push({ data, isBinary }),
    onPing: () => undefined,
    onPong: () => undefined,
    onCloseFrame: () => undefined,
    onError: (error) => got.errors.push(`${error.closeCode}: ${error.message}`),
  };
  return { parser: new FrameParser({ role: 'server', maxMessageSize }, sink), got };
}

/** Splits `wire` into reads of `size` bytes, each its own copy (as sockets deliver them). */
function reads(wire: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < wire.length; at += size) out.push(Buffer.from(wire.subarray(at, at + size)));
  return out;
}

afterEach(() => setNativeMaskCopy(undefined));

describe('assembling a message from several reads', () => {
  for (const [name, chunk] of [
    ['64 KiB reads', 65536],
    ['odd 4099-byte reads', 4099],
  ] as const) {
    it(`${name}: the reads are left as received (copy-and-unmask, no in-place pass then join)`, () => {
      const payload = new Prng(3).bytes(1024 * 1024 + 5);
      const pieces = reads(buildFrame({ opcode: Opcode.Binary, payload }), chunk);
      const before = pieces.map((piece) => Buffer.from(piece));
      const { parser: p, got } = parser();
      for (const piece of pieces) p.push(piece);
      assert.deepEqual(got.errors, []);
      assert.equal(got.messages.length, 1);
      assert.ok(got.messages[0].data.equals(payload));
      pieces.forEach((piece, i) => assert.ok(piece.equals(before[i]), `read ${i} was written to`));
    });
  }

  it('the injected copy-and-unmask does the work, one call per piece, with the right key rotation', () => {
    let calls = 0;
    setNativeMaskCopy((source, key, output, offset, length) => {
      calls++;
      for (let i = 0; i < length; i++) output[offset + i] = source[i] ^ key[i & 3];
    });
    const payload = new Prng(5).bytes(300_001);
    const { parser: p, got } = parser();
    // 4099-byte reads put later pieces at every key offset.
    const pieces = reads(buildFrame({ opcode: Opcode.Binary, payload }), 4099);
    for (const piece of pieces) p.push(piece);
    assert.deepEqual(got.errors, []);
    assert.ok(got.messages[0].data.equals(payload));
    assert.ok(calls >= pieces.length - 1, `${calls} calls for ${pieces.length} reads`);
  });

  it('a fragmented message grows within the limit and never holds more than the limit', () => {
    const limit = 100_000;
    const payload = new Prng(9).bytes(limit);
    const { parser: p, got } = parser(limit);
    const pieces = reads(fragmentedMessage(Opcode.Binary, payload, 30_000), 7_000);
    const before = Buffer.concat(pieces);
    for (const piece of pieces) p.push(piece);
    assert.deepEqual(got.errors, []);
    assert.ok(Buffer.concat(pieces).equals(before), 'the reads were written to');
    const data = got.messages[0].data;
    assert.ok(data.equals(payload));
    assert.ok(data.buffer.byteLength <= limit, `holds ${data.buffer.byteLength} bytes`);
  });

  it('a text message split inside characters across reads is checked as it arrives', () => {
    const text = Buffer.from('aé€😀'.repeat(20_000));
    const { parser: p, got } = parser();
    const textReads = reads(buildFrame({ opcode: Opcode.Text, payload: text }), 4097);
    const before = Buffer.concat(textReads);
    for (const piece of textReads) p.push(piece);
    assert.deepEqual(got.errors, []);
    assert.ok(Buffer.concat(textReads).equals(before), 'checked the unmasked copy, not the reads');
    assert.ok(got.messages[0].data.equals(text));

    const bad = Buffer.from(text);
    bad[10] = 0xff;
    const second = parser();
    const pieces = reads(buildFrame({ opcode: Opcode.Text, payload: bad }), 4097);
    second.parser.push(pieces[0]);
    assert.equal(second.got.errors.length, 1, 'fails on the first read, before the rest arrives');
    assert.match(second.got.errors[0], /^1007/);
  });
});
