// The optional native unmask (bufferutil) must give exactly what the JS loop gives, for every key offset
// (payloads arriving in pieces are unmasked from the middle of the key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { applyMask, maskInto, setNativeMaskCopy, setNativeUnmask } from '../../src/protocol/frame.js';
import { nativeMaskLoaded } from '../../src/server/native-mask.js';

function naive(data: Uint8Array, key: Uint8Array, offset: number): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i] ^= key[(i + offset) & 3];
  return out;
}

test('native unmask (bufferutil) matches the byte loop for all offsets and odd lengths', (t) => {
  if (!nativeMaskLoaded) {
    if (process.env.WSBRIDGE_REQUIRE_PEERS === '1')
      assert.fail('bufferutil is not installed (npm ci installs it)');
    t.skip('bufferutil not installed: nothing native to compare');
    return;
  }
  const key = Uint8Array.from([0x12, 0xa4, 0x5f, 0xe1]);
  for (const length of [1024, 1025, 4099, 65536 + 3]) {
    for (let offset = 0; offset < 4; offset++) {
      const data = randomBytes(length + 3).subarray(3); // unaligned start
      const expected = naive(data, key, offset);
      applyMask(data, key, offset);
      assert.deepEqual(Buffer.from(data), expected, `length ${length} offset ${offset}`);
    }
  }
});

test('copy-and-unmask (native when loaded, then the JS fallback) matches the byte loop, source untouched', () => {
  const key = Uint8Array.from([0x9c, 0x01, 0x7e, 0x33]);
  for (const native of [nativeMaskLoaded, false]) {
    if (!native) setNativeMaskCopy(undefined);
    for (const length of [5, 1024, 1025, 65536 + 3]) {
      for (let offset = 0; offset < 4; offset++) {
        const source = randomBytes(length + 1).subarray(1);
        const copy = Buffer.from(source);
        const output = Buffer.alloc(length + 7, 0xee);
        maskInto(source, key, offset, output, 7);
        assert.deepEqual(output.subarray(7), naive(source, key, offset), `length ${length} offset ${offset}`);
        assert.deepEqual(output.subarray(0, 7), Buffer.alloc(7, 0xee), 'wrote before the offset');
        assert.deepEqual(Buffer.from(source), copy, 'source changed');
      }
    }
  }
});

test('without the native unmask the JS loop gives the same bytes', () => {
  setNativeUnmask(undefined);
  const key = Uint8Array.from([1, 2, 3, 250]);
  const data = randomBytes(70001);
  const expected = naive(data, key, 2);
  applyMask(data, key, 2);
  assert.deepEqual(Buffer.from(data), expected);
});
