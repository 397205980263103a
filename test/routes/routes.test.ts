/**
 * One `wsbridge --config` server carrying every kind of endpoint at once, each met by real peers: static
 * files over HTTP, echo, a program (cat), a program per script under a prefix, a TCP line service behind
 * a socket route, and a pipe hub on real FIFOs; the `ws` package and Python's `websockets` as clients.
 * Checks routing (exact over prefix, longest prefix, `/` boundaries), per-route limits and subprotocols,
 * that a pipe route broadcasts only to its own clients, and the clean-up at SIGTERM.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, existsSync, mkdirSync, writeFileSync, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import type WebSocket from 'ws';
import {
  closed,
  echo,
  nextMessage,
  offerProtocols,
  openWs,
  pythonWebsocketsMissing,
  refusedWs,
  runPython,
  settle,
  startCli,
  tempDir,
  until,
  type CliServer,
} from '../helpers/peers.js';
import { lineService, Recorder, type Peer } from '../socket/harness.js';

const pythonMissing = pythonWebsocketsMissing();
const required = process.env.WSBRIDGE_REQUIRE_PEERS === '1';
if (pythonMissing && !required) console.log(`# skipping the Python client test: ${pythonMissing}`);

describe('one server, many routes (wsbridge --config)', () => {
  let dir: ReturnType<typeof tempDir>;
  let peer: Peer;
  let server: CliServer;
  let base: string;
  let http: string;
  let pipeIn: string;
  let pipeOut: string;
  let output: ReadStream;
  let fromClients = '';
  const clients: WebSocket[] = [];
  const open = async (path: string, protocols?: string[]): Promise<WebSocket> => {
    const ws = await openWs(`${base}${path}`, protocols);
    clients.push(ws);
    return ws;
  };

  before(async () => {
    dir = tempDir('wsb-routes-');
    peer = await lineService();
    mkdirSync(join(dir.path, 'www'));
    writeFileSync(join(dir.path, 'www', 'index.html'), '<!doctype html><title>routes</title>home page\n');
    writeFileSync(join(dir.path, 'www', 'app.txt'), 'a file called app.txt\n');
    mkdirSync(join(dir.path, 'scripts'));
    writeFileSync(
      join(dir.path, 'scripts', 'where.sh'),
      '#!/bin/sh\necho "script=$SCRIPT_NAME path_info=$PATH_INFO query=$QUERY_STRING"\nexec cat\n',
      { mode: 0o755 },
    );
    pipeIn = join(dir.path, 'feed.in');
    pipeOut = join(dir.path, 'feed.out');
    const config = join(dir.path, 'wsbridge.toml');
    writeFileSync(
      config,
      `[server]
port = 0
addr = "127.0.0.1"
max-frame-size = 2097152
log-level = "debug" # the program's pid is a debug line

[[route]]
prefix = "/"
type = "static"
staticdir = "${dir.path}/www"

[[route]]
path = "/echo"
type = "echo"

[[route]]
path = "/small"
type = "echo"
max-frame-size = 100
protocol = ["chat"]

[[route]]
path = "/cat"
type = "program"
command = ["cat"]

[[route]]
prefix = "/app"
type = "program"
dir = "${dir.path}/scripts"

[[route]]
path = "/app/special"
type = "echo"

[[route]]
path = "/tcp"
type = "socket"
peer = "tcp://127.0.0.1:${peer.port}"
framing = "newline"
framing-config = "lf"

[[route]]
path = "/feed"
type = "pipe"
pipein = "${pipeIn}"
pipeout = "${pipeOut}"
`,
    );
    server = await startCli([`--config=${config}`]);
    base = `ws://127.0.0.1:${server.port}`;
    http = `http://127.0.0.1:${server.port}`;
    output = createReadStream(pipeOut, { encoding: 'utf8' });
    output.on('data', (text: string | Buffer) => (fromClients += String(text)));
    await server.waitForStderr('output pipe: reader attached');
  });

  after(async () => {
    await Promise.all(clients.map(settle));
    output?.destroy();
    await server?.stop();
    await peer?.close();
    dir?.cleanup();
  });

  it('logs each route and what it serves', () => {
    for (const line of [
      '/* → static files in',
      '/echo → echo',
      '/cat → program cat',
      '/app/* → scripts in',
      `/tcp → tcp://127.0.0.1:${peer.port}, framing newline`,
      `/feed → pipes (standard, lines; in: ${pipeIn}, out: ${pipeOut})`,
    ])
      assert.ok(server.stderr().includes(line), `${line}\n${server.stderr()}`);
  });

  it('serves static files under the / prefix, and the console page on an echo route', async () => {
    const home = await fetch(`${http}/`);
    assert.equal(home.status, 200);
    assert.equal(await home.text(), '<!doctype html><title>routes</title>home page\n');
    const file = await fetch(`${http}/app.txt`);
    assert.equal(await file.text(), 'a file called app.txt\n', '/app.txt is not under the /app prefix');
    const page = await fetch(`${http}/echo`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>wsbridge echo<\/title>/);
    const tcp = await fetch(`${http}/tcp`);
    assert.equal(tcp.status, 426, 'a WebSocket-only route asks for an upgrade');
    assert.equal((await fetch(`${http}/nothing-here`)).status, 404);
  });

  it('echo route: text and binary come back', async () => {
    const ws = await open('/echo');
    assert.equal((await echo(ws, 'hello routes')).data.toString(), 'hello routes');
    const bytes = Buffer.from([0, 1, 2, 255]);
    const back = await echo(ws, bytes);
    assert.ok(back.isBinary);
    assert.deepEqual(back.data, bytes);
  });

  it('program route: each connection runs cat', async () => {
    const ws = await open('/cat');
    assert.equal((await echo(ws, 'through cat')).data.toString(), 'through cat');
  });

  it('prefix program route: the script is found under the prefix, with CGI paths that include it', async () => {
    // The script speaks first: record from the start (its line may arrive with the 101).
    const recorder = await Recorder.open(`${base}/app/where.sh/extra?x=1`);
    clients.push(recorder.ws);
    await recorder.waitMessages(1);
    assert.deepEqual(recorder.texts(), ['script=/app/where.sh path_info=/extra query=x=1']);
    recorder.ws.send('then cat');
    await recorder.waitMessages(2);
    assert.equal(recorder.texts()[1], 'then cat');
    assert.equal((await refusedWs(`${base}/app/missing.sh`)).status, 404);
  });

  it('an exact path wins over a prefix, and a prefix matches only at a / boundary', async () => {
    const special = await open('/app/special');
    assert.equal((await echo(special, 'exact route')).data.toString(), 'exact route');
    const apple = await refusedWs(`${base}/apple`);
    assert.equal(apple.status, 404, '/apple belongs to the static / route, which takes no WebSockets');
  });

  it('socket route: lines to the TCP service and its answers back, one message per line', async () => {
    const ws = await open('/tcp');
    const first = nextMessage(ws);
    ws.send('one\n');
    assert.equal((await first).data.toString(), 'you said: one\n');
    const replies: string[] = [];
    ws.on('message', (data) => replies.push(String(data)));
    ws.send('two\nthr');
    ws.send('ee\n');
    assert.ok(await until(() => replies.length >= 2, 5000), JSON.stringify(replies));
    assert.deepEqual(replies, ['you said: two\n', 'you said: three\n']);
  });

  it('pipe route: the application reaches its own clients only, and hears from them', async () => {
    const feed = await open('/feed');
    const bystander = await open('/echo');
    const heard: string[] = [];
    bystander.on('message', (data) => heard.push(String(data)));
    const got = nextMessage(feed);
    writeFileSync(pipeIn, 'news for the feed\n');
    assert.equal((await got).data.toString(), 'news for the feed');
    feed.send('reply from a client');
    assert.ok(await until(() => fromClients.includes('reply from a client\n'), 5000), fromClients);
    assert.equal((await echo(bystander, 'still echo')).data.toString(), 'still echo');
    assert.deepEqual(heard, ['still echo'], 'the echo client never saw the pipe broadcast');
  });

  it('per-route limits: max-frame-size closes with 1009 on that route only', async () => {
    const small = await open('/small', ['chat']);
    assert.equal((await echo(small, 'x'.repeat(100))).data.length, 100);
    const gone = closed(small);
    small.send('x'.repeat(101));
    assert.equal((await gone).code, 1009);
    const big = await open('/echo');
    assert.equal(
      (await echo(big, 'y'.repeat(60_000))).data.length,
      60_000,
      'the server limit (2 MiB) applies',
    );
  });

  it('per-route subprotocols: chosen from the route list, none where the route has none', async () => {
    const chosen = await offerProtocols(`${base}/small`, ['other', 'chat']);
    assert.equal(chosen.status, 101);
    assert.equal(chosen.protocol, 'chat');
    const none = await offerProtocols(`${base}/echo`, ['chat']);
    assert.equal(none.protocol, undefined);
  });

  it(
    'Python websockets client on the echo route',
    { skip: pythonMissing && !required ? pythonMissing : false },
    async () => {
      assert.equal(pythonMissing, undefined, `WSBRIDGE_REQUIRE_PEERS=1 but ${pythonMissing}`);
      const { step } = await runPython('exchange', `${base}/echo`);
      for (const name of ['text', 'multibyte', 'binary', 'binary-64k', 'fragmented'])
        assert.equal(step(name).equal, true, JSON.stringify(step(name)));
      assert.equal(step('closed').code, 4000);
    },
  );

  it('SIGTERM: clients get 1001, programs end, FIFOs are removed, exit 0', async () => {
    const cat = await open('/cat');
    await echo(cat, 'alive');
    const pid = Number(
      /CONNECT pid (\d+)/g.exec(
        server
          .stderr()
          .split('\n')
          .filter((l) => l.includes('/cat: CONNECT'))
          .pop() ?? '',
      )?.[1],
    );
    assert.ok(pid > 0 && existsSync(`/proc/${pid}`), 'cat is running');
    const feed = await open('/feed');
    const codes = Promise.all([closed(cat), closed(feed)]);
    server.child.kill('SIGTERM');
    assert.deepEqual(
      (await codes).map((c) => c.code),
      [1001, 1001],
    );
    const { code } = await server.exited();
    assert.equal(code, 0, server.stderr());
    assert.equal(existsSync(pipeIn), false);
    assert.equal(existsSync(pipeOut), false);
    assert.ok(await until(() => !existsSync(`/proc/${pid}`), 5000), 'cat was stopped');
    assert.match(server.stderr(), /SIGTERM: shutting down \(\d+ connections, \d+ programs\)/);
  });
});
