/** The minimal HTTP/1.1 head parser used by the opening handshake (RFC 6455 §4.1, §4.2.1; RFC 7230 §3). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorResponse,
  findHeadEnd,
  HandshakeError,
  hasToken,
  headerList,
  isToken,
  parseRequestHead,
  parseResponseHead,
} from '../../src/protocol/index.js';
import { Prng } from '../helpers/protocol-harness.js';

const RFC_REQUEST =
  'GET /chat HTTP/1.1\r\n' +
  'Host: server.example.com\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Origin: http://example.com\r\n' +
  'Sec-WebSocket-Protocol: chat, superchat\r\n' +
  'Sec-WebSocket-Version: 13\r\n' +
  '\r\n';

function expectStatus(fn: () => unknown, status: number): void {
  assert.throws(fn, (e: unknown) => e instanceof HandshakeError && e.status === status);
}

describe('parseRequestHead', () => {
  it('parses the RFC 6455 §1.2 example request; header names are lower-cased, values trimmed', () => {
    const head = parseRequestHead(Buffer.from(RFC_REQUEST, 'latin1'));
    assert.equal(head.method, 'GET');
    assert.equal(head.url, '/chat');
    assert.equal(head.httpVersion, '1.1');
    assert.deepEqual(
      { ...head.headers },
      {
        host: 'server.example.com',
        upgrade: 'websocket',
        connection: 'Upgrade',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        origin: 'http://example.com',
        'sec-websocket-protocol': 'chat, superchat',
        'sec-websocket-version': '13',
      },
    );
  });

  it('joins repeated headers with ", " and trims optional whitespace', () => {
    const head = parseRequestHead(
      Buffer.from(
        'GET / HTTP/1.1\r\nSec-WebSocket-Protocol: a\r\nsec-websocket-protocol:b  \r\nX:\t v \r\n\r\n',
      ),
    );
    assert.equal(head.headers['sec-websocket-protocol'], 'a, b');
    assert.equal(head.headers['x'], 'v');
  });

  it('keeps the request target (path and query) and the HTTP version as sent', () => {
    const head = parseRequestHead(Buffer.from('GET /a/b?x=1&y=%20 HTTP/1.0\r\nHost: h\r\n\r\n'));
    assert.equal(head.url, '/a/b?x=1&y=%20');
    assert.equal(head.httpVersion, '1.0');
  });

  it('malformed request lines → 400', () => {
    for (const line of [
      'GET /chat',
      'GET /chat HTTP/1.1 extra',
      'GET  /chat HTTP/1.1',
      'GET /chat HTTP/11',
      'GET /chat http/1.1',
      '/chat HTTP/1.1',
      'G@T /chat HTTP/1.1',
      '',
    ])
      expectStatus(() => parseRequestHead(Buffer.from(`${line}\r\nHost: h\r\n\r\n`)), 400);
  });

  it('malformed header lines → 400 (no colon, empty name, space before colon, obs-fold)', () => {
    for (const line of [
      'NoColon',
      ': value',
      'Bad Name: v',
      'Name : v',
      ' folded: v',
      '\tfolded',
      'Na(me: v',
    ])
      expectStatus(() => parseRequestHead(Buffer.from(`GET / HTTP/1.1\r\nHost: h\r\n${line}\r\n\r\n`)), 400);
  });

  it('a header named __proto__ is stored as data, not as the prototype', () => {
    const head = parseRequestHead(
      Buffer.from('GET / HTTP/1.1\r\n__proto__: polluted\r\nconstructor: x\r\n\r\n'),
    );
    assert.equal(head.headers['__proto__'], 'polluted');
    assert.equal(Object.getPrototypeOf(head.headers), null);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    assert.equal(head.headers['toString'], undefined);
  });

  it('header values are read as latin1 bytes (no UTF-8 decoding surprises)', () => {
    const bytes = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nX: '),
      Buffer.from([0xe9, 0xff]),
      Buffer.from('\r\n\r\n'),
    ]);
    assert.equal(parseRequestHead(bytes).headers['x'], '\u00e9\u00ff');
  });
});

describe('parseResponseHead', () => {
  it('parses the RFC 6455 §1.2 example response', () => {
    const head = parseResponseHead(
      Buffer.from(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n',
      ),
    );
    assert.equal(head.httpVersion, '1.1');
    assert.equal(head.status, 101);
    assert.equal(head.statusText, 'Switching Protocols');
    assert.equal(head.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.equal(head.headers['sec-websocket-protocol'], 'chat');
  });

  it('the reason phrase is optional', () => {
    const head = parseResponseHead(Buffer.from('HTTP/1.1 426\r\nSec-WebSocket-Version: 13\r\n\r\n'));
    assert.equal(head.status, 426);
    assert.equal(head.statusText, '');
    assert.equal(head.headers['sec-websocket-version'], '13');
  });

  it('a malformed status line or header → HandshakeError with status 0', () => {
    for (const text of [
      'HTTP/1.1 1010 Too long\r\n\r\n',
      'HTTP/1.1 10 Short\r\n\r\n',
      'HTTP/1.1\r\n\r\n',
      'ICY 200 OK\r\n\r\n',
      'SSH-2.0-OpenSSH_9.6\r\n\r\n',
      'HTTP/1.1 101 Switching Protocols\r\nno colon here\r\n\r\n',
      'HTTP/1.1 101 Switching Protocols\r\n folded: x\r\n\r\n',
    ])
      expectStatus(() => parseResponseHead(Buffer.from(text)), 0);
  });
});

describe('findHeadEnd', () => {
  it('returns the index just past the blank line, or -1', () => {
    const data = Buffer.from(RFC_REQUEST + 'FRAME BYTES');
    assert.equal(findHeadEnd(data), RFC_REQUEST.length);
    assert.equal(findHeadEnd(Buffer.from(RFC_REQUEST.slice(0, -1))), -1);
    assert.equal(findHeadEnd(Buffer.from('')), -1);
    assert.equal(findHeadEnd(Buffer.from('\r\n\r\n')), 4);
  });

  it('finds the end when searching incrementally, whatever the arrival split (from = previous length)', () => {
    const full = Buffer.from(RFC_REQUEST + '\x81\x85');
    for (let seed = 1; seed <= 30; seed++) {
      const rng = new Prng(seed);
      let received = Buffer.alloc(0);
      let found = -1;
      while (found === -1 && received.length < full.length) {
        const previous = received.length;
        received = full.subarray(0, Math.min(full.length, previous + rng.int(1, 7)));
        found = findHeadEnd(received, previous);
      }
      assert.equal(found, RFC_REQUEST.length, `seed ${seed}`);
    }
  });
});

describe('header helpers', () => {
  it('hasToken: comma-separated, trimmed, case-insensitive, whole-token match', () => {
    assert.equal(hasToken('keep-alive, Upgrade', 'upgrade'), true);
    assert.equal(hasToken('UPGRADE', 'upgrade'), true);
    assert.equal(hasToken('upgrade2', 'upgrade'), false);
    assert.equal(hasToken('', 'upgrade'), false);
    assert.equal(hasToken(undefined, 'upgrade'), false);
  });

  it('headerList: trimmed, non-empty elements', () => {
    assert.deepEqual(headerList(' a ,b,, c '), ['a', 'b', 'c']);
    assert.deepEqual(headerList(''), []);
    assert.deepEqual(headerList(undefined), []);
  });

  it('isToken: RFC 7230 tchar only', () => {
    for (const ok of ['chat', 'v2.json', "a!#$%&'*+-.^_`|~z", 'X9']) assert.equal(isToken(ok), true, ok);
    for (const bad of ['', 'a b', 'a,b', 'a/b', 'a;b', 'a=b', '"a"', 'é', 'a\tb', '{x}'])
      assert.equal(isToken(bad), false, bad);
  });

  it('errorResponse: a closing response with the right Content-Length (UTF-8 body) and extra headers', () => {
    const text = errorResponse(426, 'version 13 only — désolé', { 'Sec-WebSocket-Version': '13' });
    const end = findHeadEnd(Buffer.from(text));
    const head = parseResponseHead(Buffer.from(text).subarray(0, end));
    assert.equal(head.status, 426);
    assert.equal(head.statusText, 'Upgrade Required');
    assert.equal(head.headers['connection'], 'close');
    assert.equal(head.headers['sec-websocket-version'], '13');
    const body = Buffer.from(text).subarray(end);
    assert.equal(Number(head.headers['content-length']), body.length);
    assert.equal(body.toString(), 'version 13 only — désolé\n');
    const unknown = Buffer.from(errorResponse(599, 'x'));
    assert.equal(parseResponseHead(unknown.subarray(0, findHeadEnd(unknown))).statusText, 'Error');
  });
});
