/**
 * The environment builders as pure functions: websocketd's program environment (every variable by name
 * and value), RFC 3875's for CGI scripts, Host splitting, --passenv picking and UNIQUE_ID.
 */
import { splitHostPort } from '../../src/modes/common/host-port.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cgiEnvironment,
  headerVariable,
  pickParentEnv,
  plainAddress,
  programEnvironment,
  UniqueIds,
  type EnvRequest,
} from '../../src/modes/program/cgi-env.js';

const request: EnvRequest = {
  url: '/chat/room?a=1&b=2',
  headers: {
    host: 'example.com:8080',
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
    origin: 'http://example.com:8080',
    cookie: 'a=1, b=2',
    'x-custom-thing': '  spaced\r\nout  ',
    proxy: 'http://evil.example:3128',
  },
  remoteAddress: '::ffff:10.0.0.7',
  remotePort: 51234,
};

/** Options for a program at the root URL, over plain TCP. */
const ROOT_OPTIONS = {
  serverSoftware: 's',
  tls: false,
  scriptName: '/',
  pathInfo: '/',
  decodedPath: '/',
  uniqueId: '1',
};

describe('programEnvironment (websocketd)', () => {
  it('sets every variable websocketd sets, with its values, and HTTP_HOST', () => {
    const env = programEnvironment(request, {
      serverSoftware: 'wsbridge/9.9.9',
      tls: false,
      scriptName: '/',
      pathInfo: '/chat/room',
      decodedPath: '/chat/room',
      uniqueId: '1700000000000000000',
      parentEnv: { PATH: '/usr/bin:/bin' },
    });
    assert.deepEqual(env, {
      SERVER_SOFTWARE: 'wsbridge/9.9.9',
      PATH: '/usr/bin:/bin',
      REMOTE_ADDR: '10.0.0.7',
      REMOTE_HOST: '10.0.0.7',
      SERVER_NAME: 'example.com',
      SERVER_PORT: '8080',
      SERVER_PROTOCOL: 'HTTP/1.1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '/',
      PATH_INFO: '/chat/room',
      PATH_TRANSLATED: '/chat/room',
      QUERY_STRING: 'a=1&b=2',
      AUTH_TYPE: '',
      CONTENT_LENGTH: '',
      CONTENT_TYPE: '',
      REMOTE_IDENT: '',
      REMOTE_USER: '',
      UNIQUE_ID: '1700000000000000000',
      REMOTE_PORT: '51234',
      REQUEST_URI: '/chat/room?a=1&b=2',
      HTTP_HOST: 'example.com:8080',
      HTTP_UPGRADE: 'websocket',
      HTTP_CONNECTION: 'Upgrade',
      HTTP_SEC_WEBSOCKET_KEY: 'dGhlIHNhbXBsZSBub25jZQ==',
      HTTP_SEC_WEBSOCKET_VERSION: '13',
      HTTP_ORIGIN: 'http://example.com:8080',
      HTTP_COOKIE: 'a=1, b=2',
      HTTP_X_CUSTOM_THING: 'spaced  out',
    });
  });

  it('HTTPS=on and port 443 by default with TLS; the Host port when given', () => {
    const base = { serverSoftware: 's', scriptName: '/', pathInfo: '/', decodedPath: '/', uniqueId: '1' };
    const tls = programEnvironment({ ...request, headers: { host: 'example.com' } }, { ...base, tls: true });
    assert.equal(tls.HTTPS, 'on');
    assert.equal(tls.SERVER_PORT, '443');
    const plain = programEnvironment(
      { ...request, headers: { host: 'example.com' } },
      { ...base, tls: false },
    );
    assert.equal(plain.HTTPS, undefined);
    assert.equal(plain.SERVER_PORT, '80');
  });

  it('--dir mode: SCRIPT_NAME is the script, PATH_INFO the rest, PATH_TRANSLATED the whole decoded path', () => {
    const env = programEnvironment(
      { ...request, url: '/bin/run.sh/x%20y/z?q' },
      {
        serverSoftware: 's',
        tls: false,
        scriptName: '/bin/run.sh',
        pathInfo: '/x y/z',
        decodedPath: '/bin/run.sh/x y/z',
        uniqueId: '1',
      },
    );
    assert.equal(env.SCRIPT_NAME, '/bin/run.sh');
    assert.equal(env.PATH_INFO, '/x y/z');
    assert.equal(env.PATH_TRANSLATED, '/bin/run.sh/x y/z');
    assert.equal(env.REQUEST_URI, '/bin/run.sh/x%20y/z?q');
    assert.equal(env.QUERY_STRING, 'q');
  });

  it('a Unix-socket client: REMOTE_ADDR=unix-socket, REMOTE_PORT empty', () => {
    const env = programEnvironment(
      { ...request, remoteAddress: '', remotePort: 0 },
      {
        ...ROOT_OPTIONS,
        unixSocket: true,
      },
    );
    assert.equal(env.REMOTE_ADDR, 'unix-socket');
    assert.equal(env.REMOTE_HOST, 'unix-socket');
    assert.equal(env.REMOTE_PORT, '');
  });

  it('REMOTE_HOST is the reverse-DNS name when looked up', () => {
    const env = programEnvironment(request, {
      ...ROOT_OPTIONS,
      remoteHost: 'client.example',
    });
    assert.equal(env.REMOTE_ADDR, '10.0.0.7');
    assert.equal(env.REMOTE_HOST, 'client.example');
  });

  it('no HTTP_PROXY from a Proxy header (httpoxy)', () => {
    const env = programEnvironment(request, ROOT_OPTIONS);
    assert.equal(env.HTTP_PROXY, undefined);
  });

  it('a request variable wins over a parent variable of the same name', () => {
    const env = programEnvironment(request, {
      ...ROOT_OPTIONS,
      parentEnv: { REMOTE_USER: 'root', QUERY_STRING: 'x' },
    });
    assert.equal(env.REMOTE_USER, '');
    assert.equal(env.QUERY_STRING, 'a=1&b=2');
  });
});

