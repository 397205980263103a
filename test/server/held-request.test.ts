/** A connection's request: headers parsed again from the head's text on first use, equal to the first parse. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestHead } from '../../src/protocol/http-head.js';
import { HeldRequest } from '../../src/server/held-request.js';

const HEAD = Buffer.from(
  'GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Protocol: a\r\nsec-websocket-protocol: b\r\nX-Empty:\r\nCookie: k=v; w=x\r\n\r\n',
  'latin1',
);

test('headers from the text equal the handshake parse (lower-case names, repeats joined), cached', () => {
  const parsed = parseRequestHead(HEAD);
  const held = new HeldRequest('/chat?room=1', '/chat', 'room=1', '10.0.0.1', 4321, parsed.text);
  assert.deepEqual({ ...held.headers }, { ...parsed.headers });
  assert.equal(held.headers['sec-websocket-protocol'], 'a, b');
  assert.equal(held.headers['x-empty'], '');
  assert.equal(held.headers, held.headers, 'parsed once, then the same object');
  assert.deepEqual(
    [held.url, held.path, held.query, held.remoteAddress, held.remotePort],
    ['/chat?room=1', '/chat', 'room=1', '10.0.0.1', 4321],
  );
});

test("headers given already parsed (node:http's) are kept as they are", () => {
  const headers = { host: 'h', 'set-cookie': ['a', 'b'] };
  const held = new HeldRequest('/', '/', '', '', 0, headers);
  assert.equal(held.headers, headers);
});
