/**
 * RFC 6455 §4 Opening handshake: the server's validation of a client request (§4.2.1) and its answer
 * (§4.2.2), the client's request (§4.1) and its check of the server's answer, the accept key.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptKey,
  checkUpgradeRequest,
  checkUpgradeResponse,
  clientRequest,
  HandshakeError,
  isWebSocketUpgrade,
  parseRequestHead,
  parseResponseHead,
  switchingProtocolsResponse,
  type HeaderMap,
  type ServerHandshakeOptions,
  type UpgradeRequest,
} from '../../src/protocol/index.js';

const SAMPLE_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const SAMPLE_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

function request(
  headers: Record<string, string | string[] | undefined> = {},
  extra: Partial<UpgradeRequest> = {},
): UpgradeRequest {
  return {
    method: 'GET',
    url: '/chat',
    httpVersion: '1.1',
    headers: {
      host: 'server.example.com',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': SAMPLE_KEY,
      'sec-websocket-version': '13',
      ...headers,
    },
    ...extra,
  };
}

function refusal(req: UpgradeRequest, options?: ServerHandshakeOptions): HandshakeError {
  try {
    checkUpgradeRequest(req, options);
  } catch (error) {
    assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${String(error)}`);
    return error;
  }
  assert.fail('the request was accepted');
}

describe('RFC 6455 §4.2.2 accept key', () => {
  it("the RFC's sample key dGhlIHNhbXBsZSBub25jZQ== gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", () => {
    assert.equal(acceptKey(SAMPLE_KEY), SAMPLE_ACCEPT);
  });

  it('is base64 of a SHA-1 (28 characters) and depends on the key', () => {
    const other = acceptKey('x3JJHMbDL1EzLkh9GBhXDw==');
    assert.equal(other, 'HSmrc0sMlYUkAGmm5OPpG2HaGWk='); // RFC 6455 §1.3 / §4.1 example pair
    assert.notEqual(other, SAMPLE_ACCEPT);
    assert.match(other, /^[A-Za-z0-9+/]{27}=$/);
  });
});

describe('RFC 6455 §4.2.1 server: validating the client request', () => {
  it('accepts the RFC example request and computes the accept key', () => {
    const accepted = checkUpgradeRequest(request({ origin: 'http://example.com' }));
    assert.equal(accepted.key, SAMPLE_KEY);
    assert.equal(accepted.accept, SAMPLE_ACCEPT);
    assert.equal(accepted.protocol, undefined);
    assert.deepEqual(accepted.offeredProtocols, []);
    assert.equal(accepted.extensions, '');
  });

  it('method must be GET → 400 otherwise', () => {
    for (const method of ['POST', 'get', 'HEAD', 'PUT', 'CONNECT'])
      assert.equal(refusal(request({}, { method })).status, 400);
  });

  it('HTTP/1.1 or later → 400 for HTTP/1.0', () => {
    assert.equal(refusal(request({}, { httpVersion: '1.0' })).status, 400);
    assert.equal(refusal(request({}, { httpVersion: '0.9' })).status, 400);
    assert.doesNotThrow(() => checkUpgradeRequest(request({}, { httpVersion: undefined })));
  });

  it('Sec-WebSocket-Version other than 13 → 426 with Sec-WebSocket-Version: 13', () => {
    for (const version of ['8', '12', '14', '', ' 13x', '13, 8', undefined]) {
      const error = refusal(request({ 'sec-websocket-version': version }));
      assert.equal(error.status, 426, `version ${String(version)}`);
      assert.deepEqual(error.headers, { 'Sec-WebSocket-Version': '13' });
    }
  });

  it('Sec-WebSocket-Key must be 16 bytes in base64 → 400 otherwise', () => {
    for (const key of [
      undefined,
      '',
      'short',
      'dGhlIHNhbXBsZSBub25jZQ',
      'dGhlIHNhbXBsZSBub25jZQ=',
      'dGhlIHNhbXBsZSBub25jZ===',
      'dGhlIHNhbXBsZSBub25j!Q==',
      'dGhlIHNhbXBsZSBub25jZQ==dGhl',
    ])
      assert.equal(refusal(request({ 'sec-websocket-key': key })).status, 400, `key ${String(key)}`);
    // Two keys (a repeated header, joined by the head parser) are not one valid key.
    assert.equal(refusal(request({ 'sec-websocket-key': [SAMPLE_KEY, SAMPLE_KEY] })).status, 400);
    // Surrounding whitespace is trimmed.
    assert.equal(
      checkUpgradeRequest(request({ 'sec-websocket-key': `  ${SAMPLE_KEY} ` })).accept,
      SAMPLE_ACCEPT,
    );
  });

  it('Upgrade must contain the token websocket, case-insensitively → 400 otherwise', () => {
    for (const upgrade of ['websocket', 'WebSocket', 'WEBSOCKET', 'h2c, websocket', ' websocket '])
      assert.doesNotThrow(() => checkUpgradeRequest(request({ upgrade })), upgrade);
    for (const upgrade of [undefined, '', 'h2c', 'websockets', 'web socket', 'websocket/13x'])
      assert.equal(refusal(request({ upgrade })).status, 400, String(upgrade));
  });

  it('Connection must contain the token Upgrade, case-insensitively → 400 otherwise', () => {
    for (const connection of ['Upgrade', 'upgrade', 'UPGRADE', 'keep-alive, Upgrade', 'Upgrade,keep-alive'])
      assert.doesNotThrow(() => checkUpgradeRequest(request({ connection })), connection);
    for (const connection of [undefined, '', 'keep-alive', 'close', 'upgraded', 'Upgrade2'])
      assert.equal(refusal(request({ connection })).status, 400, String(connection));
  });

  it('Host is required → 400 without it', () => {
    assert.equal(refusal(request({ host: undefined })).status, 400);
    assert.equal(refusal(request({ host: '' })).status, 400);
  });

  it('headers given as arrays (as node:http may) are joined', () => {
    const accepted = checkUpgradeRequest(
      request({ connection: ['keep-alive', 'Upgrade'], 'sec-websocket-protocol': ['a', 'b'] }),
      {
        protocols: ['b'],
      },
    );
    assert.equal(accepted.protocol, 'b');
    assert.deepEqual(accepted.offeredProtocols, ['a', 'b']);
  });

  it('isWebSocketUpgrade tells upgrade requests from others', () => {
    assert.equal(isWebSocketUpgrade(request()), true);
    assert.equal(isWebSocketUpgrade(request({ upgrade: 'WebSocket' })), true);
    assert.equal(isWebSocketUpgrade(request({ upgrade: undefined })), false);
    assert.equal(isWebSocketUpgrade(request({ upgrade: 'h2c' })), false);
  });
});

describe('RFC 6455 §4.2.1 / §10.2 server: origin allow-list', () => {
  const options = { origins: ['https://app.example', 'http://localhost:8080'] };

  it('an allowed origin (compared case-insensitively) is accepted', () => {
    assert.doesNotThrow(() => checkUpgradeRequest(request({ origin: 'https://app.example' }), options));
    assert.doesNotThrow(() => checkUpgradeRequest(request({ origin: 'HTTPS://APP.EXAMPLE' }), options));
    assert.doesNotThrow(() => checkUpgradeRequest(request({ origin: 'http://localhost:8080' }), options));
    // Either side may carry the upper case.
    const upper = { origins: ['HTTPS://App.Example'] };
    assert.doesNotThrow(() => checkUpgradeRequest(request({ origin: 'https://app.example' }), upper));
    assert.equal(refusal(request({ origin: 'https://other.example' }), upper).status, 403);
  });

  it('a foreign or missing origin → 403', () => {
    for (const origin of [
      'https://evil.example',
      'https://app.example.evil',
      'https://app.example:444',
      'null',
      '',
      undefined,
    ])
      assert.equal(refusal(request({ origin }), options).status, 403, String(origin));
  });

  it('no allow-list (or an empty one) accepts any origin', () => {
    assert.doesNotThrow(() => checkUpgradeRequest(request({ origin: 'https://anything.example' })));
    assert.doesNotThrow(() =>
      checkUpgradeRequest(request({ origin: 'https://anything.example' }), { origins: [] }),
    );
  });

  it('the version check comes before the origin check (426 wins over 403)', () => {
    assert.equal(
      refusal(request({ origin: 'https://evil.example', 'sec-websocket-version': '8' }), options).status,
      426,
    );
  });
});

describe('RFC 6455 §4.2.2 server: subprotocol selection', () => {
  it("the first of the server's preferences that the client offered wins (server preference order)", () => {
    const accepted = checkUpgradeRequest(request({ 'sec-websocket-protocol': 'superchat, chat, v2.json' }), {
      protocols: ['chat', 'superchat'],
    });
    assert.equal(accepted.protocol, 'chat');
    assert.deepEqual(accepted.offeredProtocols, ['superchat', 'chat', 'v2.json']);
  });

  it('no overlap, or nothing offered → no subprotocol', () => {
    assert.equal(
      checkUpgradeRequest(request({ 'sec-websocket-protocol': 'mqtt' }), { protocols: ['chat'] }).protocol,
      undefined,
    );
    assert.equal(checkUpgradeRequest(request(), { protocols: ['chat'] }).protocol, undefined);
    assert.equal(checkUpgradeRequest(request({ 'sec-websocket-protocol': 'chat' })).protocol, undefined);
  });

  it('subprotocol names are compared exactly (case-sensitive)', () => {
    assert.equal(
      checkUpgradeRequest(request({ 'sec-websocket-protocol': 'Chat' }), { protocols: ['chat'] }).protocol,
      undefined,
    );
  });

  it('a selector function may choose; choosing something not offered is a server error (500)', () => {
    const accepted = checkUpgradeRequest(request({ 'sec-websocket-protocol': 'a, b, c' }), {
      protocols: (offered) => offered.at(-1),
    });
    assert.equal(accepted.protocol, 'c');
    assert.equal(
      checkUpgradeRequest(request({ 'sec-websocket-protocol': 'a' }), { protocols: () => undefined })
        .protocol,
      undefined,
    );
    assert.equal(refusal(request({ 'sec-websocket-protocol': 'a' }), { protocols: () => 'z' }).status, 500);
  });

  it('duplicate subprotocols → 400', () => {
    assert.equal(refusal(request({ 'sec-websocket-protocol': 'chat, chat' })).status, 400);
    assert.equal(refusal(request({ 'sec-websocket-protocol': ['chat', 'chat'] })).status, 400);
  });

  it('invalid subprotocol names (not HTTP tokens) → 400', () => {
    for (const value of ['chat room', 'a/b', 'x;y', '"quoted"', 'a, b c', 'é', '(x)'])
      assert.equal(refusal(request({ 'sec-websocket-protocol': value })).status, 400, value);
  });

  it('empty list elements are ignored', () => {
    assert.deepEqual(
      checkUpgradeRequest(request({ 'sec-websocket-protocol': ' , chat,, ' })).offeredProtocols,
      ['chat'],
    );
  });

  it('the 101 answer carries Upgrade, Connection, the accept key, the chosen subprotocol and extra headers', () => {
    const accepted = checkUpgradeRequest(request({ 'sec-websocket-protocol': 'chat' }), {
      protocols: ['chat'],
    });
    const head = switchingProtocolsResponse(accepted, { 'X-Extra': 'yes' });
    assert.ok(head.startsWith('HTTP/1.1 101 Switching Protocols\r\n'));
    assert.ok(head.endsWith('\r\n\r\n'));
    const parsed = parseResponseHead(Buffer.from(head, 'latin1'));
    assert.equal(parsed.status, 101);
    assert.equal(parsed.headers['upgrade'], 'websocket');
    assert.equal(parsed.headers['connection'], 'Upgrade');
    assert.equal(parsed.headers['sec-websocket-accept'], SAMPLE_ACCEPT);
    assert.equal(parsed.headers['sec-websocket-protocol'], 'chat');
    assert.equal(parsed.headers['x-extra'], 'yes');
    const none = switchingProtocolsResponse(checkUpgradeRequest(request()));
    assert.ok(!/sec-websocket-protocol/i.test(none));
  });

  it('the extension offer is passed through untouched', () => {
    const offer = 'permessage-deflate; client_max_window_bits';
    assert.equal(checkUpgradeRequest(request({ 'sec-websocket-extensions': offer })).extensions, offer);
  });
});

describe('RFC 6455 §4.1 client: the opening request', () => {
  it('builds a GET with Host, Upgrade, Connection, a fresh 16-byte key and version 13', () => {
    const { key, head } = clientRequest({ host: 'server.example.com:8080', path: '/chat?x=1' });
    assert.equal(Buffer.from(key, 'base64').length, 16);
    assert.ok(head.endsWith('\r\n\r\n'));
    const parsed = parseRequestHead(Buffer.from(head, 'latin1'));
    assert.equal(parsed.method, 'GET');
    assert.equal(parsed.url, '/chat?x=1');
    assert.equal(parsed.httpVersion, '1.1');
    assert.equal(parsed.headers['host'], 'server.example.com:8080');
    assert.equal(parsed.headers['sec-websocket-key'], key);
    assert.equal(parsed.headers['sec-websocket-version'], '13');
    assert.equal(parsed.headers['origin'], undefined);
    assert.equal(parsed.headers['sec-websocket-protocol'], undefined);
    // The server side accepts what the client side builds.
    const accepted = checkUpgradeRequest(parsed);
    assert.equal(accepted.accept, acceptKey(key));
    assert.notEqual(clientRequest({ host: 'h', path: '/' }).key, key, 'keys are random');
  });

  it('offers subprotocols in order, sends Origin and extra headers, and uses a fixed key when given', () => {
    const { key, head } = clientRequest({
      host: 'h',
      path: '/',
      protocols: ['v2.chat', 'chat'],
      origin: 'https://app.example',
      headers: { 'X-Token': 'abc' },
      key: SAMPLE_KEY,
    });
    assert.equal(key, SAMPLE_KEY);
    const parsed = parseRequestHead(Buffer.from(head, 'latin1'));
    assert.equal(parsed.headers['sec-websocket-protocol'], 'v2.chat, chat');
    assert.equal(parsed.headers['origin'], 'https://app.example');
    assert.equal(parsed.headers['x-token'], 'abc');
    const accepted = checkUpgradeRequest(parsed, {
      protocols: ['chat', 'v2.chat'],
      origins: ['https://app.example'],
    });
    assert.equal(accepted.protocol, 'chat');
    assert.equal(accepted.accept, SAMPLE_ACCEPT);
  });

  it('refuses to offer a subprotocol that is not a token', () => {
    assert.throws(() => clientRequest({ host: 'h', path: '/', protocols: ['bad name'] }), TypeError);
    assert.throws(() => clientRequest({ host: 'h', path: '/', protocols: ['a,b'] }), TypeError);
  });
});

describe('RFC 6455 §4.1 client: checking the server answer', () => {
  const good: HeaderMap = {
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-accept': SAMPLE_ACCEPT,
  };

  function responseRefusal(status: number, headers: HeaderMap, offered: string[] = []): HandshakeError {
    try {
      checkUpgradeResponse(status, headers, SAMPLE_KEY, offered);
    } catch (error) {
      assert.ok(error instanceof HandshakeError);
      return error;
    }
    assert.fail('the response was accepted');
  }

  it('accepts a 101 with the right accept key (case-insensitive Upgrade/Connection)', () => {
    assert.deepEqual(checkUpgradeResponse(101, good, SAMPLE_KEY), { protocol: undefined, extensions: '' });
    assert.doesNotThrow(() =>
      checkUpgradeResponse(101, { ...good, upgrade: 'WebSocket', connection: 'upgrade' }, SAMPLE_KEY),
    );
  });

  it('a status other than 101 fails, carrying that status', () => {
    for (const status of [200, 400, 403, 426, 503])
      assert.equal(responseRefusal(status, good).status, status);
  });

  it('a wrong or missing Sec-WebSocket-Accept fails', () => {
    responseRefusal(101, { ...good, 'sec-websocket-accept': acceptKey('x3JJHMbDL1EzLkh9GBhXDw==') });
    responseRefusal(101, { ...good, 'sec-websocket-accept': SAMPLE_ACCEPT.toLowerCase() });
    const { 'sec-websocket-accept': _drop, ...missing } = good;
    responseRefusal(101, missing);
    assert.match(responseRefusal(101, { ...good, 'sec-websocket-accept': 'AAAA' }).message, /Accept/);
  });

  it('missing or wrong Upgrade / Connection fails', () => {
    responseRefusal(101, { ...good, upgrade: 'h2c' });
    responseRefusal(101, { ...good, connection: 'keep-alive' });
    const { upgrade: _u, ...noUpgrade } = good;
    responseRefusal(101, noUpgrade);
  });

  it('a subprotocol that was not offered is rejected; an offered one is returned', () => {
    assert.equal(
      checkUpgradeResponse(101, { ...good, 'sec-websocket-protocol': 'chat' }, SAMPLE_KEY, ['v2', 'chat'])
        .protocol,
      'chat',
    );
    assert.match(
      responseRefusal(101, { ...good, 'sec-websocket-protocol': 'mqtt' }, ['chat']).message,
      /not offered/,
    );
    responseRefusal(101, { ...good, 'sec-websocket-protocol': 'chat' }, []);
    responseRefusal(101, { ...good, 'sec-websocket-protocol': 'chat, v2' }, ['chat', 'v2']);
  });

  it('extensions that were not offered are rejected', () => {
    responseRefusal(101, { ...good, 'sec-websocket-extensions': 'permessage-deflate' });
  });

  it('round trip: parsed 101 text from switchingProtocolsResponse passes the client check', () => {
    const { key, head } = clientRequest({ host: 'h', path: '/', protocols: ['chat'] });
    const accepted = checkUpgradeRequest(parseRequestHead(Buffer.from(head)), { protocols: ['chat'] });
    const response = parseResponseHead(Buffer.from(switchingProtocolsResponse(accepted)));
    assert.deepEqual(checkUpgradeResponse(response.status, response.headers, key, ['chat']), {
      protocol: 'chat',
      extensions: '',
    });
  });
});
