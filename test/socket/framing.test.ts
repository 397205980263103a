/**
 * The stream framers (src/framing/): each input fed whole, byte by byte, and split in two at every byte
 * boundary (and in three around every boundary pair for short inputs) must give the same messages.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkFramer, incompleteUtf8Tail } from '../../src/framing/auto.js';
import { FramingConfigError, FramingError, type Framer } from '../../src/framing/framer.js';
import { JsonFramer } from '../../src/framing/json.js';
import { parseLengthPrefixConfig } from '../../src/framing/length-prefix.js';
import { framingSpec } from '../../src/framing/registry.js';
import { parseEscapes } from '../../src/framing/separator.js';

type Msg = [string, 'text' | 'binary'];

function run(framer: Framer, pieces: Buffer[]): Msg[] {
  const out: Msg[] = [];
  const emit = (data: Buffer, binary: boolean): void => {
    out.push([Buffer.from(data).toString('latin1'), binary ? 'binary' : 'text']);
  };
  for (const piece of pieces) framer.push(piece, emit);
  framer.end(emit);
  return out;
}

/** Every way of feeding `input` we check: whole, byte by byte, in two at each boundary, in three. */
function splits(input: Buffer): Buffer[][] {
  const ways: Buffer[][] = [[input], [...input].map((b) => Buffer.from([b]))];
  for (let i = 1; i < input.length; i++) ways.push([input.subarray(0, i), input.subarray(i)]);
  if (input.length <= 48)
    for (let i = 1; i < input.length; i++)
      for (let j = i + 1; j < input.length; j++)
        ways.push([input.subarray(0, i), input.subarray(i, j), input.subarray(j)]);
  return ways;
}

const latin = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

function checkAllSplits(make: () => Framer, input: Buffer | string, expected: Msg[]): void {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const want = expected.map(([text, type]): Msg => [latin(text), type]);
  for (const pieces of splits(bytes)) {
    const got = run(make(), pieces);
    assert.deepEqual(got, want, `split at ${pieces.map((p) => p.length).join('+')}`);
  }
}

function throwsAllSplits(make: () => Framer, input: Buffer | string, kind: 'too-large' | 'invalid'): void {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  for (const pieces of splits(bytes)) {
    assert.throws(
      () => run(make(), pieces),
      (error: unknown) => error instanceof FramingError && error.kind === kind,
      `split at ${pieces.map((p) => p.length).join('+')}`,
    );
  }
}

const spec = (name: string, config = '', max?: number) => framingSpec(name, config, max).create;

describe('separator framing', () => {
  it('parses websocksy escapes', () => {
    assert.deepEqual(
      [...parseEscapes('\\r\\t\\n\\0\\f\\\\\\x41\\xfF;')],
      [13, 9, 10, 0, 12, 92, 65, 255, 59],
    );
    assert.throws(() => parseEscapes('\\q'), FramingConfigError);
    assert.throws(() => parseEscapes('\\x4'), FramingConfigError);
    assert.throws(() => parseEscapes('ab\\'), FramingConfigError);
    assert.throws(() => framingSpec('separator', ''), /must give the separator/);
  });

  it('cuts after a one-byte separator, keeps it, sends binary', () => {
    checkAllSplits(spec('separator', ';'), 'a;bc;;d', [
      ['a;', 'binary'],
      ['bc;', 'binary'],
      [';', 'binary'],
      ['d', 'binary'],
    ]);
  });

  it('finds a multi-byte separator split across reads, including overlapping prefixes', () => {
    checkAllSplits(spec('separator', '\\r\\n\\r\\n'), 'HEAD\r\n\r\n\r\r\n\r\nbody\r\n\r\nx', [
      ['HEAD\r\n\r\n', 'binary'],
      ['\r\r\n\r\n', 'binary'],
      ['body\r\n\r\n', 'binary'],
      ['x', 'binary'],
    ]);
    checkAllSplits(spec('separator', 'aab'), 'aaabaab', [
      ['aaab', 'binary'],
      ['aab', 'binary'],
    ]);
    for (const pieces of splits(Buffer.from([1, 0, 0, 255, 2, 0])))
      assert.deepEqual(run(spec('separator', '\\x00\\xff')(), pieces), [
        ['\x01\x00\x00\xff', 'binary'],
        ['\x02\x00', 'binary'],
      ]);
  });

  it('fails with too-large when no separator comes within the cap', () => {
    throwsAllSplits(spec('separator', ';', 8), 'ok;0123456789;', 'too-large');
    checkAllSplits(spec('separator', ';', 8), '1234567;', [['1234567;', 'binary']]);
  });
});

