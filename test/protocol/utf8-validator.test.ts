/**
 * `Utf8Validator` (streaming) and `isValidUtf8`, checked against `buffer.isUtf8` and an RFC 3629 reference:
 * exhaustive short sequences, the Autobahn/Kuhn sequences, and a seeded property test on random and
 * adversarial byte strings fed at random split points. Also checks the fail-fast position.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { isValidUtf8, Utf8Validator } from '../../src/protocol/index.js';
import { autobahnUtf8Cases, Prng, utf8Reference } from '../helpers/protocol-harness.js';

/**
 * Feeds `bytes` to a fresh validator in pieces ending at `cuts` (exclusive ends, ascending, last = length).
 * Returns the overall verdict and the index of the piece whose write() returned false (-1: none).
 */
function validate(bytes: Uint8Array, cuts: number[]): { valid: boolean; failedPiece: number } {
  const v = new Utf8Validator();
  let start = 0;
  for (let p = 0; p < cuts.length; p++) {
    if (!v.write(bytes.subarray(start, cuts[p]))) return { valid: false, failedPiece: p };
    start = cuts[p];
  }
  return { valid: v.complete, failedPiece: -1 };
}

function randomCuts(length: number, rng: Prng): number[] {
  const cuts: number[] = [];
  let at = 0;
  const max = rng.pick([1, 2, 3, 5, 8, 40, length || 1]);
  while (at < length) {
    at = Math.min(length, at + rng.int(1, max));
    cuts.push(at);
  }
  if (cuts.length === 0) cuts.push(0);
  return cuts;
}

function bytewiseCuts(length: number): number[] {
  return length === 0 ? [0] : Array.from({ length }, (_, i) => i + 1);
}

/**
 * Checks one byte string in several splits: the verdict must equal `buffer.isUtf8`, and a failing write()
 * must be the one carrying the first byte that no valid UTF-8 string can have there.
 */
function check(bytes: Uint8Array, rng: Prng, label: string): void {
  const expected = isUtf8(bytes);
  const ref = utf8Reference(bytes);
  assert.equal(
    ref.firstInvalid === -1 && ref.complete,
    expected,
    `reference disagrees with isUtf8: ${label}`,
  );
  assert.equal(isValidUtf8(bytes), expected, `isValidUtf8: ${label}`);
  const splits = [
    [bytes.length],
    bytewiseCuts(bytes.length),
    randomCuts(bytes.length, rng),
    randomCuts(bytes.length, rng),
  ];
  for (const cuts of splits) {
    const result = validate(bytes, cuts);
    if (result.valid !== expected)
      assert.fail(
        `${label}: ${Buffer.from(bytes).toString('hex')} cut at [${cuts.join(',')}]: got ${result.valid}`,
      );
    if (ref.firstInvalid !== -1) {
      // Fail fast: the write() that fails is the one containing the first impossible byte.
      const piece = cuts.findIndex((end) => end > ref.firstInvalid);
      if (result.failedPiece !== piece)
        assert.fail(
          `${label}: ${Buffer.from(bytes).toString('hex')} cut at [${cuts.join(',')}]: failed in piece ` +
            `${result.failedPiece}, first invalid byte ${ref.firstInvalid} is in piece ${piece}`,
        );
    } else assert.equal(result.failedPiece, -1, `${label}: no write() fails on a valid prefix`);
  }
}

describe('Utf8Validator — exhaustive short sequences', () => {
  it('every 1- and 2-byte string, whole and split 1+1', () => {
    const rng = new Prng(1);
    for (let a = 0; a < 256; a++) check(Uint8Array.of(a), rng, 'single');
    const pair = new Uint8Array(2);
    for (let a = 0; a < 256; a++)
      for (let b = 0; b < 256; b++) {
        pair[0] = a;
        pair[1] = b;
        const expected = isUtf8(pair);
        assert.equal(validate(pair, [2]).valid, expected);
        assert.equal(validate(pair, [1, 2]).valid, expected);
      }
  });

  it('every lead byte ≥ 0xC0 followed by boundary bytes, in 3- and 4-byte strings, all splits', () => {
    const rng = new Prng(2);
    const edges = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf0, 0xff];
    for (let lead = 0xc0; lead <= 0xff; lead++)
      for (const b1 of edges) for (const b2 of edges) check(Uint8Array.of(lead, b1, b2), rng, 'triple');
    for (let lead = 0xf0; lead <= 0xf4; lead++)
      for (let b1 = 0; b1 < 256; b1++)
        for (const b2 of [0x80, 0xbf, 0x41])
          for (const b3 of [0x80, 0xbf, 0x41]) check(Uint8Array.of(lead, b1, b2, b3), rng, 'quad');
  });

  it('every code point boundary class (U+0000, U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF)', () => {
    const rng = new Prng(3);
    for (const cp of [
      0, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xfffe, 0xffff, 0x10000, 0x10ffff,
    ]) {
      const bytes = Buffer.from(`x${String.fromCodePoint(cp)}y`);
      assert.ok(isUtf8(bytes));
      check(bytes, rng, `U+${cp.toString(16)}`);
    }
  });
});