describe('cgiEnvironment (RFC 3875, as Go serves --cgidir)', () => {
  it('sets the CGI variables, cookies joined with "; ", body length and type', () => {
    const env = cgiEnvironment(
      {
        url: '/form.sh/extra?x=1',
        method: 'POST',
        httpVersion: '1.1',
        headers: {
          host: 'h.example',
          cookie: ['a=1', 'b=2'],
          'content-length': '5',
          'content-type': 'text/plain',
          proxy: 'p',
        },
        remoteAddress: '127.0.0.1',
        remotePort: 4000,
      },
      {
        serverSoftware: 'wsbridge/1',
        tls: false,
        scriptName: '/form.sh',
        scriptFilename: '/srv/cgi/form.sh',
        pathInfo: '/extra',
        parentEnv: { LANG: 'C' },
        path: '/usr/bin',
      },
    );
    assert.deepEqual(env, {
      SERVER_SOFTWARE: 'wsbridge/1',
      SERVER_PROTOCOL: 'HTTP/1.1',
      HTTP_HOST: 'h.example',
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'POST',
      QUERY_STRING: 'x=1',
      REQUEST_URI: '/form.sh/extra?x=1',
      PATH_INFO: '/extra',
      SCRIPT_NAME: '/form.sh',
      SCRIPT_FILENAME: '/srv/cgi/form.sh',
      SERVER_PORT: '80',
      REMOTE_ADDR: '127.0.0.1',
      REMOTE_HOST: '127.0.0.1',
      REMOTE_PORT: '4000',
      SERVER_NAME: 'h.example',
      HTTP_COOKIE: 'a=1; b=2',
      HTTP_CONTENT_LENGTH: '5',
      HTTP_CONTENT_TYPE: 'text/plain',
      CONTENT_LENGTH: '5',
      CONTENT_TYPE: 'text/plain',
      PATH: '/usr/bin',
      LANG: 'C',
    });
  });
});

describe('helpers', () => {
  it('splitHostPort splits as Go does, defaulting the port', () => {
    assert.deepEqual(splitHostPort('example.com:8080', false), { name: 'example.com', port: '8080' });
    assert.deepEqual(splitHostPort('example.com', false), { name: 'example.com', port: '80' });
    assert.deepEqual(splitHostPort('example.com', true), { name: 'example.com', port: '443' });
    assert.deepEqual(splitHostPort('[::1]:9000', false), { name: '::1', port: '9000' });
    assert.deepEqual(splitHostPort('[::1]', false), { name: '[::1]', port: '80' });
    assert.deepEqual(splitHostPort('a:b:c', false), { name: '', port: '' });
    assert.deepEqual(splitHostPort('', false), { name: '', port: '80' });
  });

  it('header names become HTTP_ variables', () => {
    assert.equal(headerVariable('x-custom-thing'), 'HTTP_X_CUSTOM_THING');
    assert.equal(headerVariable('Sec-WebSocket-Protocol'), 'HTTP_SEC_WEBSOCKET_PROTOCOL');
  });

  it('IPv4-mapped addresses are shown as plain IPv4', () => {
    assert.equal(plainAddress('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(plainAddress('::1'), '::1');
    assert.equal(plainAddress('10.1.2.3'), '10.1.2.3');
  });

  it('pickParentEnv takes only the named, set variables; never HTTPS; newlines become spaces', () => {
    const picked = pickParentEnv(['PATH', 'MISSING', 'HTTPS', 'MULTI'], {
      PATH: '/bin',
      HTTPS: 'on',
      MULTI: 'a\nb',
      OTHER: 'x',
    });
    assert.deepEqual(picked, { PATH: '/bin', MULTI: 'a b' });
  });

  it('UNIQUE_ID is the time in nanoseconds, strictly increasing', () => {
    const ids = new UniqueIds();
    const values = Array.from({ length: 1000 }, () => BigInt(ids.next()));
    for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1]);
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const drift = values[0] > nowNs ? values[0] - nowNs : nowNs - values[0];
    assert.ok(drift < 5_000_000_000n, `within 5 s of now, drift ${drift} ns`);
  });
});
