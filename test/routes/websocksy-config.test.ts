/**
 * websocksy's own config file ([core] and [backend]) run as it is by `wsbridge --config`: the built-in
 * defaultpeer backend and the file backend, against real TCP peers; mistakes stop with file:line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isWebsocksyConfig, websocksyArgs } from '../../src/config/websocksy-config.js';
import { ConfigError } from '../../src/config/config-error.js';
import {
  echo,
  openWs,
  refusedWs,
  runCli,
  settle,
  startCli,
  tempDir,
  type CliServer,
} from '../helpers/peers.js';
import { lineService, tcpEcho, type Peer } from '../socket/harness.js';

describe("websocksy's config file, read", () => {
  it('is told apart from a wsbridge TOML file by its first section', () => {
    assert.equal(isWebsocksyConfig('# websocksy\n\n[core]\nport = 8001\n'), true);
    assert.equal(isWebsocksyConfig('; comment\n[backend]\npath = /x\n'), true);
    assert.equal(isWebsocksyConfig('[server]\nport = 1\n'), false);
    assert.equal(isWebsocksyConfig('[[route]]\npath = "/"\n'), false);
    assert.equal(isWebsocksyConfig('port = 1\n[core]\n'), false);
  });

  it('[core] keys become socket-mode flags, [backend] lines backend settings in order', () => {
    assert.deepEqual(
      websocksyArgs(
        'w.cfg',
        '[core]\nport = 8001\nlisten = *\nping = 10\nbackend = file\n\n[backend]\npath = /etc/ws\nexpression = %endpoint%\nexpression = default\n',
      ),
      [
        '--port=8001',
        '--addr=::',
        '--keepalive=10',
        '--backend=file',
        '--backend-config=path=/etc/ws',
        '--backend-config=expression=%endpoint%',
        '--backend-config=expression=default',
      ],
    );
    assert.deepEqual(websocksyArgs('w.cfg', '[backend]\nhost = tcp://h\nport = 5901\n'), [
      '--backend=defaultpeer',
      '--backend-config=host=tcp://h',
      '--backend-config=port=5901',
    ]);
  });

  for (const [name, source, line, problem] of [
    ['an unknown [core] key', '[core]\nport = 1\ntimeout = 3\n', 3, /unknown \[core\] key 'timeout'/],
    ['an unknown section', '[core]\n[plugins]\n', 2, /unknown section \[plugins\]/],
    ['a line without =', '[backend]\npath /x\n', 2, /expected key = value, got 'path \/x'/],
  ] as const)
    it(`refuses ${name} with its line`, () => {
      assert.throws(
        () => websocksyArgs('w.cfg', source),
        (error: unknown) =>
          error instanceof ConfigError && error.line === line && problem.test(error.problem),
      );
    });
});

describe('wsbridge --config=websocksy.cfg, bridging to real peers', () => {
  let dir: ReturnType<typeof tempDir>;
  let lines: Peer;
  let echoPeer: Peer;
  const servers: CliServer[] = [];
  before(async () => {
    dir = tempDir('wsb-websocksy-');
    lines = await lineService();
    echoPeer = await tcpEcho();
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await lines?.close();
    await echoPeer?.close();
    dir?.cleanup();
  });

  it('defaultpeer: host, port and framing from [backend]', async () => {
    const file = join(dir.path, 'default.cfg');
    writeFileSync(
      file,
      `[core]\nport = 0\nlisten = 127.0.0.1\n\n[backend]\nhost = tcp://127.0.0.1\nport = ${lines.port}\nframing = newline\nframing-config = lf\n`,
    );
    const server = await startCli([`--config=${file}`]);
    servers.push(server);
    const ws = await openWs(`ws://127.0.0.1:${server.port}/anything`);
    assert.equal((await echo(ws, 'ping\n')).data.toString(), 'you said: ping\n');
    await settle(ws);
  });

  it('file backend: the peer file named by the endpoint', async () => {
    const peers = join(dir.path, 'peers');
    mkdirSync(peers);
    writeFileSync(join(peers, 'echo'), `tcp://127.0.0.1:${echoPeer.port} * binary\n`);
    const file = join(dir.path, 'file.cfg');
    writeFileSync(
      file,
      `[core]\nport = 0\nlisten = 127.0.0.1\nbackend = file\n[backend]\npath = ${peers}\nexpression = %endpoint%\n`,
    );
    const server = await startCli([`--config=${file}`]);
    servers.push(server);
    const ws = await openWs(`ws://127.0.0.1:${server.port}/echo`);
    const back = await echo(ws, Buffer.from('raw bytes'));
    assert.equal(back.isBinary, true);
    assert.equal(back.data.toString(), 'raw bytes');
    await settle(ws);
    assert.equal((await refusedWs(`ws://127.0.0.1:${server.port}/unknown`)).status, 404);
  });

  it("websocksy's own command line, `wsbridge CONFIGFILE`, runs the file too", async () => {
    const file = join(dir.path, 'positional.cfg');
    writeFileSync(
      file,
      `[core]\nport = 0\nlisten = 127.0.0.1\n[backend]\nhost = tcp://127.0.0.1\nport = ${lines.port}\nframing = newline\nframing-config = lf\n`,
    );
    const server = await startCli([file]);
    servers.push(server);
    const ws = await openWs(`ws://127.0.0.1:${server.port}/`);
    assert.equal((await echo(ws, 'as websocksy\n')).data.toString(), 'you said: as websocksy\n');
    await settle(ws);
  });

  it('a mistake stops the command with exit status 2 and file:line', async () => {
    const file = join(dir.path, 'bad.cfg');
    writeFileSync(file, '[core]\nport = 0\nbackend = file\nlisten 127.0.0.1\n');
    const result = await runCli([`--config=${file}`]);
    assert.equal(result.code, 2);
    assert.equal(result.stderr, `wsbridge: ${file}:4: expected key = value, got 'listen 127.0.0.1'\n`);
  });
});