describe('newline framing', () => {
  it('crlf by default; text when UTF-8, binary otherwise; the newline kept', () => {
    checkAllSplits(spec('newline'), 'héllo\r\nw\norld\r\n\r\nend', [
      ['héllo\r\n', 'text'],
      ['w\norld\r\n', 'text'],
      ['\r\n', 'text'],
      ['end', 'text'],
    ]);
    const bad = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('\r\nok\r\n')]);
    for (const pieces of splits(bad)) {
      const got = run(spec('newline')(), pieces);
      assert.deepEqual(got, [
        ['\xff\xfe\r\n', 'binary'],
        ['ok\r\n', 'text'],
      ]);
    }
  });

  it('lf, cr and lfcr', () => {
    checkAllSplits(spec('newline', 'lf'), 'a\nb\r\n', [
      ['a\n', 'text'],
      ['b\r\n', 'text'],
    ]);
    checkAllSplits(spec('newline', 'cr'), 'a\rb\n', [
      ['a\r', 'text'],
      ['b\n', 'text'],
    ]);
    checkAllSplits(spec('newline', 'LFCR'), 'a\n\rb\r\n', [
      ['a\n\r', 'text'],
      ['b\r\n', 'text'],
    ]);
    assert.throws(() => framingSpec('newline', 'crcr'), /unknown newline/);
  });

  it('a line over the cap fails', () => {
    throwsAllSplits(spec('newline', 'lf', 4), 'abc\nabcde\n', 'too-large');
  });
});

describe('fixedlength framing', () => {
  it('cuts N-byte binary messages; a short tail goes out at the end', () => {
    checkAllSplits(spec('fixedlength', '3'), 'abcdefgh', [
      ['abc', 'binary'],
      ['def', 'binary'],
      ['gh', 'binary'],
    ]);
    checkAllSplits(spec('fixedlength', '1'), 'xyz', [
      ['x', 'binary'],
      ['y', 'binary'],
      ['z', 'binary'],
    ]);
  });
  it('refuses a bad length or one over the cap', () => {
    assert.throws(() => framingSpec('fixedlength', ''), FramingConfigError);
    assert.throws(() => framingSpec('fixedlength', '0'), FramingConfigError);
    assert.throws(() => framingSpec('fixedlength', '-3'), FramingConfigError);
    assert.throws(() => framingSpec('fixedlength', '100', 10), /over the message cap/);
  });
});

describe('dynamic32 framing', () => {
  const record = (
    length: number,
    payload: string,
    opts: { offset?: Buffer; big?: boolean; extra?: string } = {},
  ): Buffer => {
    const len = Buffer.alloc(4);
    if (opts.big) len.writeUInt32BE(length);
    else len.writeUInt32LE(length);
    return Buffer.concat([
      opts.offset ?? Buffer.alloc(0),
      len,
      Buffer.from(opts.extra ?? ''),
      Buffer.from(payload),
    ]);
  };

  it('parses its config with websocksy defaults', () => {
    assert.deepEqual(parseLengthPrefixConfig(''), { offset: 0, static: 0, endian: 'little' });
    assert.deepEqual(parseLengthPrefixConfig('offset=2, static=-4,endian=BIG'), {
      offset: 2,
      static: -4,
      endian: 'big',
    });
    assert.throws(() => parseLengthPrefixConfig('offset=x'), FramingConfigError);
    assert.throws(() => parseLengthPrefixConfig('endian=middle'), FramingConfigError);
    assert.throws(() => parseLengthPrefixConfig('width=2'), FramingConfigError);
  });

  it('little endian, no offset: whole records, header included', () => {
    const input = Buffer.concat([record(3, 'abc'), record(0, ''), record(5, 'hello')]);
    checkAllSplits(spec('dynamic32'), input, [
      [Buffer.concat([record(3, 'abc')]).toString('utf8'), 'binary'],
      [record(0, '').toString('utf8'), 'binary'],
      [record(5, 'hello').toString('utf8'), 'binary'],
    ]);
  });

  it('big endian with an offset and static extra bytes', () => {
    const a = record(2, 'hi', { offset: Buffer.from('T1'), big: true, extra: 'XY' });
    const b = record(1, '!', { offset: Buffer.from('T2'), big: true, extra: 'ZZ' });
    checkAllSplits(spec('dynamic32', 'offset=2,static=2,endian=big'), Buffer.concat([a, b]), [
      [a.toString('utf8'), 'binary'],
      [b.toString('utf8'), 'binary'],
    ]);
  });

  it('a negative static (length counting the header)', () => {
    const a = record(7, 'abc'); // 4 + 3
    checkAllSplits(spec('dynamic32', 'static=-4'), Buffer.concat([a, a]), [
      [a.toString('utf8'), 'binary'],
      [a.toString('utf8'), 'binary'],
    ]);
    throwsAllSplits(spec('dynamic32', 'static=-4'), record(2, ''), 'invalid');
  });

  it('a record over the cap fails as soon as its header is read', () => {
    throwsAllSplits(spec('dynamic32', '', 64), record(100, 'x'), 'too-large');
  });
});

