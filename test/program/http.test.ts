/**
 * Plain HTTP beside the WebSocket programs: --staticdir (files, index.html, listings, redirects, ranges,
 * 304, confinement), --cgidir (CGI/1.1: environment, request body, Status/Location/Content-Type rules,
 * streaming) and --devconsole.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  childrenOf,
  connectRecorded,
  rawGet,
  startProgramServer,
  until,
  type ProgramServer,
} from '../helpers/program-harness.js';

describe('--staticdir', () => {
  let base: string;
  let server: ProgramServer;
  let target: { port: number; host: string };

  before(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'wsb-static-')));
    const root = join(base, 'www');
    mkdirSync(join(root, 'docs'), { recursive: true });
    mkdirSync(join(root, 'empty & <odd>'));
    writeFileSync(join(root, 'index.html'), '<h1>home</h1>\n');
    writeFileSync(join(root, 'hello.txt'), 'hello, world\n');
    writeFileSync(join(root, 'data.json'), '{"a":1}');
    writeFileSync(join(root, 'docs', 'a.md'), '# a\n');
    writeFileSync(join(root, 'docs', 'b <x>.txt'), 'b\n');
    writeFileSync(join(base, 'secret.txt'), 'SECRET\n');
    symlinkSync(join(base, 'secret.txt'), join(root, 'leak.txt'));
    symlinkSync(base, join(root, 'parent'));
    symlinkSync(join(root, 'hello.txt'), join(root, 'alias.txt'));
    server = await startProgramServer(['--port=0', '--address=127.0.0.1', `--staticdir=${root}`, 'cat']);
    target = { port: server.port, host: '127.0.0.1' };
  });
  after(async () => {
    await server.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('serves files with their type and length, index.html for a directory', async () => {
    const file = await rawGet(target, '/hello.txt');
    assert.equal(file.status, 200);
    assert.equal(file.body, 'hello, world\n');
    assert.equal(file.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(file.headers['content-length'], '13');
    assert.ok(file.headers['last-modified']);
    assert.equal((await rawGet(target, '/data.json')).headers['content-type'], 'application/json');
    const home = await rawGet(target, '/');
    assert.equal(home.status, 200);
    assert.equal(home.body, '<h1>home</h1>\n');
    assert.match(home.headers['content-type'], /text\/html/);
    assert.equal((await rawGet(target, '/alias.txt')).body, 'hello, world\n');
  });

  it('lists a directory without index.html, escaping names', async () => {
    const listing = await rawGet(target, '/docs/');
    assert.equal(listing.status, 200);
    assert.match(listing.body, /<a href="a\.md">a\.md<\/a>/);
    assert.match(listing.body, /<a href="b%20%3Cx%3E\.txt">b &#60;x&#62;\.txt<\/a>/);
    assert.match((await rawGet(target, '/empty%20&%20%3Codd%3E/')).body, /<pre>/);
  });

  it('redirects a directory without its slash, and /index.html to ./', async () => {
    const dir = await rawGet(target, '/docs?x=1');
    assert.equal(dir.status, 301);
    assert.equal(dir.headers.location, 'docs/?x=1');
    const index = await rawGet(target, '/index.html');
    assert.equal(index.status, 301);
    assert.equal(index.headers.location, './');
  });

  it('HEAD, a byte range, an unsatisfiable range, If-Modified-Since', async () => {
    const head = await rawGet(target, '/hello.txt', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '13');
    const range = await rawGet(target, '/hello.txt', { Range: 'bytes=7-11' });
    assert.equal(range.status, 206);
    assert.equal(range.body, 'world');
    assert.equal(range.headers['content-range'], 'bytes 7-11/13');
    assert.equal((await rawGet(target, '/hello.txt', { Range: 'bytes=-6' })).body, 'world\n');
    assert.equal((await rawGet(target, '/hello.txt', { Range: 'bytes=50-' })).status, 416);
    const since = (await rawGet(target, '/hello.txt')).headers['last-modified'];
    assert.equal((await rawGet(target, '/hello.txt', { 'If-Modified-Since': since })).status, 304);
  });

  it('404 for a missing file; nothing outside the directory, by .. or by symlink', async () => {
    assert.equal((await rawGet(target, '/nope.txt')).status, 404);
    for (const path of [
      '/../secret.txt',
      '/docs/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/leak.txt',
      '/parent/secret.txt',
    ]) {
      const response = await rawGet(target, path);
      assert.equal(response.status, 404, path);
      assert.doesNotMatch(response.body, /SECRET/);
    }
  });

  it('405 for other methods', async () => {
    assert.equal((await rawGet(target, '/hello.txt', {}, 'DELETE')).status, 405);
  });

  it('WebSocket handshakes still reach the program', async () => {
    const client = await connectRecorded(server.url('/hello.txt'));
    client.ws.send('ws');
    await client.waitMessages(1);
    assert.deepEqual(client.texts(), ['ws']);
    client.ws.close(1000);
    await client.closed;
  });
});

describe('--cgidir', () => {
  let base: string;
  let server: ProgramServer;
  let target: { port: number; host: string };

  before(async () => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'wsb-cgi-')));
    const cgi = join(base, 'cgi');
    const www = join(base, 'www');
    mkdirSync(join(cgi, 'sub'), { recursive: true });
    mkdirSync(www);
    writeFileSync(join(www, 'page.txt'), 'static page\n');
    const script = (name: string, body: string): void =>
      writeFileSync(join(cgi, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    script(
      'env.cgi',
      'printf "Content-Type: text/plain\\r\\nX-Script: yes\\r\\n\\r\\n"\n' +
        'for v in GATEWAY_INTERFACE SERVER_SOFTWARE REQUEST_METHOD SCRIPT_NAME PATH_INFO QUERY_STRING REQUEST_URI ' +
        'CONTENT_LENGTH CONTENT_TYPE SERVER_NAME SERVER_PORT REMOTE_ADDR HTTP_HOST HTTP_X_TEST SCRIPT_FILENAME; do\n' +
        '  eval "echo $v=\\$$v"\ndone',
    );
    script('echo.cgi', 'printf "Content-Type: application/octet-stream\\n\\n"\nexec cat');
    script('created.cgi', 'printf "Status: 201 Created\\nContent-Type: text/plain\\n\\ndone\\n"');
    script('moved.cgi', 'printf "Location: http://elsewhere.example/\\n\\n"');
    script('noheaders.cgi', 'exit 0');
    script('notype.cgi', 'printf "X-Only: this\\n\\nbody\\n"');
    script('stream.cgi', 'printf "Content-Type: text/plain\\n\\n"\nseq 1 20000');
    script('sub/deep.cgi', 'printf "Content-Type: text/plain\\n\\ndeep $PATH_INFO\\n"');
    writeFileSync(join(cgi, 'cannot.cgi'), '#!/bin/sh\necho no\n', { mode: 0o644 });
    server = await startProgramServer([
      '--port=0',
      '--address=127.0.0.1',
      `--cgidir=${cgi}`,
      `--staticdir=${www}`,
      'cat',
    ]);
    target = { port: server.port, host: '127.0.0.1' };
  });
  after(async () => {
    await server.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('runs a script with the CGI/1.1 environment and passes its headers on', async () => {
    const response = await rawGet(target, '/env.cgi/extra/path?a=1&b=2', { 'X-Test': 'tested' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'text/plain');
    assert.equal(response.headers['x-script'], 'yes');
    const vars = Object.fromEntries(
      response.body
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.equal(vars.GATEWAY_INTERFACE, 'CGI/1.1');
    assert.match(vars.SERVER_SOFTWARE, /^wsbridge\//);
    assert.equal(vars.REQUEST_METHOD, 'GET');
    assert.equal(vars.SCRIPT_NAME, '/env.cgi');
    assert.equal(vars.PATH_INFO, '/extra/path');
    assert.equal(vars.QUERY_STRING, 'a=1&b=2');
    assert.equal(vars.REQUEST_URI, '/env.cgi/extra/path?a=1&b=2');
    assert.equal(vars.CONTENT_LENGTH, '');
    assert.equal(vars.SERVER_NAME, '127.0.0.1');
    assert.equal(vars.SERVER_PORT, '80');
    assert.equal(vars.REMOTE_ADDR, '127.0.0.1');
    assert.equal(vars.HTTP_HOST, '127.0.0.1');
    assert.equal(vars.HTTP_X_TEST, 'tested');
    assert.equal(vars.SCRIPT_FILENAME, join(base, 'cgi', 'env.cgi'));
  });

  it('the request body goes to stdin; CONTENT_LENGTH and CONTENT_TYPE are set', async () => {
    const echo = await rawGet(
      target,
      '/echo.cgi',
      { 'Content-Type': 'text/x-test' },
      'POST',
      'posted body ✓',
    );
    assert.equal(echo.status, 200);
    assert.equal(echo.body, 'posted body ✓');
    const env = await rawGet(target, '/env.cgi', { 'Content-Type': 'text/x-test' }, 'POST', 'abc');
    assert.match(env.body, /^REQUEST_METHOD=POST$/m);
    assert.match(env.body, /^CONTENT_LENGTH=3$/m);
    assert.match(env.body, /^CONTENT_TYPE=text\/x-test$/m);
  });

  it('Status: sets the status; Location: alone is a 302', async () => {
    const created = await rawGet(target, '/created.cgi');
    assert.equal(created.status, 201);
    assert.equal(created.body, 'done\n');
    const moved = await rawGet(target, '/moved.cgi');
    assert.equal(moved.status, 302);
    assert.equal(moved.headers.location, 'http://elsewhere.example/');
  });

  it('no headers, or neither Content-Type nor Status nor Location: 500 with a log line', async () => {
    assert.equal((await rawGet(target, '/noheaders.cgi')).status, 500);
    await server.waitForLog('cgi: no headers');
    assert.equal((await rawGet(target, '/notype.cgi')).status, 500);
    await server.waitForLog('cgi: missing required Content-Type');
    assert.equal((await rawGet(target, '/cannot.cgi')).status, 500);
    await server.waitForLog(/cgi: cannot start .*cannot\.cgi: EACCES/);
  });

  it('a long body is streamed whole; scripts in subdirectories get PATH_INFO', async () => {
    const stream = await rawGet(target, '/stream.cgi');
    const lines = stream.body.trim().split('\n');
    assert.equal(lines.length, 20000);
    assert.equal(lines[19999], '20000');
    assert.equal((await rawGet(target, '/sub/deep.cgi/x')).body, 'deep /x\n');
  });

  it('what is not a script falls through to the static files, then 404', async () => {
    assert.equal((await rawGet(target, '/page.txt')).body, 'static page\n');
    assert.equal((await rawGet(target, '/sub/')).status, 404);
    assert.equal((await rawGet(target, '/missing.cgi')).status, 404);
  });

  it('no CGI process is left behind', async () => {
    await until(() => childrenOf(server.pid).length === 0, 3000, 'no children');
  });
});

describe('--devconsole', () => {
  it('serves the console page for any plain HTTP request; WebSockets still reach the program', async () => {
    const server = await startProgramServer(['--port=0', '--address=127.0.0.1', '--devconsole', 'cat']);
    try {
      for (const path of ['/', '/any/path?x=1']) {
        const page = await rawGet({ port: server.port }, path);
        assert.equal(page.status, 200);
        assert.match(page.headers['content-type'], /^text\/html/);
        assert.match(page.body, /<title>wsbridge dev console<\/title>/);
      }
      const client = await connectRecorded(server.url('/any/path'));
      client.ws.send('x');
      await client.waitMessages(1);
      client.ws.close(1000);
      await client.closed;
    } finally {
      await server.stop();
    }
  });
});
