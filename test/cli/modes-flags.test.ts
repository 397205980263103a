/**
 * Issue #10: websocksy's own flags, one meaning for --ping-interval, each mode's help, unknown-flag hints,
 * and the parse-time refusals. Everything runs the built `wsbridge` and real sockets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import { openWs, runCli, settle, startCli, type CliServer } from '../helpers/peers.js';

/** Asserts exit 2, nothing on stdout, one stderr line matching `pattern`, and no Node parseArgs text. */
async function usageLine(args: string[], pattern: RegExp): Promise<string> {
  const result = await runCli(args);
  assert.equal(result.code, 2, `exit code for ${JSON.stringify(args)}: ${result.stderr}`);
  assert.equal(result.stdout, '');
  const lines = result.stderr.split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one stderr line for ${JSON.stringify(args)}, got:\n${result.stderr}`);
  assert.doesNotMatch(result.stderr, /\r/);
  assert.match(lines[0]!, /^wsbridge: /);
  assert.doesNotMatch(lines[0]!, /Unknown option|positional argument|ambiguous|Did you forget/);
  assert.match(lines[0]!, pattern);
  return lines[0]!;
}

async function failsWithUsage(args: string[], pattern: RegExp): Promise<void> {
  await usageLine(args, pattern);
}

/** A TCP peer that records what it receives. */
async function tcpPeer(): Promise<{ server: Server; port: number; received: () => string }> {
  let data = '';
  const sockets: Socket[] = [];
  const server = createNetServer((socket) => {
    sockets.push(socket);
    socket.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  return { server, port: (server.address() as AddressInfo).port, received: () => data };
}

/** Milliseconds from opening `ws` to its first ping from the server (rejects after `limitMs`). */
function firstPing(ws: WebSocket, limitMs: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ping within ${limitMs} ms`)), limitMs);
    ws.once('ping', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

describe("websocksy's own command line", () => {
  let peer: Awaited<ReturnType<typeof tcpPeer>>;
  let cli: CliServer | undefined;
  before(async () => {
    peer = await tcpPeer();
  });
  after(async () => {
    await cli?.stop();
    peer.server.close();
  });

  it('-p -l -k -c host= -c port= (no -b) runs the default backend, -k in seconds', async () => {
    cli = await startCli([
      '-p',
      '0',
      '-l',
      '127.0.0.1',
      '-k',
      '1',
      '-c',
      'host=127.0.0.1',
      '-c',
      `port=${peer.port}`,
    ]);
    assert.match(cli.listening, /socket mode .*listening on ws:\/\/127\.0\.0\.1:\d+\//);
    const ws = await openWs(`ws://127.0.0.1:${cli.port}/`);
    ws.send('hello peer');
    const ms = await firstPing(ws, 4_000);
    assert.ok(ms >= 500, `-k 1 pings after about a second, not after ${ms} ms`);
    assert.equal(peer.received(), 'hello peer');
    await settle(ws);
  });
});

describe('--ping-interval is milliseconds in every mode', () => {
  let peer: Awaited<ReturnType<typeof tcpPeer>>;
  const running: CliServer[] = [];
  before(async () => {
    peer = await tcpPeer();
  });
  after(async () => {
    await Promise.all(running.map((c) => c.stop()));
    peer.server.close();
  });

  for (const [mode, args] of [
    ['echo', ['--echo-mode']],
    ['socket', ['--peer=tcp://127.0.0.1:1']],
  ] as const) {
    it(`${mode} mode: --ping-interval=400 pings within about 400 ms`, async () => {
      const peerArgs = mode === 'socket' ? [`--peer=tcp://127.0.0.1:${peer.port}`] : [...args];
      const cli = await startCli([...peerArgs, '--addr=127.0.0.1', '--port=0', '--ping-interval=400']);
      running.push(cli);
      const ws = await openWs(`ws://127.0.0.1:${cli.port}/`);
      const ms = await firstPing(ws, 3_000);
      assert.ok(ms < 2_000, `pinged after ${ms} ms`);
      await settle(ws);
    });
  }
});

describe('help for each mode', { concurrency: true }, () => {
  for (const [topic, start] of [
    ['socket', /^Usage: wsbridge --peer=URL/],
    ['websocksy', /^Usage: wsbridge --peer=URL/],
    ['pipe', /^Usage: wsbridge \[options\]/],
    ['echo', /^Usage: wsbridge \[options\]/],
    ['program', /^Usage: wsbridge \[websocketd options\] COMMAND/],
    ['websocketd', /^Usage: wsbridge \[websocketd options\] COMMAND/],
    ['config', /^Usage: wsbridge --config=FILE/],
    ['routes', /^Usage: wsbridge --config=FILE/],
  ] as const)
    it(`wsbridge --help ${topic}`, async () => {
      const result = await runCli(['--help', topic]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, '');
      assert.match(result.stdout, start);
    });

  it("the config help lists the file's keys", async () => {
    const { stdout } = await runCli(['--help', 'config']);
    for (const key of [
      '[server]',
      'ping-interval',
      'deflate-threshold',
      'type = "socket"',
      'backend-config',
      'pipein',
    ])
      assert.ok(stdout.includes(key), `config help lacks ${key}`);
  });

  it('--help lists the modes and how to get each help', async () => {
    const { stdout } = await runCli(['--help']);
    for (const topic of ['pipe', 'program', 'socket', 'config'])
      assert.ok(stdout.includes(`wsbridge --help ${topic}`), `--help does not name wsbridge --help ${topic}`);
  });

  it('socket-mode errors name a help command that works', async () => {
    const line = await usageLine(['--peer=tcp://127.0.0.1:1', '--port=x'], /--port/);
    const named = /\(see (wsbridge [^)]*)\)$/.exec(line)?.[1];
    assert.ok(named, line);
    const result = await runCli(named.split(' ').slice(1));
    assert.equal(result.code, 0, `${named}: ${result.stderr}`);
    assert.match(result.stdout, /--peer=URL/);
  });
});

describe('unknown and misused flags', { concurrency: true }, () => {
  it('--echomode: did you mean --echo-mode?', () =>
    failsWithUsage(['--echomode'], /did you mean --echo-mode\?/));
  it("a gwsocket flag next to a COMMAND names program mode's spelling", () =>
    failsWithUsage(
      ['--log-level=debug', './run.sh'],
      /--log-level is a pipe-mode flag; program mode uses --loglevel/,
    ));
  it('a program-mode typo suggests the flag of another mode', () =>
    failsWithUsage(['-echomode', './run.sh'], /did you mean --echo-mode/));
  it('a socket-mode typo suggests its own flag', () =>
    failsWithUsage(['--peer=tcp://127.0.0.1:1', '--conect-timeout=5'], /did you mean --connect-timeout\?/));
  it('a flag missing its value', () => failsWithUsage(['--port'], /--port needs a value/));
  it('a flag value that looks like a flag', () =>
    failsWithUsage(['--peer', '--help'], /--peer needs a value/));
  it('a boolean given a value', () => failsWithUsage(['--std=yes'], /--std takes no value/));
  it('a stray argument in socket mode', () =>
    failsWithUsage(['--peer=tcp://127.0.0.1:1', 'extra'], /unexpected argument 'extra'/));
});

describe('parse-time refusals', { concurrency: true }, () => {
  it('--pipein and --pipeout on the same path', () =>
    failsWithUsage(
      ['--pipein=/tmp/wsb-same.fifo', '--pipeout=/tmp/../tmp/wsb-same.fifo'],
      /--pipein and --pipeout/,
    ));
  it('a --header with CR/LF is refused without echoing them', async () => {
    const line = await usageLine(['--header', 'X-A: 1\r\nX-B: 2', './run.sh'], /CR, LF/);
    assert.doesNotMatch(line, /\n|\r/);
  });
});
