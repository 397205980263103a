/**
 * One log format across the modes (issue #10): each of echo, pipe, socket (a TCP peer started here) and
 * program (`cat`) is spawned, a real `ws` client opens and closes with a code and a reason, and the
 * stderr lines must read `open #ID ADDRESS PATH` / `close #ID ADDRESS PATH CODE REASON` at info level,
 * with the plain IPv4 address (never `::ffff:`). The access log records the close code and plain HTTP
 * requests; the start-up line shows a URL a person can click.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startCli, tempDir, until, type CliServer } from '../helpers/peers.js';

const dir = tempDir('wsb-logs-');
const running: CliServer[] = [];
let tcpPeer: TcpServer;
let tcpPort = 0;

before(async () => {
  tcpPeer = createTcpServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => tcpPeer.listen(0, '127.0.0.1', resolve));
  tcpPort = (tcpPeer.address() as { port: number }).port;
});
after(async () => {
  for (const s of running) await s.stop();
  await new Promise((resolve) => tcpPeer.close(resolve));
  dir.cleanup();
});

async function start(args: string[]): Promise<CliServer> {
  const server = await startCli(args);
  running.push(server);
  return server;
}

/** Opens `path` over 127.0.0.1 (an IPv4-mapped address on a dual-stack socket) and closes with 4001 "bye". */
async function openAndClose(port: number, path: string): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.close(4001, 'bye');
  await new Promise((resolve) => ws.once('close', resolve));
}

/** Each mode's command line, with extra flags (before program mode's command). */
const MODES: Record<string, (extra?: string[]) => string[]> = {
  echo: (extra = []) => ['--echo-mode', '-p', '0', ...extra],
  pipe: (extra = []) => {
    const fifo = (name: string): string => join(dir.path, `${name}-${running.length}.fifo`);
    return ['-p', '0', `--pipein=${fifo('in')}`, `--pipeout=${fifo('out')}`, ...extra];
  },
  socket: (extra = []) => ['--port=0', `--peer=tcp://127.0.0.1:${tcpPort}`, ...extra],
  program: (extra = []) => ['--port=0', ...extra, 'cat'],
};

describe('every mode logs opens and closes in one format at info level', () => {
  for (const [mode, args] of Object.entries(MODES)) {
    it(`${mode} mode`, async () => {
      const server = await start(args());
      await openAndClose(server.port, '/room?x=1');
      const close = /\binfo close #(\d+) 127\.0\.0\.1 \/room 4001 bye$/m;
      await server.waitForStderr(close);
      const open = /\binfo open #(\d+) 127\.0\.0\.1 \/room$/m;
      assert.match(server.stderr(), open);
      assert.equal(open.exec(server.stderr())![1], close.exec(server.stderr())![1], 'one connection id');
      assert.doesNotMatch(server.stderr(), /::ffff:/);
    });
  }
});

describe('the start-up line shows a URL a person can click', () => {
  for (const [mode, args] of Object.entries(MODES)) {
    it(`${mode} mode: localhost for all addresses, the literal address otherwise, IPv6 in brackets`, async () => {
      const all = await start(args());
      assert.match(all.listening, new RegExp(`listening on ws://localhost:${all.port}/`));
      assert.doesNotMatch(all.listening, /\[::\]|0\.0\.0\.0/);
      const flag = mode === 'program' ? '--address' : '--addr';
      const v4 = await start(args([`${flag}=127.0.0.1`]));
      assert.match(v4.listening, new RegExp(`listening on ws://127\\.0\\.0\\.1:${v4.port}/`));
      const v6 = await start(args([`${flag}=::1`]));
      assert.match(v6.listening, new RegExp(`listening on ws://\\[::1\\]:${v6.port}/`));
      await Promise.all([all.stop(), v4.stop(), v6.stop()]);
    });
  }
  it('echo mode names the page with a clickable http URL too', async () => {
    const server = await start(['--echo-mode', '-p', '0']);
    assert.match(server.listening, new RegExp(`\\(page at http://localhost:${server.port}/\\)`));
  });
});

describe('a config file (many routes) logs the same way', () => {
  it('clickable start-up URL, open/close lines, access-log lines for a close and a page', async () => {
    const file = join(dir.path, 'routes.toml');
    const access = join(dir.path, 'routes-access.log');
    writeFileSync(
      file,
      `[server]\nport = 0\naccess-log = "${access}"\n\n[[route]]\npath = "/echo"\ntype = "echo"\n`,
    );
    const server = await start([`--config=${file}`]);
    assert.match(server.listening, new RegExp(`listening on ws://localhost:${server.port}/`));
    await openAndClose(server.port, '/echo');
    await server.waitForStderr(/\binfo close #\d+ 127\.0\.0\.1 \/echo 4001 bye$/m);
    assert.match(server.stderr(), /\binfo open #\d+ 127\.0\.0\.1 \/echo$/m);
    await (await fetch(`http://127.0.0.1:${server.port}/echo`)).text();
    const statuses = (): string[] =>
      readFileSync(access, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => / (\d+) - /.exec(line)?.[1] ?? line);
    await until(() => statuses().length >= 3, 5000);
    assert.deepEqual(statuses(), ['101', '4001', '200']);
  });
});

describe('the access log', () => {
  it('writes the close code for a close and logs plain HTTP requests with their status', async () => {
    const file = join(dir.path, 'access.log');
    const server = await start(['--echo-mode', '-p', '0', `--access-log=${file}`]);
    await openAndClose(server.port, '/');
    const page = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(page.status, 200);
    await page.text();
    const missing = await fetch(`http://127.0.0.1:${server.port}/nothing`);
    assert.equal(missing.status, 404);
    await missing.text();
    const lines = (): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);
    await until(() => lines().length >= 4, 5000);
    const shape = /^127\.0\.0\.1 - - \[[^\]]+\] "GET (\S+) HTTP\/1\.1" (\d+) - "[^"]*" "[^"]*" \d+$/;
    const parsed = lines().map((line) => {
      const match = shape.exec(line);
      assert.ok(match, `not the access-log shape: ${line}`);
      return `${match[1]} ${match[2]}`;
    });
    assert.deepEqual(parsed, ['/ 101', '/ 4001', '/ 200', '/nothing 404']);
  });
});