describe('json framing', () => {
  it('cuts after each complete value; whitespace between values is not sent', () => {
    const input = ' {"a":[1,2,{"b":"}]\\"{"}],"c":null}\n[ ]"str\\\\"  -12.5e3 true false\tnull{}';
    checkAllSplits(spec('json'), input, [
      ['{"a":[1,2,{"b":"}]\\"{"}],"c":null}', 'text'],
      ['[ ]', 'text'],
      ['"str\\\\"', 'text'],
      ['-12.5e3', 'text'],
      ['true', 'text'],
      ['false', 'text'],
      ['null', 'text'],
      ['{}', 'text'],
    ]);
  });

  it('values back to back, and UTF-8 inside strings', () => {
    checkAllSplits(spec('json'), '{"k":"é€😀"}[1]"x"0', [
      ['{"k":"é€😀"}', 'text'],
      ['[1]', 'text'],
      ['"x"', 'text'],
      ['0', 'text'],
    ]);
  });

  it('garbage and mismatched brackets go out as binary, and the stream resynchronises', () => {
    checkAllSplits(spec('json'), 'xyz {"a":1] tru {"ok":1} 01', [
      ['xyz', 'binary'],
      ['{"a":1]', 'binary'],
      ['tru', 'binary'],
      ['{"ok":1}', 'text'],
      ['01', 'binary'],
    ]);
  });

  it('an unfinished value at the end goes out as binary', () => {
    checkAllSplits(spec('json'), '[1,2] {"a":', [
      ['[1,2]', 'text'],
      ['{"a":', 'binary'],
    ]);
  });

  it('a value over the cap fails', () => {
    throwsAllSplits(() => new JsonFramer(16), '[1] ["0123456789abcdef"]', 'too-large');
    checkAllSplits(() => new JsonFramer(16), '["0123456789ab"]', [['["0123456789ab"]', 'text']]);
  });
});

describe('auto and binary framing', () => {
  it('incompleteUtf8Tail', () => {
    assert.equal(incompleteUtf8Tail(Buffer.from('abc')), 0);
    assert.equal(incompleteUtf8Tail(Buffer.from('€').subarray(0, 2)), 2);
    assert.equal(incompleteUtf8Tail(Buffer.from('😀').subarray(0, 3)), 3);
    assert.equal(incompleteUtf8Tail(Buffer.from('é')), 0);
  });

  it('auto: UTF-8 text stays text wherever the reads split it; bytes are kept in order', () => {
    const input = Buffer.from('aé€😀z', 'utf8');
    for (const pieces of splits(input)) {
      const got = run(new ChunkFramer('auto'), pieces);
      assert.ok(
        got.every(([, type]) => type === 'text'),
        `split ${pieces.map((p) => p.length)}`,
      );
      assert.equal(got.map(([t]) => t).join(''), input.toString('latin1'));
      for (const [t] of got) assert.ok(Buffer.from(t, 'latin1').length > 0);
    }
  });

  it('auto: invalid UTF-8 is binary; each read is a message', () => {
    const got = run(new ChunkFramer('auto'), [
      Buffer.from('ab'),
      Buffer.from([0xff, 0x41]),
      Buffer.from('c'),
    ]);
    assert.deepEqual(got, [
      ['ab', 'text'],
      ['\xffA', 'binary'],
      ['c', 'text'],
    ]);
    assert.deepEqual(run(new ChunkFramer('auto'), [Buffer.from([0xe2, 0x82])]), [['\xe2\x82', 'binary']]);
  });

  it('binary: each read one binary message, cut at the cap', () => {
    const input = Buffer.from('0123456789');
    for (const pieces of splits(input)) {
      const got = run(new ChunkFramer('binary', 4), pieces);
      assert.ok(got.every(([t, type]) => type === 'binary' && t.length <= 4 && t.length > 0));
      assert.equal(got.map(([t]) => t).join(''), '0123456789');
    }
  });

  it('auto cuts at the cap without splitting a character', () => {
    const got = run(new ChunkFramer('auto', 4), [Buffer.from('ab€cd')]);
    assert.deepEqual(
      got.map(([t, k]) => [Buffer.from(t, 'latin1').toString('utf8'), k]),
      [
        ['ab', 'text'],
        ['€c', 'text'],
        ['d', 'text'],
      ],
    );
  });
});

describe('framing registry', () => {
  it('knows websocksy names and refuses others', () => {
    for (const name of ['auto', 'binary', 'json', 'newline']) assert.equal(framingSpec(name).name, name);
    assert.equal(framingSpec('Separator', '\\n').name, 'separator');
    assert.throws(() => framingSpec('lines'), /unknown framing 'lines'/);
    assert.throws(() => framingSpec('json', 'x'), /takes no --framing-config/);
    assert.throws(() => framingSpec('toString'), /unknown framing/);
  });
  it('each create() is a fresh framer', () => {
    const s = framingSpec('separator', ';');
    const a = s.create();
    a.push(Buffer.from('abc'), () => undefined);
    assert.equal(a.buffered, 3);
    assert.equal(s.create().buffered, 0);
  });
});