describe('Utf8Validator — Autobahn 6.x sequences', () => {
  it('gives the expected verdict for every sequence, fed whole, byte-wise and at random splits', () => {
    const rng = new Prng(4);
    for (const { bytes, valid, group } of autobahnUtf8Cases()) {
      check(bytes, rng, group);
      assert.equal(validate(bytes, [bytes.length]).valid, valid, group);
    }
  });

  it('Autobahn incremental checks: fails on the byte that makes the prefix impossible', () => {
    let v = new Utf8Validator();
    assert.equal(v.write(Buffer.from('µ@ßöäüàá')), true);
    assert.equal(v.complete, true);
    v = new Utf8Validator();
    assert.equal(v.write(Buffer.from([0xf5])), false);
    v = new Utf8Validator();
    assert.equal(v.write(Buffer.from('edited')), true);
    assert.equal(v.write(Buffer.from([0xed, 0xa0, 0x80])), false);
    v = new Utf8Validator();
    assert.equal(v.write(Buffer.from([0x65, 0x64, 0x69, 0x74, 0x65, 0x64, 0xed])), true);
    assert.equal(v.complete, false);
    assert.equal(v.write(Buffer.from([0xa0, 0x80])), false);
  });

  it('reset() forgets an open sequence', () => {
    const v = new Utf8Validator();
    assert.equal(v.write(Buffer.from([0xe2, 0x82])), true);
    assert.equal(v.complete, false);
    v.reset();
    assert.equal(v.complete, true);
    assert.equal(v.write(Buffer.from([0x41])), true);
    assert.equal(v.complete, true);
    assert.equal(v.write(Buffer.from([0xf0])), true);
    v.reset();
    assert.equal(v.write(Buffer.from([0x80])), false, 'a continuation after reset is a lone continuation');
  });

  it('empty writes change nothing', () => {
    const v = new Utf8Validator();
    assert.equal(v.write(Buffer.alloc(0)), true);
    assert.equal(v.write(Buffer.from([0xf0, 0x9f])), true);
    assert.equal(v.write(Buffer.alloc(0)), true);
    assert.equal(v.complete, false);
    assert.equal(v.write(Buffer.from([0x98, 0x80])), true);
    assert.equal(v.complete, true);
  });
});

describe('Utf8Validator — property test (seeded)', () => {
  const ADVERSARIAL = [
    'c0',
    'c1',
    'c2',
    'df',
    'e0',
    'ed',
    'ef',
    'f0',
    'f4',
    'f5',
    'f8',
    'fe',
    'ff',
    '80',
    'bf',
    'eda080',
    'edbfbf',
    'f4908080',
    'e080af',
    'c0af',
    'f08fbfbf',
    'e09fbf',
    'f7bfbfbf',
    'f0908080',
    'f48fbfbf',
    'efbfbf',
    'e282ac',
    'c2a2',
    'f0a4ada2',
    'ed9fbf',
    'ee8080',
  ].map((hex) => Buffer.from(hex, 'hex'));

  function randomString(rng: Prng): Buffer {
    const kind = rng.int(0, 5);
    const length = rng.pick([0, 1, 2, 3, 4, 5, 7, 16, 31, 33, 64, 100, 300, 1500]);
    if (kind === 0) return rng.bytes(length); // uniformly random: almost always invalid
    // Valid text from random code points of every width, skipping surrogates.
    const parts: Buffer[] = [];
    let size = 0;
    while (size < length) {
      const width = rng.int(1, 4);
      let cp = [rng.int(0, 0x7f), rng.int(0x80, 0x7ff), rng.int(0x800, 0xffff), rng.int(0x10000, 0x10ffff)][
        width - 1
      ];
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
      const bytes = Buffer.from(String.fromCodePoint(cp));
      parts.push(bytes);
      size += bytes.length;
    }
    const text = Buffer.concat(parts);
    if (kind === 1) return text; // valid
    const out = Buffer.from(text);
    if (kind === 2 && out.length > 0) {
      // Flip one byte to a random value.
      out[rng.int(0, out.length - 1)] = rng.int(0, 255);
      return out;
    }
    if (kind === 3 && out.length > 0) return out.subarray(0, rng.int(0, out.length - 1)); // truncate
    // Insert adversarial pieces at random places.
    const pieces = [out];
    for (let n = rng.int(1, 3); n > 0; n--) {
      const at = rng.int(0, pieces[0].length);
      const whole = pieces[0];
      pieces[0] = Buffer.concat([whole.subarray(0, at), rng.pick(ADVERSARIAL), whole.subarray(at)]);
    }
    return pieces[0];
  }

  for (const seed of [11, 22, 33, 44, 55]) {
    it(`seed ${seed}: 1500 random/adversarial strings agree with buffer.isUtf8 under random splits`, () => {
      const rng = new Prng(seed);
      let valid = 0;
      let invalid = 0;
      for (let i = 0; i < 1500; i++) {
        const bytes = randomString(rng);
        check(bytes, rng, `seed ${seed} #${i}`);
        if (isUtf8(bytes)) valid++;
        else invalid++;
      }
      // The generator must exercise both outcomes in earnest.
      assert.ok(valid > 200 && invalid > 200, `valid ${valid}, invalid ${invalid}`);
    });
  }

  it('pieces taken at unaligned offsets of a larger buffer validate the same', () => {
    const rng = new Prng(66);
    for (let i = 0; i < 200; i++) {
      const text = Buffer.from('żółw🐢'.repeat(rng.int(1, 40)));
      const backing = Buffer.alloc(text.length + 8, 0xff);
      const offset = rng.int(0, 7);
      text.copy(backing, offset);
      const view = backing.subarray(offset, offset + text.length);
      assert.equal(validate(view, randomCuts(view.length, rng)).valid, true);
    }
  });
});
